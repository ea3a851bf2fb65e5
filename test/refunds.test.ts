// Refunds over real HTTP, on SQLite and PostgreSQL: shape, idempotency, refusals, concurrency, events, and
// the channel's failed and unknown outcomes (through the use cases with a scripted channel).
import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { ChannelError, type ChannelRefundState, type PaymentChannel } from '../src/core/payment-channel.ts'
import type { Order } from '../src/core/order.ts'
import { createRefund } from '../src/core/use-cases/create-refund.ts'
import { reconcilePendingRefunds } from '../src/core/use-cases/reconcile-refunds.ts'
import type { RefundDeps } from '../src/core/use-cases/refund-deps.ts'
import { completeRefund } from '../src/core/use-cases/settle-refund.ts'
import { SandboxChannel } from '../src/channels/sandbox/sandbox-channel.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api, ORDER, type TestServer } from './helpers/server.ts'
import { assertUnchanged, snapshot } from './helpers/snapshot.ts'
import { eventually, WebhookReceiver } from './helpers/webhook-receiver.ts'

const REFUND_KEYS = ['id', 'object', 'order_id', 'amount', 'currency', 'status', 'out_refund_no', 'reason', 'failure_reason', 'created_at', 'succeeded_at']

async function paidOrder(ts: TestServer, outTradeNo: string, amount = 1000, extra: Record<string, unknown> = {}) {
  const sk = ts.merchant.test.secret
  const o = await api(ts.url, sk, 'POST', '/v1/orders', { ...ORDER, out_trade_no: outTradeNo, amount, ...extra })
  assert.equal(o.status, 201)
  const paid = await api(ts.url, sk, 'POST', `/v1/test_helpers/orders/${o.body.id}/pay`)
  assert.equal(paid.status, 200)
  return paid.body
}

async function refundRows(ts: TestServer) {
  return ts.server.ctx.storage.database.db.selectFrom('refunds').selectAll().orderBy('id').execute()
}

async function reserved(ts: TestServer, orderId: string): Promise<number> {
  const row = await ts.server.ctx.storage.database.db
    .selectFrom('orders')
    .select('amount_refund_reserved')
    .where('id', '=', orderId)
    .executeTakeFirstOrThrow()
  return Number(row.amount_refund_reserved)
}

/** A channel whose refund and queryRefund answers a test scripts. */
class ScriptedChannel extends SandboxChannel {
  refundAnswer: () => Promise<ChannelRefundState> = async () => ({ status: 'pending' })
  queryAnswer: () => Promise<ChannelRefundState> = async () => ({ status: 'pending' })
  refundCalls = 0
  queryCalls = 0
  override async refund(): Promise<ChannelRefundState> {
    this.refundCalls++
    return this.refundAnswer()
  }
  override async queryRefund(): Promise<ChannelRefundState> {
    this.queryCalls++
    return this.queryAnswer()
  }
}

function withChannel(ts: TestServer, channel: PaymentChannel): RefundDeps {
  return { ...ts.server.ctx.refundDeps, channel: () => channel }
}

async function orderRecord(ts: TestServer, id: string): Promise<Order> {
  const key = ts.merchant.test
  const order = await ts.server.ctx.storage.orders.byId(ts.merchant.merchant_id, 'test', id)
  assert.ok(order, `order ${id} for ${key.key_id}`)
  return order
}

