// The order state machine: every allowed move, and every other move forbidden.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { canMove, channelsForMode, effectiveStatus, isFinal, type OrderStatus } from './order.ts'

const ALL: OrderStatus[] = ['pending', 'paid', 'expired', 'closed', 'partially_refunded', 'refunded']
const ALLOWED = new Set([
  'pending>paid', 'pending>expired', 'pending>closed',
  'paid>partially_refunded', 'paid>refunded',
  'partially_refunded>partially_refunded', 'partially_refunded>refunded',
])

describe('order state machine', () => {
  for (const from of ALL) {
    for (const to of ALL) {
      const allowed = ALLOWED.has(`${from}>${to}`)
      it(`${allowed ? 'allows' : 'forbids'} ${from} → ${to}`, () => assert.equal(canMove(from, to), allowed))
    }
  }

  it('knows the final states', () => {
    assert.deepEqual(ALL.filter(isFinal), ['expired', 'closed', 'refunded'])
  })

  it('treats a pending order past its deadline as expired', () => {
    assert.equal(effectiveStatus({ status: 'pending', expiresAt: 1000 }, 999), 'pending')
    assert.equal(effectiveStatus({ status: 'pending', expiresAt: 1000 }, 1000), 'expired')
    assert.equal(effectiveStatus({ status: 'paid', expiresAt: 1000 }, 5000), 'paid')
  })

  it('lets test orders use only the sandbox and live orders only real channels', () => {
    assert.deepEqual(channelsForMode('test', ['wechatpay']), ['sandbox'])
    assert.deepEqual(channelsForMode('live', undefined), ['wechatpay', 'alipay'])
    assert.deepEqual(channelsForMode('live', ['alipay', 'alipay']), ['alipay'])
  })
})
