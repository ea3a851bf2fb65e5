// The daily bill job as the channels' end-to-end suites check it: run as if at 10:30 Beijing time the day after
// `today`, against the simulator's bill of today (payment and refund lines) and of the days before (none: no bill).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { newId } from '../../src/core/ids.ts'
import { billLines, checkDailyBills, reconcileBill, storedBillRecords, type DailyBillDeps } from '../../src/channels/daily-bills.ts'
import type { AppContext } from '../../src/context.ts'
import { compareBill, type BillRefundLine } from '../../src/channels/bill-reconciliation.ts'
import { shanghaiDate } from '../../src/channels/shanghai-time.ts'
import { NEVER } from '../../src/storage/bill-check-store.ts'
import { api } from './server.ts'

/** The merchant's server and keys, for its view of the checks through GET /v1/bill_checks. */
export interface BillChecksApi {
  url: string
  liveSecret: string
  testSecret: string
}

export async function assertDailyBillChecks(ctx: AppContext, http: BillChecksApi, channel: 'wechatpay' | 'alipay', merchantId: string, today: string, billLineCount: number): Promise<void> {
  // The server's own lanes run by the real clock; this runs the checks by a clock a day ahead, by which any check
  // the server's lane holds would look abandoned. So the lanes pause meanwhile (a pass under way finishes first).
  await ctx.jobs.stop()
  try {
    await assertChecks(ctx, http, channel, merchantId, today, billLineCount)
  } finally {
    ctx.jobs.start()
  }
}

async function assertChecks(ctx: AppContext, http: BillChecksApi, channel: 'wechatpay' | 'alipay', merchantId: string, today: string, billLineCount: number): Promise<void> {
  let now = Date.parse(`${today}T00:00:00+08:00`) + 34.5 * 3_600_000
  const merchants = [merchantId]
  const deps: DailyBillDeps = {
    channel: (name) => ctx.channels.get(name),
    merchantsOf: async (name) => (name === channel ? merchants : []),
    checks: ctx.storage.billChecks,
    records: storedBillRecords(ctx.storage),
    clock: { now: () => now },
    logger: ctx.logger,
  }
  const checkOf = async (date: string, merchant = merchantId) =>
    (await ctx.storage.billChecks.list({ merchantId: merchant, limit: 100 })).find((c) => c.channel === channel && c.billDate === date)

  await checkDailyBills(deps)
  const first = await checkOf(today)
  assert.deepEqual([first?.status, first?.lines, first?.discrepancies, first?.attempts], ['matched', billLineCount, 0, 1])
  // The days before had no payment, so the channel has no bill for them: checked, empty. (The server's own lane
  // may have checked them first, by the real clock: either way once.)
  const dayBefore = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10)
  const before = await checkOf(dayBefore)
  assert.deepEqual([before?.status, before?.lines], ['matched', 0])
  assert.deepEqual(await checkDailyBills(deps), { matched: 0, discrepancies: 0, failed: 0 }, 'a finished check is not run again')

  // Our record of one payment disagrees with the bill: the check says so, line by line.
  const line = (await billLines(ctx.channels.get(channel)!, merchantId, today)).find((l) => l.kind === 'payment')
  const db = ctx.storage.database.db
  await db.updateTable('payments').set((eb) => ({ amount: eb('amount', '+', 1) })).where('id', '=', line!.outTradeNo).execute()
  try {
    await db.deleteFrom('bill_checks').where('merchant_id', '=', merchantId).where('channel', '=', channel).where('bill_date', '=', today).execute()
    assert.deepEqual(await checkDailyBills(deps), { matched: 0, discrepancies: 1, failed: 0 })
    const found = await checkOf(today)
    assert.equal(found?.status, 'discrepancies')
    const { order_id: orderId } = await db.selectFrom('payments').select('order_id').where('id', '=', line!.outTradeNo).executeTakeFirstOrThrow()
    assert.deepEqual(found?.details, [{ kind: 'amount_mismatch', line, orderId, ours: line!.amount + 1 }])
    await assertBillChecksApi(http, channel, today, {
      kind: 'amount_mismatch',
      payment_id: line!.outTradeNo,
      order_id: orderId,
      channel_trade_no: line!.channelTradeNo,
      amount: line!.amount,
      refund_no: null,
      refund_id: null,
      our_amount: line!.amount + 1,
      our_channel_trade_no: null,
      our_payment_status: null,
      our_refund_status: null,
      paid_at: null,
      refund_succeeded_at: null,
      channel_status: null,
      channel_bill_date: null,
    })
  } finally {
    await db.updateTable('payments').set((eb) => ({ amount: eb('amount', '-', 1) })).where('id', '=', line!.outTradeNo).execute()
  }
  await assertPaidOrderMissingFromBill(ctx, deps, channel, merchantId, today, line!.outTradeNo)

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

