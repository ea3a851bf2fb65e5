// What a payment link's order lives for, and which existing order a link describes.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Order } from '../order.ts'
import { linkDescribes, orderLifetime, type LinkOrder } from './order-for-link.ts'

describe('orderLifetime', () => {
  const now = 1_764_150_000_000
  it('lasts until the link expires', () => assert.equal(orderLifetime({ expiresAt: now / 1000 + 900 }, now), 900))
  it('is at least a minute', () => assert.equal(orderLifetime({ expiresAt: now / 1000 + 5 }, now), 60))
  it('is at most a day', () => assert.equal(orderLifetime({ expiresAt: now / 1000 + 30 * 86_400 }, now), 86_400))
  it('counts whole seconds', () => assert.equal(orderLifetime({ expiresAt: now / 1000 + 900 }, now + 400), 899))
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
