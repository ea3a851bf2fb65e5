// The daily bill checks' store on both databases: one node claims a check, a finished check is not claimed again,
// a failed one only from its retry time, and a stopped node's lease runs out for another to take the check.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../test/helpers/fresh-database.ts'
import { NEVER } from './bill-check-store.ts'

const t0 = Date.UTC(2026, 10, 28, 3)
const LEASE = 600_000

describeEachStorage('SqlBillCheckStore', (t) => {
  const checks = () => t.storage.billChecks

  it('of concurrent claims of one check, exactly one wins; finished, it is not claimed again', async () => {
    const claims = await Promise.all(Array.from({ length: 10 }, () => checks().claim('mch_a', 'wechatpay', '2026-11-27', t0, t0 + LEASE)))
    assert.deepEqual(claims.filter((c) => c !== null), [1])
    assert.deepEqual([...(await checks().notDue('wechatpay', '2026-11-27', t0))], ['mch_a'], 'held by its lease')
    await checks().finish('mch_a', 'wechatpay', '2026-11-27', 1, { lines: 2, discrepancies: 1, details: [{ kind: 'unknown_payment' }] }, t0 + 1)
    assert.equal(await checks().claim('mch_a', 'wechatpay', '2026-11-27', t0 + 2 * LEASE, t0 + 3 * LEASE), null)
    assert.ok((await checks().notDue('wechatpay', '2026-11-27', t0 + 2 * LEASE)).has('mch_a'))
    const [stored] = await checks().list({ merchantId: 'mch_a', limit: 10 })
    assert.deepEqual([stored!.status, stored!.lines, stored!.discrepancies, stored!.details], ['discrepancies', 2, 1, [{ kind: 'unknown_payment' }]])
    // Another channel's or day's check of the same merchant is a check of its own.
    assert.equal(await checks().claim('mch_a', 'alipay', '2026-11-27', t0, t0 + LEASE), 1)
    assert.equal(await checks().claim('mch_a', 'wechatpay', '2026-11-26', t0, t0 + LEASE), 1)
  })

  it('a failed check is claimed again from its retry time, as the next attempt; NEVER is never', async () => {
    assert.equal(await checks().claim('mch_b', 'alipay', '2026-11-27', t0, t0 + LEASE), 1)
    await checks().fail('mch_b', 'alipay', '2026-11-27', 1, 'HTTP 502', t0 + 1000, t0)
    assert.equal(await checks().claim('mch_b', 'alipay', '2026-11-27', t0 + 999, t0 + LEASE), null)
    assert.equal(await checks().claim('mch_b', 'alipay', '2026-11-27', t0 + 1000, t0 + LEASE), 2)
    await checks().fail('mch_b', 'alipay', '2026-11-27', 2, 'HTTP 502', NEVER, t0 + 1000)
    assert.equal(await checks().claim('mch_b', 'alipay', '2026-11-27', t0 + 365 * 86_400_000, t0 + LEASE), null)
    const [stored] = await checks().list({ merchantId: 'mch_b', limit: 10 })
    assert.deepEqual([stored!.status, stored!.attempts, stored!.lastError, stored!.nextAttemptAt], ['failed', 2, 'HTTP 502', NEVER])
  })

  it('a stopped node\'s check is taken over when its lease ends, and its late outcome is not written', async () => {
    assert.equal(await checks().claim('mch_c', 'wechatpay', '2026-11-27', t0, t0 + LEASE), 1)
    assert.equal(await checks().claim('mch_c', 'wechatpay', '2026-11-27', t0 + LEASE - 1, t0 + 2 * LEASE), null)
    assert.equal(await checks().claim('mch_c', 'wechatpay', '2026-11-27', t0 + LEASE, t0 + 2 * LEASE), 2)
    await checks().finish('mch_c', 'wechatpay', '2026-11-27', 1, { lines: 9, discrepancies: 0, details: [] }, t0 + LEASE + 1)
    const [running] = await checks().list({ merchantId: 'mch_c', limit: 10 })
    assert.deepEqual([running!.status, running!.lines], ['running', null])
    await checks().finish('mch_c', 'wechatpay', '2026-11-27', 2, { lines: 3, discrepancies: 0, details: [] }, t0 + LEASE + 2)
    const [done] = await checks().list({ merchantId: 'mch_c', limit: 10 })
    assert.deepEqual([done!.status, done!.lines], ['matched', 3])
  })
})
