// The bill checks' cursor: what it encodes comes back, and anything else is the client's error, not ours.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { AppError } from '../../core/errors.ts'
import { decodeBillCheckCursor, encodeBillCheckCursor } from './bill-check-routes.ts'

it('a bill check cursor reads back as the position it was made from; a foreign one is cursor_invalid', () => {
  const at = { billDate: '2026-11-27', channel: 'wechatpay' }
  assert.deepEqual(decodeBillCheckCursor(encodeBillCheckCursor(at)), at)
  for (const bad of ['', 'bm9wZQ', Buffer.from('2026-11-27:we chat').toString('base64url'), Buffer.from("2026-1-27:alipay").toString('base64url')]) {
    assert.throws(() => decodeBillCheckCursor(bad), (e: unknown) => e instanceof AppError && e.code === 'cursor_invalid' && e.param === 'cursor', bad)
  }
})
