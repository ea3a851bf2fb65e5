// When a payment link's order expires, and which existing order a link describes.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Order } from '../order.ts'
import { linkDescribes, orderExpiry, type LinkOrder } from './order-for-link.ts'

describe('orderExpiry', () => {
  const now = 1_764_150_000_000
  const link = (secondsLeft: number) => ({ expiresAt: now / 1000 + secondsLeft })
  it('is when the link expires', () => assert.equal(orderExpiry(link(900), now), now + 900_000))
  it('is exactly when the link expires, not whole seconds from now', () => assert.equal(orderExpiry(link(900), now + 400), now + 900_000))
  it('is at least a minute away', () => assert.equal(orderExpiry(link(5), now + 400), now + 400 + 60_000))
  it('is at most a day away', () => assert.equal(orderExpiry(link(30 * 86_400), now + 400), now + 400 + 86_400_000))
})

describe('linkDescribes', () => {
  const link: LinkOrder = { amount: 1234, currency: 'CNY', outTradeNo: 'A-1001', subject: 'Latte', expiresAt: 1, description: null, returnUrl: null, notifyUrl: null }
  const order = { mode: 'test', amount: 1234, currency: 'CNY', subject: 'Latte', description: null, returnUrl: null, notifyUrl: null, metadata: {}, channels: ['sandbox'] } as unknown as Order

  it('matches the order the link made, whatever its lifetime', () => assert.equal(linkDescribes(order, link), true))
  it('does not match an order with other details', () => {
    assert.equal(linkDescribes({ ...order, amount: 1 }, link), false)
    assert.equal(linkDescribes({ ...order, description: 'x' }, link), false)
    assert.equal(linkDescribes({ ...order, metadata: { a: 'b' } }, link), false)
    assert.equal(linkDescribes({ ...order, mode: 'live', channels: ['wechatpay'] }, link), false)
  })
})
