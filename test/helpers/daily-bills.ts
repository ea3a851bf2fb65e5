// The daily bill job as the channels' end-to-end suites check it: run as if at 10:30 Beijing time the day after
// `today`, against the simulator's bill of today (paid lines) and of the days before (no payment: no bill).
import assert from 'node:assert/strict'
import { billLines, checkDailyBills, type DailyBillDeps } from '../../src/channels/daily-bills.ts'
import type { AppContext } from '../../src/context.ts'
import { NEVER } from '../../src/storage/bill-check-store.ts'

export async function assertDailyBillChecks(ctx: AppContext, channel: 'wechatpay' | 'alipay', merchantId: string, today: string, paidLines: number): Promise<void> {
  // The server's own lanes run by the real clock; this runs the checks by a clock a day ahead, by which any check
  // the server's lane holds would look abandoned. So the lanes pause meanwhile (a pass under way finishes first).
  await ctx.jobs.stop()
  try {
    await assertChecks(ctx, channel, merchantId, today, paidLines)
  } finally {
    ctx.jobs.start()
  }
}

async function assertChecks(ctx: AppContext, channel: 'wechatpay' | 'alipay', merchantId: string, today: string, paidLines: number): Promise<void> {
  let now = Date.parse(`${today}T00:00:00+08:00`) + 34.5 * 3_600_000
  const merchants = [merchantId]
  const deps: DailyBillDeps = {
    channel: (name) => ctx.channels.get(name),
    merchantsOf: async (name) => (name === channel ? merchants : []),
    checks: ctx.storage.billChecks,
    payment: (id) => ctx.storage.statement((w) => w.payments.byId(id)),
    clock: { now: () => now },
    logger: ctx.logger,
  }
  const checkOf = async (date: string, merchant = merchantId) =>
    (await ctx.storage.billChecks.list({ merchantId: merchant, limit: 100 })).find((c) => c.channel === channel && c.billDate === date)

  await checkDailyBills(deps)
  const first = await checkOf(today)
  assert.deepEqual([first?.status, first?.lines, first?.discrepancies, first?.attempts], ['matched', paidLines, 0, 1])
  // The days before had no payment, so the channel has no bill for them: checked, empty. (The server's own lane
  // may have checked them first, by the real clock: either way once.)
  const dayBefore = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10)
  const before = await checkOf(dayBefore)
  assert.deepEqual([before?.status, before?.lines], ['matched', 0])
  assert.deepEqual(await checkDailyBills(deps), { matched: 0, discrepancies: 0, failed: 0 }, 'a finished check is not run again')

  // Our record of one payment disagrees with the bill: the check says so, line by line.
  const [line] = await billLines(ctx.channels.get(channel)!, merchantId, today)
  const db = ctx.storage.database.db
  await db.updateTable('payments').set((eb) => ({ amount: eb('amount', '+', 1) })).where('id', '=', line!.outTradeNo).execute()
  try {
    await db.deleteFrom('bill_checks').where('merchant_id', '=', merchantId).where('channel', '=', channel).where('bill_date', '=', today).execute()
    assert.deepEqual(await checkDailyBills(deps), { matched: 0, discrepancies: 1, failed: 0 })
    const found = await checkOf(today)
    assert.equal(found?.status, 'discrepancies')
    assert.deepEqual(found?.details, [{ kind: 'amount_mismatch', line, ours: line!.amount + 1 }])
  } finally {
    await db.updateTable('payments').set((eb) => ({ amount: eb('amount', '-', 1) })).where('id', '=', line!.outTradeNo).execute()
  }

  // A check that fails (here: a merchant without credentials) is tried again later, not at once.
  merchants.push('mch_without_credentials')
  assert.deepEqual(await checkDailyBills(deps), { matched: 0, discrepancies: 0, failed: 3 }, 'one failure a ready day')
  const failed = await checkOf(today, 'mch_without_credentials')
  assert.equal(failed?.status, 'failed')
  assert.match(failed?.lastError ?? '', /credentials/)
  assert.equal(failed?.nextAttemptAt, now + 10 * 60_000)
  assert.deepEqual(await checkDailyBills(deps), { matched: 0, discrepancies: 0, failed: 0 }, 'not before its retry time')
  now += 11 * 60_000
  assert.deepEqual(await checkDailyBills(deps), { matched: 0, discrepancies: 0, failed: 3 })
  const again = await checkOf(today, 'mch_without_credentials')
  assert.deepEqual([again?.attempts, again?.nextAttemptAt === NEVER], [2, false])
}