/**
 * The other way round: an order we hold as paid that day through the channel, though the channel never had its
 * payment (a copy of a paid one under new ids, as a bug or a forged notification would leave), is not on the bill.
 * The check asks the channel about it and flags it, saying what the channel answered.
 */
async function assertPaidOrderMissingFromBill(ctx: AppContext, deps: DailyBillDeps, channel: 'wechatpay' | 'alipay', merchantId: string, today: string, paidPaymentId: string): Promise<void> {
  const db = ctx.storage.database.db
  const paidPayment = await db.selectFrom('payments').selectAll().where('id', '=', paidPaymentId).executeTakeFirstOrThrow()
  const paidOrder = await db.selectFrom('orders').selectAll().where('merchant_id', '=', merchantId).where('id', '=', paidPayment.order_id).executeTakeFirstOrThrow()
  const orderId = newId('ord')
  const paymentId = newId('pay')
  await db.insertInto('orders').values({ ...paidOrder, id: orderId, out_trade_no: `never-paid-${orderId}`, pay_token: randomBytes(24).toString('base64url') }).execute()
  await db.insertInto('payments').values({ ...paidPayment, id: paymentId, order_id: orderId }).execute()
  const checkOf = async () => (await ctx.storage.billChecks.list({ merchantId, limit: 100 })).find((c) => c.channel === channel && c.billDate === today)
  try {
    await db.deleteFrom('bill_checks').where('merchant_id', '=', merchantId).where('channel', '=', channel).where('bill_date', '=', today).execute()
    assert.deepEqual(await checkDailyBills(deps), { matched: 0, discrepancies: 1, failed: 0 })
    // Asked by its number, WeChat Pay has no such order (closed: nothing can be paid under it); Alipay, no trade yet.
    const channelStatus = channel === 'wechatpay' ? 'closed' : 'pending'
    const payment = { id: paymentId, orderId, amount: Number(paidPayment.amount), channelTradeNo: paidPayment.channel_trade_no, paidAt: Number(paidOrder.paid_at) }
    assert.deepEqual((await checkOf())?.details, [{ kind: 'missing_from_bill', payment, orderId, channelStatus }])
  } finally {
    await db.deleteFrom('payments').where('id', '=', paymentId).execute()
    await db.deleteFrom('orders').where('merchant_id', '=', merchantId).where('id', '=', orderId).execute()
  }
  await db.deleteFrom('bill_checks').where('merchant_id', '=', merchantId).where('channel', '=', channel).where('bill_date', '=', today).execute()
  assert.deepEqual(await checkDailyBills(deps), { matched: 1, discrepancies: 0, failed: 0 }, 'matched again without it')
}

/**
 * The merchant's own view: its three checked days of this channel newest first, page by page; another merchant's
 * checks (here a failing one) never show; a test key is refused.
 */