describeEachDatabase('refunds', (t) => {
  const url = () => t.server.url
  const sk = () => t.server.merchant.test.secret
  const receiver = new WebhookReceiver()
  before(() => receiver.start())
  after(() => receiver.stop())

  it('refunds part then the rest: shapes, order status and amount_refunded, events with the order', async () => {
    const o = await paidOrder(t.server, 'rf-flow', 1000, { notify_url: receiver.url })
    const first = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 300, out_refund_no: 'RF-1', reason: 'one cup spilt' })
    assert.equal(first.status, 201, JSON.stringify(first.body))
    const r = first.body
    assert.deepEqual(Object.keys(r).sort(), [...REFUND_KEYS].sort())
    assert.match(r.id, /^rfd_[0-9a-z]{26}$/)
    assert.equal(r.object, 'refund')
    assert.equal(r.order_id, o.id)
    assert.equal(r.amount, 300)
    assert.equal(r.currency, 'CNY')
    assert.equal(r.status, 'succeeded', 'the sandbox refunds at once')
    assert.equal(r.out_refund_no, 'RF-1')
    assert.equal(r.reason, 'one cup spilt')
    assert.equal(r.failure_reason, null)
    assert.ok(Date.parse(r.succeeded_at) >= Date.parse(r.created_at))

    let order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.equal(order.status, 'partially_refunded')
    assert.equal(order.amount_refunded, 300)

    const rest = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 700, out_refund_no: 'RF-2' })
    assert.equal(rest.status, 201)
    assert.equal(rest.body.reason, null)
    order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.equal(order.status, 'refunded')
    assert.equal(order.amount_refunded, 1000)

    const got = await api(url(), sk(), 'GET', `/v1/refunds/${r.id}`)
    assert.equal(got.status, 200)
    assert.deepEqual(got.body, r)
    const list = await api(url(), sk(), 'GET', `/v1/orders/${o.id}/refunds`)
    assert.equal(list.body.object, 'list')
    assert.deepEqual(list.body.data.map((x: any) => x.id), [rest.body.id, r.id], 'newest first')
    assert.equal(list.body.has_more, false)
    assert.equal(list.body.next_cursor, null)
    const page1 = await api(url(), sk(), 'GET', `/v1/orders/${o.id}/refunds?limit=1`)
    assert.equal(page1.body.has_more, true)
    assert.deepEqual(page1.body.data.map((x: any) => x.id), [rest.body.id])
    const page2 = await api(url(), sk(), 'GET', `/v1/orders/${o.id}/refunds?limit=1&cursor=${page1.body.next_cursor}`)
    assert.deepEqual(page2.body.data.map((x: any) => x.id), [r.id])
    assert.equal(page2.body.has_more, false)

    const events = (await api(url(), sk(), 'GET', `/v1/events?order_id=${o.id}`)).body.data
    assert.deepEqual(events.map((e: any) => e.type), ['refund.succeeded', 'refund.succeeded', 'order.paid'])
    const firstEvent = events[1] // the older refund event
    // data is the order object, as the contract says of every event, as it stood right after; the refund beside it.
    const { refund: refundThen, ...orderThen } = firstEvent.data
    assert.deepEqual(refundThen, r, 'the refund object as GET shows it')
    assert.equal(orderThen.object, 'order')
    assert.equal(orderThen.id, o.id)
    assert.equal(orderThen.status, 'partially_refunded')
    assert.equal(orderThen.amount_refunded, 300)
    const orderNow = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.deepEqual(Object.keys(orderThen).sort(), Object.keys(orderNow).sort(), 'the order object, every field')
    assert.deepEqual(events[0].data, { ...orderNow, refund: rest.body }, 'the newer event: the order as it stands now, and its refund')

    // Delivered as Standard Webhooks, so its libraries verify them.
    const hooks = await eventually(async () => {
      const mine = receiver.received.filter((w) => JSON.parse(w.body).type === 'refund.succeeded' && JSON.parse(w.body).data.id === o.id)
      return mine.length === 2 ? mine : null
    })
    const wh = new Webhook(t.server.merchant.webhook_secret)
    for (const hook of hooks) {
      const body = wh.verify(hook.body, hook.headers as Record<string, string>) as any
      assert.deepEqual([body.data.object, body.data.refund.object], ['order', 'refund'])
    }
  })

  it('is idempotent on out_refund_no: same parameters 200 with the same refund, different ones 409', async () => {
    const o = await paidOrder(t.server, 'rf-idem', 1000)
    const first = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 1000, out_refund_no: 'RI-1', reason: 'returned' })
    assert.equal(first.status, 201)
    const again = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { reason: 'returned', out_refund_no: 'RI-1', amount: 1000 })
    assert.equal(again.status, 200, 'a retry after the order became fully refunded still answers with its refund')
    assert.deepEqual(again.body, first.body)

    const rows = await refundRows(t.server)
    for (const body of [
      { amount: 999, out_refund_no: 'RI-1', reason: 'returned' },
      { amount: 1000, out_refund_no: 'RI-1' },
      { amount: 1000, out_refund_no: 'RI-1', reason: 'other' },
    ]) {
      const res = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, body)
      assert.equal(res.status, 409, JSON.stringify(body))
      assert.equal(res.body.error.code, 'out_refund_no_conflict')
      assert.equal(res.body.error.param, 'out_refund_no')
    }
    const other = await paidOrder(t.server, 'rf-idem-2', 1000)
    const elsewhere = await api(url(), sk(), 'POST', `/v1/orders/${other.id}/refunds`, { amount: 1000, out_refund_no: 'RI-1', reason: 'returned' })
    assert.equal(elsewhere.status, 409, 'out_refund_no is unique per merchant and mode, not per order')
    assert.equal(elsewhere.body.error.code, 'out_refund_no_conflict')
    assert.deepEqual(await refundRows(t.server), rows)

    // Another merchant may use the same number.
    const m = await t.server.newMerchant('Other Refunder')
    const mo = await api(url(), m.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'rf-idem' })
    await api(url(), m.test.secret, 'POST', `/v1/test_helpers/orders/${mo.body.id}/pay`)
    assert.equal((await api(url(), m.test.secret, 'POST', `/v1/orders/${mo.body.id}/refunds`, { amount: 1, out_refund_no: 'RI-1' })).status, 201)
  })

  it('replays a whole response with Idempotency-Key', async () => {
    const o = await paidOrder(t.server, 'rf-key', 500)
    const headers = { 'idempotency-key': 'refund-key-1' }
    const first = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 100, out_refund_no: 'RK-1' }, headers)
    const again = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 100, out_refund_no: 'RK-1' }, headers)
    assert.equal(first.status, 201)
    assert.equal(again.status, 201)
    assert.deepEqual(again.body, first.body)
    const reused = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 200, out_refund_no: 'RK-2' }, headers)
    assert.equal(reused.status, 409)
    assert.equal(reused.body.error.code, 'idempotency_key_reused')
  })

  it('refuses orders that are not paid, and refunds above what remains, changing nothing', async () => {
    const pending = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'rf-pending' })).body
    const closed = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'rf-closed' })).body
    await api(url(), sk(), 'POST', `/v1/orders/${closed.id}/close`)
    const o = await paidOrder(t.server, 'rf-exceed', 1000)
    assert.equal((await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 600, out_refund_no: 'RX-0' })).status, 201)

    const before = await snapshot(t.server)
    const rows = await refundRows(t.server)
    for (const id of [pending.id, closed.id]) {
      const res = await api(url(), sk(), 'POST', `/v1/orders/${id}/refunds`, { amount: 1, out_refund_no: `RX-${id}` })
      assert.equal(res.status, 409)
      assert.equal(res.body.error.type, 'conflict')
      assert.equal(res.body.error.code, 'order_not_refundable')
    }
    const over = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 401, out_refund_no: 'RX-1' })
    assert.equal(over.status, 409)
    assert.equal(over.body.error.code, 'refund_exceeds_payment')
    assert.equal(over.body.error.param, 'amount')
    assert.match(over.body.error.message, /¥4\.01.*¥10\.00/)

    const bad: [unknown, number, string, string?][] = [
      [{ amount: 0, out_refund_no: 'RX-2' }, 400, 'amount_invalid', 'amount'],
      [{ amount: 1.5, out_refund_no: 'RX-2' }, 400, 'amount_invalid', 'amount'],
      [{ amount: '100', out_refund_no: 'RX-2' }, 400, 'amount_invalid', 'amount'],
      [{ amount: 100, out_refund_no: 'has space' }, 400, 'parameter_invalid', 'out_refund_no'],
      [{ amount: 100, out_refund_no: 'x'.repeat(65) }, 400, 'parameter_invalid', 'out_refund_no'],
      [{ amount: 100, out_refund_no: 'RX-2', reason: 'r'.repeat(257) }, 400, 'parameter_invalid', 'reason'],
      [{ amount: 100, out_refund_no: 'RX-3', reason: 'abc\u202Egnp.exe' }, 400, 'parameter_invalid', 'reason'],
      [{ amount: 100, out_refund_no: 'RX-4', reason: 'a\u0001b' }, 400, 'parameter_invalid', 'reason'],
      [{ amount: 100, out_refund_no: 'RX-2', currency: 'CNY' }, 400, 'parameter_unknown', 'currency'],
      [{ out_refund_no: 'RX-2' }, 400, 'parameter_missing', 'amount'],
      [{ amount: 100 }, 400, 'parameter_missing', 'out_refund_no'],
    ]
    for (const [body, status, code, param] of bad) {
      const res = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, body)
      assert.equal(res.status, status, JSON.stringify(body))
      assert.equal(res.body.error.code, code, JSON.stringify(body))
      assert.equal(res.body.error.param, param, JSON.stringify(body))
    }
    const missing = await api(url(), sk(), 'POST', '/v1/orders/ord_nope/refunds', { amount: 1, out_refund_no: 'RX-3' })
    assert.equal(missing.status, 404)
    await assertUnchanged(t.server, before)
    assert.deepEqual(await refundRows(t.server), rows)
    assert.equal(await reserved(t.server, o.id), 600)

    // Exactly what remains is still fine.
    assert.equal((await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 400, out_refund_no: 'RX-4' })).status, 201)
  })

  it('keeps merchants and modes apart', async () => {
    const o = await paidOrder(t.server, 'rf-private', 100)
    const r = (await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 100, out_refund_no: 'RP-1' })).body
    const m = await t.server.newMerchant('Snoop')
    for (const secret of [m.test.secret, t.server.merchant.live.secret]) {
      assert.equal((await api(url(), secret, 'GET', `/v1/refunds/${r.id}`)).status, 404)
      assert.equal((await api(url(), secret, 'GET', `/v1/orders/${o.id}/refunds`)).status, 404)
      assert.equal((await api(url(), secret, 'POST', `/v1/orders/${o.id}/refunds`, { amount: 1, out_refund_no: 'RP-2' })).status, 404)
    }
    assert.equal((await api(url(), sk(), 'GET', '/v1/refunds/rfd_nope')).status, 404)
    assert.equal((await api(url(), sk(), 'GET', `/v1/orders/${o.id}/refunds`, undefined, { authorization: '' })).status, 401)
  })

  it('20 concurrent refunds of one order never exceed what was paid', async () => {
    const o = await paidOrder(t.server, 'rf-race', 1000)
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 150, out_refund_no: `RR-${i}` })),
    )
    const created = results.filter((r) => r.status === 201)
    assert.equal(created.length, 6, JSON.stringify(results.map((r) => r.status)))
    assert.ok(created.every((r) => r.body.status === 'succeeded'))
    const refused = results.filter((r) => r.status !== 201)
    assert.ok(refused.every((r) => r.status === 409 && r.body.error.code === 'refund_exceeds_payment'), JSON.stringify(refused.map((r) => r.body)))
    const order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.equal(order.amount_refunded, 900)
    assert.equal(order.status, 'partially_refunded')
    assert.equal(await reserved(t.server, o.id), 900)
    const listed = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}/refunds?limit=100`)).body.data
    assert.equal(listed.length, 6)
    const events = (await api(url(), sk(), 'GET', `/v1/events?order_id=${o.id}&limit=100`)).body.data
    assert.equal(events.filter((e: any) => e.type === 'refund.succeeded').length, 6)
    const amounts = events.filter((e: any) => e.type === 'refund.succeeded').map((e: any) => e.data.amount_refunded).sort((a: number, b: number) => a - b)
    assert.deepEqual(amounts, [150, 300, 450, 600, 750, 900], 'each event carries the order as its own success left it')

    // 20 at once with exact amounts that fill the order: all of them fit, none more.
    const exact = await paidOrder(t.server, 'rf-race-exact', 2000)
    const fills = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api(url(), sk(), 'POST', `/v1/orders/${exact.id}/refunds`, { amount: 100, out_refund_no: `RE-${i}` })),
    )
    assert.ok(fills.every((r) => r.status === 201), JSON.stringify(fills.map((r) => r.status)))
    const full = (await api(url(), sk(), 'GET', `/v1/orders/${exact.id}`)).body
    assert.equal(full.status, 'refunded')
    assert.equal(full.amount_refunded, 2000)
    const late = await api(url(), sk(), 'POST', `/v1/orders/${exact.id}/refunds`, { amount: 1, out_refund_no: 'RE-late' })
    assert.equal(late.body.error.code, 'order_not_refundable')
  })

  it('20 concurrent twins of one refund create it once', async () => {
    const o = await paidOrder(t.server, 'rf-twins', 1000)
    const results = await Promise.all(
      Array.from({ length: 20 }, () => api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 250, out_refund_no: 'RT-1' })),
    )
    assert.equal(results.filter((r) => r.status === 201).length, 1, JSON.stringify(results.map((r) => r.status)))
    assert.ok(results.every((r) => r.status === 201 || r.status === 200))
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1)
    const order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.equal(order.amount_refunded, 250)
    assert.equal(await reserved(t.server, o.id), 250)
  })

  it('a refund the channel fails releases its reservation and reports refund.failed', async () => {
    const o = await paidOrder(t.server, 'rf-fail', 1000)
    const channel = new ScriptedChannel()
    channel.refundAnswer = async () => ({ status: 'failed', reason: 'the customer account is closed' })
    const deps = withChannel(t.server, channel)
    const { refund, created } = await createRefund(deps, t.server.merchant.merchant_id, 'test', await orderRecord(t.server, o.id), {
      amount: 1000, outRefundNo: 'RFF-1', reason: null,
    })
    assert.ok(created)
    assert.equal(refund.status, 'failed')
    assert.equal(refund.failureReason, 'the customer account is closed')
    const shown = (await api(url(), sk(), 'GET', `/v1/refunds/${refund.id}`)).body
    assert.equal(shown.status, 'failed')
    assert.equal(shown.failure_reason, 'the customer account is closed')
    assert.equal(shown.succeeded_at, null)
    const order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.equal(order.status, 'paid')
    assert.equal(order.amount_refunded, 0)
    assert.equal(await reserved(t.server, o.id), 0)
    const events = (await api(url(), sk(), 'GET', `/v1/events?order_id=${o.id}`)).body.data
    assert.deepEqual(events.map((e: any) => e.type), ['refund.failed', 'order.paid'])
    assert.deepEqual([events[0].data.id, events[0].data.status], [o.id, 'paid'], 'the order, its money back to refund')
    assert.deepEqual([events[0].data.refund.id, events[0].data.refund.status], [refund.id, 'failed'])

    // A ChannelError saying the channel did not act fails the refund too.
    channel.refundAnswer = async () => {
      throw new ChannelError('insufficient merchant balance', false, false)
    }
    const second = await createRefund(deps, t.server.merchant.merchant_id, 'test', await orderRecord(t.server, o.id), {
      amount: 1000, outRefundNo: 'RFF-2', reason: null,
    })
    assert.equal(second.refund.status, 'failed')
    assert.match(second.refund.failureReason ?? '', /insufficient merchant balance/)
    assert.equal(await reserved(t.server, o.id), 0)

    // The money is free again: the full amount can be refunded through the API.
    const again = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 1000, out_refund_no: 'RFF-3' })
    assert.equal(again.status, 201)
    assert.equal(again.body.status, 'succeeded')
  })

  it('an unknown outcome stays pending and reserved until queryRefund settles it, once', async (tc) => {
    // This test is the only refund sweeper: the server's own job would otherwise claim the checks it stages.
    const jobs = t.server.server.ctx.jobs
    await jobs.stop()
    tc.after(() => jobs.start())
    const o = await paidOrder(t.server, 'rf-unknown', 1000, { notify_url: receiver.url })
    const channel = new ScriptedChannel()
    channel.refundAnswer = async () => {
      throw new ChannelError('connection reset after sending', true, true)
    }
    const deps = withChannel(t.server, channel)
    const { refund } = await createRefund(deps, t.server.merchant.merchant_id, 'test', await orderRecord(t.server, o.id), {
      amount: 700, outRefundNo: 'RU-1', reason: 'late delivery',
    })
    assert.equal(refund.status, 'pending')
    assert.equal((await api(url(), sk(), 'GET', `/v1/refunds/${refund.id}`)).body.status, 'pending')
    assert.equal(await reserved(t.server, o.id), 700)
    const over = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 301, out_refund_no: 'RU-2' })
    assert.equal(over.body.error.code, 'refund_exceeds_payment', 'a pending refund holds its amount')
    let order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.equal(order.status, 'paid')
    assert.equal(order.amount_refunded, 0)

    // Not yet due: the job leaves it alone.
    assert.equal(await reconcilePendingRefunds(deps), 0)
    assert.equal(channel.queryCalls, 0)
    const db = t.server.server.ctx.storage.database.db
    await db.updateTable('refunds').set({ next_check_at: 0 }).where('id', '=', refund.id).execute()
    channel.queryAnswer = async () => ({ status: 'pending' })
    assert.equal(await reconcilePendingRefunds(deps), 0)
    assert.equal(channel.queryCalls, 1)
    const afterCheck = await db.selectFrom('refunds').select(['next_check_at', 'check_count', 'status']).where('id', '=', refund.id).executeTakeFirstOrThrow()
    assert.equal(afterCheck.status, 'pending')
    assert.equal(Number(afterCheck.check_count), 1)
    assert.ok(Number(afterCheck.next_check_at) > Date.now(), 'the next question is scheduled later')

    await db.updateTable('refunds').set({ next_check_at: 0 }).where('id', '=', refund.id).execute()
    channel.queryAnswer = async () => ({ status: 'succeeded', channelRefundNo: 'CH-RU-1' })
    // Two nodes sweeping at once: the check is claimed by one, the success applied once.
    const settled = await Promise.all([reconcilePendingRefunds(deps), reconcilePendingRefunds(deps)])
    assert.equal(settled[0] + settled[1], 1)
    assert.equal(channel.queryCalls, 2)
    order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.equal(order.status, 'partially_refunded')
    assert.equal(order.amount_refunded, 700)
    const shown = (await api(url(), sk(), 'GET', `/v1/refunds/${refund.id}`)).body
    assert.equal(shown.status, 'succeeded')
    // Applying the same success again changes nothing.
    const twice = await completeRefund(deps, refund, 'CH-RU-1')
    assert.equal(twice.status, 'succeeded')
    order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.equal(order.amount_refunded, 700)
    const events = (await api(url(), sk(), 'GET', `/v1/events?order_id=${o.id}`)).body.data
    assert.deepEqual(events.map((e: any) => e.type), ['refund.succeeded', 'order.paid'])
  })

  it('a refund the channel has no record of is sent again, the same number, not failed (its amount stays held)', async (tc) => {
    const jobs = t.server.server.ctx.jobs
    await jobs.stop()
    tc.after(() => jobs.start())
    const o = await paidOrder(t.server, 'rf-notfound', 1000)
    const channel = new ScriptedChannel()
    const sent: string[] = []
    channel.refundAnswer = async () => {
      throw new ChannelError('timed out before sending', true, true)
    }
    const deps = withChannel(t.server, channel)
    const { refund } = await createRefund(deps, t.server.merchant.merchant_id, 'test', await orderRecord(t.server, o.id), { amount: 400, outRefundNo: 'RNF-1', reason: null })
    assert.equal(refund.status, 'pending')
    const db = t.server.server.ctx.storage.database.db
    await db.updateTable('refunds').set({ next_check_at: 0 }).where('id', '=', refund.id).execute()
    channel.queryAnswer = async () => ({ status: 'failed', reason: 'no such refund', notFound: true })
    channel.refundAnswer = async () => (sent.push(refund.id), { status: 'succeeded', channelRefundNo: 'CH-RNF-1' })
    assert.equal(await reconcilePendingRefunds(deps), 1)
    assert.deepEqual(sent, [refund.id], 'sent again under its own number')
    assert.equal((await api(url(), sk(), 'GET', `/v1/refunds/${refund.id}`)).body.status, 'succeeded')
    assert.equal((await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body.amount_refunded, 400)

    // Sent again and refused outright (the balance short, say): failed and its amount free, as on a first sending.
    channel.refundAnswer = async () => {
      throw new ChannelError('timed out before sending', true, true)
    }
    const { refund: other } = await createRefund(deps, t.server.merchant.merchant_id, 'test', await orderRecord(t.server, o.id), { amount: 300, outRefundNo: 'RNF-2', reason: null })
    assert.equal(other.status, 'pending')
    channel.refundAnswer = async () => {
      throw new ChannelError('WeChat Pay refund failed: NOT_ENOUGH', false, false)
    }
    await db.updateTable('refunds').set({ next_check_at: 0 }).where('id', '=', other.id).execute()
    assert.equal(await reconcilePendingRefunds(deps), 1)
    const refused = (await api(url(), sk(), 'GET', `/v1/refunds/${other.id}`)).body
    assert.deepEqual([refused.status, refused.failure_reason], ['failed', 'WeChat Pay refund failed: NOT_ENOUGH'])
    assert.equal(await reserved(t.server, o.id), 400, 'only the refund that succeeded holds its amount')

    // But one the channel holds a record of without having made it (Alipay without refund_status): the copy's
    // refusal may only say the first is at work, so it stays pending, its amount held, and is asked about again.
    channel.refundAnswer = async () => {
      throw new ChannelError('timed out before sending', true, true)
    }
    const { refund: held } = await createRefund(deps, t.server.merchant.merchant_id, 'test', await orderRecord(t.server, o.id), { amount: 200, outRefundNo: 'RNF-3', reason: null })
    channel.queryAnswer = async () => ({ status: 'failed', reason: 'Alipay has not made this refund (no refund_status)', notFound: true, recorded: true })
    channel.refundAnswer = async () => {
      throw new ChannelError('Alipay refund failed: ACQ.TRADE_STATUS_ERROR', false, false)
    }
    await db.updateTable('refunds').set({ next_check_at: 0 }).where('id', '=', held.id).execute()
    assert.equal(await reconcilePendingRefunds(deps), 0)
    assert.equal((await api(url(), sk(), 'GET', `/v1/refunds/${held.id}`)).body.status, 'pending')
    assert.equal(await reserved(t.server, o.id), 600, 'its amount stays held')
    const row = await db.selectFrom('refunds').select('next_check_at').where('id', '=', held.id).executeTakeFirstOrThrow()
    assert.ok(Number(row.next_check_at) > Date.now(), 'asked about again later')
  })

  it('a channel answer the database fails to record leaves the refund pending, answered as such, and settled later once', async (tc) => {
    const jobs = t.server.server.ctx.jobs
    await jobs.stop()
    tc.after(() => jobs.start())
    const o = await paidOrder(t.server, 'rf-lost-answer', 1000)
    const channel = new ScriptedChannel()
    channel.refundAnswer = async () => ({ status: 'succeeded', channelRefundNo: 'CH-LOST-1' })
    const base = withChannel(t.server, channel)
    // The refund and its reservation are written; then the connection is cut before the channel's word is.
    let units = 0
    const failed: string[] = []
    const tx = new Proxy(base.tx, {
      get: (target, name) =>
        name === 'applyChanges'
          ? (changes: Parameters<typeof target.applyChanges>[0]) => (++units === 1 ? target.applyChanges(changes) : Promise.reject(new Error('terminating connection due to administrator command')))
          : typeof Reflect.get(target, name) === 'function'
            ? (Reflect.get(target, name) as (...a: unknown[]) => unknown).bind(target)
            : Reflect.get(target, name),
    })
    const deps: RefundDeps = { ...base, tx, onSettleFailed: (refund) => void failed.push(refund.id) }
    const { refund, created } = await createRefund(deps, t.server.merchant.merchant_id, 'test', await orderRecord(t.server, o.id), { amount: 300, outRefundNo: 'RL-1', reason: null })
    // Not an error that reads as nothing done: a merchant retrying with another out_refund_no would refund twice.
    assert.deepEqual([created, refund.status, failed], [true, 'pending', [refund.id]])
    assert.equal(await reserved(t.server, o.id), 300)
    const over = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/refunds`, { amount: 701, out_refund_no: 'RL-2' })
    assert.equal(over.body.error.code, 'refund_exceeds_payment', 'the pending refund holds its amount')
    await t.server.server.ctx.storage.database.db.updateTable('refunds').set({ next_check_at: 0 }).where('id', '=', refund.id).execute()
    channel.queryAnswer = async () => ({ status: 'succeeded', channelRefundNo: 'CH-LOST-1' })
    assert.equal(await reconcilePendingRefunds(base), 1)
    const order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.deepEqual([order.status, order.amount_refunded], ['partially_refunded', 300])
    assert.equal(channel.refundCalls, 1)
  })

  it("the platform's own background job settles a pending sandbox refund", async () => {
    const o = await paidOrder(t.server, 'rf-job', 800)
    const channel = new ScriptedChannel()
    channel.refundAnswer = async () => {
      throw new Error('socket hang up')
    }
    const { refund } = await createRefund(withChannel(t.server, channel), t.server.merchant.merchant_id, 'test', await orderRecord(t.server, o.id), {
      amount: 800, outRefundNo: 'RJ-1', reason: null,
    })
    assert.equal(refund.status, 'pending', 'an unexpected error is an unknown outcome')
    const db = t.server.server.ctx.storage.database.db
    await db.updateTable('refunds').set({ next_check_at: 0 }).where('id', '=', refund.id).execute()
    // The running server's jobs use the real sandbox, whose queryRefund reports the refund done.
    const shown = await eventually(async () => {
      const r = (await api(url(), sk(), 'GET', `/v1/refunds/${refund.id}`)).body
      return r.status === 'succeeded' ? r : null
    }, 10_000, 'the job to settle the refund')
    assert.ok(shown.succeeded_at)
    const order = (await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body
    assert.equal(order.status, 'refunded')
    assert.equal(order.amount_refunded, 800)
  })
})
