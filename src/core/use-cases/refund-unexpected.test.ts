// An unexpected payment's automatic refund, on both databases: the payment moves once, and the operator is told
// how it ended (refunded, or refused by the channel, which leaves the money to be given back by hand).
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../../test/helpers/fresh-database.ts'
import { anOrder } from '../../../test/helpers/orders.ts'
import { newId } from '../ids.ts'
import type { Order } from '../order.ts'
import { ChannelError, type ChannelPaymentState, type ChannelRefundState, type PaymentChannel } from '../payment-channel.ts'
import type { Payment, Transactor } from '../ports.ts'
import { applyChannelPaymentState, REFUND_WAIT_MS, refundUnexpected } from './apply-channel-payment-state.ts'
import { eventually } from '../../../test/helpers/webhook-receiver.ts'
import type { ChannelPaymentDeps } from './channel-payment-deps.ts'
import { reconcileChannelPayments } from './reconcile-channel-payments.ts'
import { recordUnexpectedRefundByHand, retryUnexpectedRefund } from './unexpected-refunds.ts'

describeEachStorage('refunding an unexpected payment', (t) => {
  const ended: [string, string, string | null][] = []
  const deps = (): ChannelPaymentDeps => ({
    tx: t.storage,
    clock: { now: () => Date.now() },
    present: (order) => ({ status: order.status }),
    listener: { orderChanged: () => {}, eventsWritten: () => {} },
    payTokens: { issue: () => 'unused' },
    channel: () => undefined,
    notifyUrl: () => 'https://pay.example/notify',
    unexpectedRefundEnded: (outcome, payment, _order, reason) => void ended.push([outcome, payment.id, reason]),
  })
  const stored = async (id: string) => (await t.storage.statement((w) => w.payments.byId(id)))!
  const channelAnswering = (answer: () => Promise<ChannelRefundState>) => ({ refund: answer }) as unknown as PaymentChannel

  const unexpected = async (outTradeNo: string): Promise<{ order: Order; payment: Payment }> => {
    const order = anOrder(outTradeNo, { mode: 'live', status: 'closed' })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    const now = Date.now()
    const payment: Payment = {
      id: newId('pay', now), merchantId: order.merchantId, orderId: order.id, channel: 'wechatpay', status: 'refund_requested',
      amount: order.amount, currency: order.currency, channelTradeNo: `4200${now}`, unexpected: true, createdAt: now, updatedAt: now, nextCheckAt: now,
    }
    await t.storage.statement((w) => w.payments.insert(payment))
    return { order, payment }
  }

  it('refunded: the payment is refunded and the operator told once, though a notification and the reconciler both ask', async () => {
    const { order, payment } = await unexpected('ux-1')
    const channel = channelAnswering(async () => ({ status: 'succeeded', channelRefundNo: 'r1' }))
    ended.length = 0
    assert.equal(await refundUnexpected(deps(), channel, payment, order), 'refunded')
    assert.equal(await refundUnexpected(deps(), channel, payment, order), 'refunded')
    assert.equal((await stored(payment.id)).status, 'refunded')
    assert.deepEqual(ended, [['refunded', payment.id, null]])
  })

  it('refused by the channel, by its answer or by a definite error: no next check, and the operator told why', async () => {
    for (const [n, answer] of [
      [2, async (): Promise<ChannelRefundState> => ({ status: 'failed', reason: 'the trade has no balance left to refund' })],
      [3, async (): Promise<ChannelRefundState> => { throw new ChannelError('WeChat Pay refund failed: NOT_ENOUGH: 基本账户余额不足', false, false) }],
    ] as const) {
      const { order, payment } = await unexpected(`ux-${n}`)
      ended.length = 0
      assert.equal(await refundUnexpected(deps(), channelAnswering(answer), payment, order), 'flagged')
      const after = await stored(payment.id)
      assert.deepEqual([after.status, after.nextCheckAt], ['refund_requested', null])
      assert.equal(ended.length, 1)
      assert.deepEqual(ended[0]!.slice(0, 2), ['refused', payment.id])
      assert.match(ended[0]![2]!, /no balance left|NOT_ENOUGH/)
      // Kept on the payment for the person who must act.
      assert.equal(after.refundRefusedReason, ended[0]![2])
    }
  })

  it('the reason of a refusal is kept whole up to 500 characters; a longer one (an error page, say) is cut', async () => {
    const { order, payment } = await unexpected('ux-long')
    // Lines and control characters become spaces (an operator's list prints one payment a line), and the cut
    // falls between characters, never inside one (𠀀 is two UTF-16 units).
    const page = `<html>\r\n<body>\u0007${'𠀀'.repeat(2_000)}</body></html>`
    assert.equal(await refundUnexpected(deps(), channelAnswering(async () => ({ status: 'failed', reason: page })), payment, order), 'flagged')
    const kept = (await stored(payment.id)).refundRefusedReason!
    assert.equal([...kept].length, 500)
    assert.equal(kept, `<html> <body> ${'𠀀'.repeat(485)}…`)
  })

  it('a payment to give back through a channel not run here waits for a person, told why, by one node', async () => {
    const { payment } = await unexpected('ux-nochannel')
    ended.length = 0
    // Two nodes' sweeps at once: one claim wins, so the operator is told once.
    await Promise.all([reconcileChannelPayments(deps()), reconcileChannelPayments(deps())])
    const after = await stored(payment.id)
    assert.deepEqual([after.status, after.nextCheckAt, after.refundRefusedReason], ['refund_requested', null, 'the wechatpay channel is not available on this platform'])
    assert.deepEqual(ended.filter(([, id]) => id === payment.id), [['refused', payment.id, 'the wechatpay channel is not available on this platform']])
  })

  /** A channel that refuses refunds and answers a query about the payment with `said` (made by the test). */
  const refusingChannel = (said: () => Promise<ChannelPaymentState>) => {
    const asked: string[] = []
    const channel = {
      refund: async () => ({ status: 'failed', reason: 'balance short' }),
      queryPayment: async (ref: { paymentId: string }) => (asked.push(ref.paymentId), said()),
    } as unknown as PaymentChannel
    return { channel, asked }
  }

  it('the operator records a refund made by hand only once no automatic refund is under way', async () => {
    const { order, payment } = await unexpected('ux-5')
    // WeChat Pay lists a refund of it (REFUND).
    const { channel: refused } = refusingChannel(async () => ({ status: 'succeeded', channelTradeNo: payment.channelTradeNo!, amount: payment.amount, refunded: true }))
    const operator = { ...deps(), channel: () => refused }
    const busy = await recordUnexpectedRefundByHand(operator, payment.id)
    assert.equal(busy.result, 'not_possible')
    assert.match((busy as { message: string }).message, /still refunding payment pay_\w+ itself \(next check at \d{4}-/)
    assert.equal((await stored(payment.id)).status, 'refund_requested')

    assert.equal(await refundUnexpected(operator, refused, payment, order), 'flagged')
    const done = await recordUnexpectedRefundByHand(operator, payment.id)
    assert.deepEqual([done.result, (await stored(payment.id)).status, (await stored(payment.id)).nextCheckAt], ['refunded', 'refunded', null])
    // WeChat Pay's REFUND says a refund was made, not of how much: the operator is told to check it.
    assert.match((done as { caution?: string }).caution ?? '', /^wechatpay lists a refund of it but does not say how much: check in its merchant console that all \d+\.\d\d CNY went back; the daily bill check flags a refund short of it$/)
    const again = await recordUnexpectedRefundByHand(operator, payment.id)
    assert.deepEqual(again, { result: 'not_possible', message: `payment ${payment.id} is not an unexpected payment awaiting its refund (it is unexpected, refunded)` })
  })

  it('a refund by hand the channel does not bear out is not recorded, unless the money went back outside the channel', async () => {
    let said: () => Promise<ChannelPaymentState> = async () => ({ status: 'succeeded', channelTradeNo: 'tx', amount: 1 })
    const { channel, asked } = refusingChannel(() => said())
    const operator = { ...deps(), channel: () => channel }
    const { order, payment } = await unexpected('ux-5b')
    assert.equal(await refundUnexpected(operator, channel, payment, order), 'flagged')
    for (const [answer, message] of [
      [async () => ({ status: 'succeeded', channelTradeNo: payment.channelTradeNo!, amount: payment.amount }), /says payment pay_\w+ \(4200\d+\) is paid, with nothing refunded in full: refund it in full in the channel's merchant console first, then record it \(or, if the money went back outside the channel, record it with --force\); nothing was recorded/],
      [async () => ({ status: 'pending' }), /says payment pay_\w+ \(4200\d+\) is pending: refund it/],
      [async () => { throw new ChannelError('WeChat Pay did not answer in time', true, true) }, /could not ask wechatpay whether payment pay_\w+ was refunded \(WeChat Pay did not answer in time\); nothing was recorded: try again/],
    ] as const) {
      said = answer as () => Promise<ChannelPaymentState>
      const done = await recordUnexpectedRefundByHand(operator, payment.id)
      assert.equal(done.result, 'not_possible')
      assert.match((done as { message: string }).message, message)
      assert.deepEqual([(await stored(payment.id)).status, (await stored(payment.id)).nextCheckAt], ['refund_requested', null])
    }
    assert.equal(asked.length, 3)
    // Given back outside the channel (a bank transfer): recorded without asking it.
    const outside = await recordUnexpectedRefundByHand(operator, payment.id, { outsideChannel: true })
    assert.deepEqual([outside.result, (await stored(payment.id)).status, asked.length], ['refunded', 'refunded', 3])

    // Alipay closes a trade refunded in full: that bears it out.
    const second = await unexpected('ux-5c')
    assert.equal(await refundUnexpected(operator, channel, second.payment, second.order), 'flagged')
    said = async () => ({ status: 'closed' })
    // Alipay closes a trade only once it is refunded in full: nothing left to check.
    assert.deepEqual(await recordUnexpectedRefundByHand(operator, second.payment.id), { result: 'refunded', payment: await stored(second.payment.id) })
  })

  it('a retry asks the channel with the same refund number, and changes nothing it cannot act on', async () => {
    const { order, payment } = await unexpected('ux-6')
    const asked: string[] = []
    let answer: ChannelRefundState = { status: 'failed', reason: 'balance short' }
    const channel = { refund: async (input: { refundId: string }) => (asked.push(input.refundId), answer) } as unknown as PaymentChannel
    const operator = { ...deps(), channel: () => channel }
    assert.equal(await refundUnexpected(operator, channel, payment, order), 'flagged')
    const refusedAgain = await retryUnexpectedRefund(operator, payment.id)
    assert.deepEqual([refusedAgain.result, (refusedAgain as { reason: string }).reason], ['refused', 'balance short'])
    answer = { status: 'pending' }
    const pending = await retryUnexpectedRefund(operator, payment.id)
    // Not final: the reconciler follows it again.
    assert.equal(pending.result, 'pending')
    assert.ok((await stored(payment.id)).nextCheckAt! > Date.now())
    answer = { status: 'succeeded', channelRefundNo: 'r6' }
    assert.equal((await retryUnexpectedRefund(operator, payment.id)).result, 'refunded')
    assert.equal(new Set(asked).size, 1, 'one refund number for every try')
    assert.equal(asked.length, 4)

    assert.deepEqual(await retryUnexpectedRefund(operator, 'pay_nothing'), { result: 'not_possible', message: 'no payment pay_nothing' })
    const { payment: other } = await unexpected('ux-7')
    const before = await stored(other.id)
    assert.deepEqual(await retryUnexpectedRefund({ ...operator, channel: () => undefined }, other.id), {
      result: 'not_possible',
      message: 'the wechatpay channel is not available on this platform',
    })
    assert.deepEqual(await stored(other.id), before)
  })

  it('an outcome not known yet (the channel may have acted) tells nobody: the reconciler asks again', async () => {
    const { order, payment } = await unexpected('ux-4')
    ended.length = 0
    const unknown = channelAnswering(async () => { throw new ChannelError('timeout', true, true) })
    assert.equal(await refundUnexpected(deps(), unknown, payment, order), 'pending')
    assert.equal(await refundUnexpected(deps(), channelAnswering(async () => ({ status: 'pending' })), payment, order), 'pending')
    assert.deepEqual(ended, [])
    assert.equal((await stored(payment.id)).status, 'refund_requested')
  })

  it('a refund the channel is slow to answer does not hold the notification past a few seconds; it goes on by itself', async () => {
    const { order, payment } = await unexpected('ux-slow')
    // The attempt still open when the success arrives for the closed order.
    await t.storage.statement((w) => w.payments.move(payment, ['refund_requested'], 'pending', Date.now(), { unexpected: false }))
    let answer: (s: ChannelRefundState) => void = () => {}
    const channel = channelAnswering(() => new Promise((resolve) => (answer = resolve)))
    const started = Date.now()
    const outcome = await applyChannelPaymentState({ ...deps(), channel: () => channel }, {
      channel: 'wechatpay', paymentId: payment.id, state: { status: 'succeeded', channelTradeNo: `4200${started}`, amount: order.amount },
    })
    assert.equal(outcome, 'unexpected')
    assert.ok(Date.now() - started < REFUND_WAIT_MS + 2000, 'answered while the refund was still waiting')
    assert.equal((await stored(payment.id)).status, 'refund_requested')
    ended.length = 0
    answer({ status: 'succeeded', channelRefundNo: 'r-slow' })
    await eventually(async () => (await stored(payment.id)).status === 'refunded', 5000, 'the refund, finished by itself')
  })

  it('a refund that fails after the notification was answered is told to the hook, with its payment and order', async () => {
    const { order, payment } = await unexpected('ux-late-fail')
    await t.storage.statement((w) => w.payments.move(payment, ['refund_requested'], 'pending', Date.now(), { unexpected: false }))
    let answer: (s: ChannelRefundState) => void = () => {}
    const channel = channelAnswering(() => new Promise((resolve) => (answer = resolve)))
    // The database goes away while the refund is under way: recording the channel's answer fails.
    let down = false
    const tx: Transactor = {
      transaction: (fn) => t.storage.transaction(fn),
      changes: t.storage.changes,
      applyChanges: (c) => t.storage.applyChanges(c),
      insertOrder: (o, g) => t.storage.insertOrder(o, g),
      statement: (fn) => (down ? Promise.reject(new Error('database connection lost')) : t.storage.statement(fn)),
    }
    const failed: [string, string, unknown][] = []
    const outcome = await applyChannelPaymentState(
      { ...deps(), tx, channel: () => channel, onBackgroundRefundFailed: (p, o, err) => void failed.push([p.id, o.id, err]) },
      { channel: 'wechatpay', paymentId: payment.id, state: { status: 'succeeded', channelTradeNo: `4200${Date.now()}`, amount: order.amount } },
    )
    assert.equal(outcome, 'unexpected')
    assert.equal(failed.length, 0, 'nothing failed while the notification waited')
    down = true
    answer({ status: 'succeeded', channelRefundNo: 'r-late' })
    await eventually(async () => failed.length === 1, 5000, 'the late failure, told to the hook')
    assert.deepEqual(failed[0]!.slice(0, 2), [payment.id, order.id])
    assert.match(String(failed[0]![2]), /database connection lost/)
    // Left for the reconciler to ask about again.
    const after = await stored(payment.id)
    assert.equal(after.status, 'refund_requested')
    assert.ok(after.nextCheckAt !== null)
  })
})