async function assertBillChecksApi(http: BillChecksApi, channel: string, today: string, discrepancy: Record<string, unknown>): Promise<void> {
  const all = await api(http.url, http.liveSecret, 'GET', `/v1/bill_checks?channel=${channel}`)
  assert.equal(all.status, 200)
  const days = [0, 1, 2].map((n) => new Date(Date.parse(`${today}T00:00:00Z`) - n * 86_400_000).toISOString().slice(0, 10))
  // The server's own lane, by the real clock, may also have checked the day before these (no bill: matched).
  const checked = all.body.data.map((c: any) => [c.bill_date, c.channel, c.status])
  assert.deepEqual(checked.slice(0, 3), [
    [days[0], channel, 'discrepancies'],
    [days[1], channel, 'matched'],
    [days[2], channel, 'matched'],
  ])
  assert.ok(checked.slice(3).every(([date, , status]: string[]) => date! < days[2]! && status === 'matched'), JSON.stringify(checked))
  const [newest] = all.body.data
  assert.deepEqual(newest.discrepancy_details, [discrepancy])
  assert.deepEqual([newest.object, newest.discrepancies, newest.next_attempt_at, newest.last_error], ['bill_check', 1, null, null])

  const paged: string[] = []
  let cursor: string | null = null
  do {
    const page: { status: number; body: any } = await api(http.url, http.liveSecret, 'GET', `/v1/bill_checks?channel=${channel}&limit=1${cursor ? `&cursor=${cursor}` : ''}`)
    assert.equal(page.status, 200)
    paged.push(...page.body.data.map((c: any) => c.bill_date))
    cursor = page.body.next_cursor
    assert.equal(page.body.has_more, cursor !== null)
  } while (cursor)
  assert.deepEqual(paged, checked.map((c: string[]) => c[0]))

  const flagged = await api(http.url, http.liveSecret, 'GET', `/v1/bill_checks?status=discrepancies&channel=${channel}`)
  assert.deepEqual(flagged.body.data.map((c: any) => c.bill_date), [today])
  const refused = await api(http.url, http.testSecret, 'GET', '/v1/bill_checks')
  assert.deepEqual([refused.status, refused.body.error.type, refused.body.error.code], [403, 'permission', 'live_mode_only'])
  // A status or channel a bill check cannot have is refused, naming the ones it can.
  const badStatus = await api(http.url, http.liveSecret, 'GET', '/v1/bill_checks?status=paid')
  assert.deepEqual([badStatus.status, badStatus.body.error.code, badStatus.body.error.param, badStatus.body.error.message], [400, 'parameter_invalid', 'status', 'status must be one of running, matched, discrepancies, failed'])
  const badChannel = await api(http.url, http.liveSecret, 'GET', '/v1/bill_checks?channel=sandbox')
  assert.deepEqual([badChannel.status, badChannel.body.error.param, badChannel.body.error.message], [400, 'channel', 'channel must be one of wechatpay, alipay'])
  const badCursor = await api(http.url, http.liveSecret, 'GET', '/v1/bill_checks?cursor=bm9wZQ')
  assert.deepEqual([badCursor.status, badCursor.body.error.code, badCursor.body.error.param], [400, 'cursor_invalid', 'cursor'])
}

/** A refund's line in today's bill and what the day's check says of it: nothing when it agrees with our records. */
export async function billRefundLine(ctx: AppContext, channel: 'wechatpay' | 'alipay', merchantId: string, refundNo: string) {
  const lines = (await billLines(ctx.channels.get(channel)!, merchantId, shanghaiDate(Date.now()))).filter((l): l is BillRefundLine => l.kind === 'refund' && l.refundNo === refundNo)
  return { lines, discrepancies: await compareBill(merchantId, lines, storedBillRecords(ctx.storage)) }
}

/**
 * The refund lines of the day's bill for one payment: the refund we made (`ourRefundId`, settled) matches; after
 * `refundAtConsole` (a refund made at the channel, never told to ScanPay) the bill names it, and the check flags it
 * as unknown with the order the merchant must look at.
 */
export async function assertRefundLines(ctx: AppContext, channel: 'wechatpay' | 'alipay', merchantId: string, paymentId: string, ourRefundId: string, refundAtConsole: () => void): Promise<void> {
  const today = shanghaiDate(Date.now())
  const refundLines = async () => (await billLines(ctx.channels.get(channel)!, merchantId, today)).filter((l): l is BillRefundLine => l.kind === 'refund' && l.outTradeNo === paymentId)
  const records = storedBillRecords(ctx.storage)
  const ours = await refundLines()
  assert.deepEqual(ours.map((l) => [l.refundNo, l.state]), [[ourRefundId, 'succeeded']])
  assert.deepEqual(await compareBill(merchantId, ours, records), [])

  await assertSucceededRefundMissingFromBill(ctx, channel, merchantId, today, ourRefundId)

  refundAtConsole()
  const lines = await refundLines()
  assert.equal(lines.length, 2)
  const atConsole = lines.find((l) => l.refundNo !== ourRefundId)!
  const payment = await records.payment(paymentId)
  assert.deepEqual(await compareBill(merchantId, lines, records), [{ kind: 'unknown_refund', line: atConsole, orderId: payment!.orderId }])
}

/**
 * The other way round for refunds: every refund we recorded as succeeded today is on the bill (none is flagged),
 * until one the channel never made (a copy of ours under a new id, as a bug would leave) is recorded: the check asks
 * the channel about it and flags it, saying what the channel answered.
 */
async function assertSucceededRefundMissingFromBill(ctx: AppContext, channel: 'wechatpay' | 'alipay', merchantId: string, today: string, ourRefundId: string): Promise<void> {
  const records = storedBillRecords(ctx.storage)
  const missing = async () => (await reconcileBill(ctx.channels.get(channel)!, merchantId, today, records, Date.now() + 86_400_000)).discrepancies.filter((d) => d.kind === 'refund_missing_from_bill')
  assert.deepEqual(await missing(), [], "every refund of ours today is on the day's bill")
  const db = ctx.storage.database.db
  const ours = await db.selectFrom('refunds').selectAll().where('merchant_id', '=', merchantId).where('id', '=', ourRefundId).executeTakeFirstOrThrow()
  const id = newId('rfd')
  await db.insertInto('refunds').values({ ...ours, id, out_refund_no: `never-made-${id}` }).execute()
  try {
    const [payment] = await db.selectFrom('payments').select(['id', 'channel_trade_no']).where('merchant_id', '=', merchantId).where('order_id', '=', ours.order_id).where('unexpected', '=', 0).execute()
    const refund = { id, orderId: ours.order_id, paymentId: payment!.id, channelTradeNo: payment!.channel_trade_no, amount: Number(ours.amount), createdAt: Number(ours.created_at), succeededAt: Number(ours.succeeded_at) }
    // Asked by its number, neither channel has such a refund.
    assert.deepEqual(await missing(), [{ kind: 'refund_missing_from_bill', refund, orderId: ours.order_id, channelStatus: 'failed' }])
  } finally {
    await db.deleteFrom('refunds').where('merchant_id', '=', merchantId).where('id', '=', id).execute()
  }
  // Ours, learned of as succeeded only the next day (a refund WeChat Pay takes days to pay back to a bank card): not
  // on the next day's bill, the channel dates it today, and today's bill, downloaded for it, lists it.
  const tomorrow = shanghaiDate(Date.parse(`${today}T12:00:00+08:00`) + 86_400_000)
  await db.updateTable('refunds').set({ succeeded_at: Number(ours.succeeded_at) + 86_400_000 }).where('merchant_id', '=', merchantId).where('id', '=', ourRefundId).execute()
  try {
    const nextDay = await reconcileBill(ctx.channels.get(channel)!, merchantId, tomorrow, records, Date.now() + 2 * 86_400_000)
    assert.deepEqual(nextDay.discrepancies.filter((d) => d.kind === 'refund_missing_from_bill'), [])
  } finally {
    await db.updateTable('refunds').set({ succeeded_at: ours.succeeded_at }).where('merchant_id', '=', merchantId).where('id', '=', ourRefundId).execute()
  }
}
