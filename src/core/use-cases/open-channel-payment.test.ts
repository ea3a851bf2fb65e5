// An attempt while its channel is still opening it, on both databases: the reconciler does not take WeChat Pay's
// "no such order" (the create has not reached it yet) for a close; and an attempt settled meanwhile (closed with
// its order) never shows its code, and the channel order the create made is closed. Then a code's lifetime and its
// renewal, and a failed payment (PAYERROR) whose close fails.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../../test/helpers/fresh-database.ts'
import { anOrder } from '../../../test/helpers/orders.ts'
import { ChannelError, type ChannelPaymentState, type PaymentChannel } from '../payment-channel.ts'
import type { ChannelPaymentDeps } from './channel-payment-deps.ts'
import { closeOrder } from './close-order.ts'
import { CODE_RECHECK_MS, CODE_RENEW_MARGIN_MS, openChannelPayment, payableCode } from './open-channel-payment.ts'
import { reconcileChannelPayments } from './reconcile-channel-payments.ts'

/** A channel whose creates wait for release(); until a create is processed, a query finds no order (closed). */
function slowChannel() {
  const orders = new Map<string, ChannelPaymentState>()
  let release!: () => void
  const released = new Promise<void>((r) => (release = r))
  const channel: PaymentChannel = {
    name: 'wechatpay',
    async createPayment(input) {
      await released
      orders.set(input.paymentId, { status: 'pending' })
      return { qrContent: `weixin://wxpay/bizpayurl?pr=${input.paymentId}` }
    },
    async queryPayment(ref) {
      return orders.get(ref.paymentId) ?? { status: 'closed' }
    },
    async closePayment(ref) {
      if (orders.get(ref.paymentId)?.status === 'pending') orders.set(ref.paymentId, { status: 'closed' })
    },
    refund: async () => ({ status: 'pending' }),
    queryRefund: async () => ({ status: 'pending' }),
    parseNotification: async () => {
      throw new Error('unused')
    },
    acknowledge: () => ({ status: 200, body: '' }),
  }
  return { channel, orders, release }
}

describeEachStorage('openChannelPayment while the channel is opening it', (t) => {
  let now = Date.now()
  const deps = (channel: PaymentChannel): ChannelPaymentDeps => ({
    tx: t.storage,
    clock: { now: () => now },
    present: (order) => ({ id: order.id, status: order.status }),
    listener: { orderChanged: () => {}, eventsWritten: () => {} },
    payTokens: { issue: () => 'unused' },
    channel: (name) => (name === 'wechatpay' ? channel : undefined),
    notifyUrl: () => 'https://pay.example/channels/wechatpay/notify/mch_x',
  })
  const liveOrder = async (no: string) => {
    const order = anOrder(no, { mode: 'live', channels: ['wechatpay'], createdAt: now, expiresAt: now + 900_000 })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    return order
  }
  const attempt = (id: string) => t.storage.statement((w) => w.payments.byId(id))

  it('the reconciler asks again, rather than closing an attempt whose create may not have reached the channel', async () => {
    const { channel, orders, release } = slowChannel()
    const order = await liveOrder('open-1')
    const opening = openChannelPayment(deps(channel), order, 'wechatpay')
    await new Promise((r) => setTimeout(r, 100))
    now += 2_500
    assert.deepEqual(await reconcileChannelPayments(deps(channel)), { checked: 1, settled: 0 })
    release()
    const opened = await opening
    const p = (await attempt(opened.paymentId))!
    assert.deepEqual([p.status, p.qrContent, p.nextCheckAt !== null], ['pending', opened.qrContent, true])
    // Paid, its notification lost: the reconciler's next question finds it.
    orders.set(p.id, { status: 'succeeded', channelTradeNo: '4200000000001', amount: order.amount, paidAt: now })
    now += 60_000
    await reconcileChannelPayments(deps(channel))
    assert.equal((await t.storage.orders.byId(order.merchantId, 'live', order.id))?.status, 'paid')
  })

  it('an attempt closed while its channel opened it shows no code, and the channel order is closed', async () => {
    const { channel, orders, release } = slowChannel()
    const order = await liveOrder('open-2')
    const opening = openChannelPayment(deps(channel), order, 'wechatpay').catch((e: Error & { code?: string }) => e)
    await new Promise((r) => setTimeout(r, 100))
    await closeOrder(deps(channel), order)
    now += 1_000
    await reconcileChannelPayments(deps(channel))
    release()
    const refused = await opening
    assert.equal((refused as { code?: string }).code, 'channel_failed')
    const [only] = [...orders.entries()]
    assert.deepEqual(only?.[1], { status: 'closed' }, 'the order the create made at the channel is closed')
    const p = (await attempt(only![0]))!
    assert.deepEqual([p.status, p.qrContent], ['closed', null])
  })

  it("renews a code the channel no longer takes (WeChat Pay's 2 hours) when the customer chooses the channel again", async () => {
    const { channel, release } = slowChannel()
    release()
    let creates = 0
    const expiring: PaymentChannel = {
      ...channel,
      codeLifetimeMs: 2 * 3_600_000,
      async createPayment(input) {
        creates++
        return { qrContent: `weixin://wxpay/bizpayurl?pr=${input.paymentId}-${creates}` }
      },
    }
    const order = anOrder('open-3', { mode: 'live', channels: ['wechatpay'], createdAt: now, expiresAt: now + 6 * 3_600_000 })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    const first = await openChannelPayment(deps(expiring), order, 'wechatpay')
    // Within its lifetime, less the margin: the stored code, the channel not asked.
    now += 2 * 3_600_000 - CODE_RENEW_MARGIN_MS - 1_000
    const again = await openChannelPayment(deps(expiring), order, 'wechatpay')
    assert.deepEqual([again.paymentId, again.qrContent, creates, again.codeExpiresAt], [first.paymentId, first.qrContent, 1, first.codeExpiresAt])
    const stored = (await attempt(first.paymentId))!
    assert.equal(payableCode(stored, expiring, now), first.qrContent)
    // Near the end of its lifetime: still shown while it can be scanned, but choosing the channel asks it for the
    // attempt's current code (this channel gives a new one).
    now += 2_000
    assert.equal(payableCode(stored, expiring, now), first.qrContent)
    assert.equal(payableCode(stored, expiring, now, CODE_RENEW_MARGIN_MS), null)
    const renewed = await openChannelPayment(deps(expiring), order, 'wechatpay')
    assert.deepEqual([renewed.paymentId, renewed.created, creates], [first.paymentId, false, 2])
    assert.notEqual(renewed.qrContent, first.qrContent)
    const after = (await attempt(first.paymentId))!
    assert.deepEqual([after.status, after.qrContent, payableCode(after, expiring, now)], ['pending', renewed.qrContent, renewed.qrContent])
    // A channel without such a bound keeps its code as long as the order.
    assert.equal(payableCode(after, channel, now + 5 * 3_600_000), renewed.qrContent)
  })

  it("a code the channel gives back unchanged (WeChat Pay's, until its 2 hours are up) is not taken for a new one", async () => {
    const { channel, release } = slowChannel()
    release()
    const LIFETIME = 2 * 3_600_000
    // As WeChat Pay does (channel-protocols.md A.2): the same prepay again answers the order's current code, the
    // same one until it is 2 hours old, a new one after.
    let code = { url: '', issuedAt: 0 }
    let creates = 0
    const wechatLike: PaymentChannel = {
      ...channel,
      codeLifetimeMs: LIFETIME,
      async createPayment(input) {
        creates++
        if (!code.url || now - code.issuedAt >= LIFETIME) code = { url: `weixin://wxpay/bizpayurl?pr=${input.paymentId}-${creates}`, issuedAt: now }
        return { qrContent: code.url }
      },
    }
    const order = anOrder('open-4', { mode: 'live', channels: ['wechatpay'], createdAt: now, expiresAt: now + 6 * 3_600_000 })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    const first = await openChannelPayment(deps(wechatLike), order, 'wechatpay')
    const issuedAt = now
    assert.equal(first.codeExpiresAt, issuedAt + LIFETIME, 'the page is told when the code stops being taken')
    // Near the end of its 2 hours: the channel is asked, and gives back the same code, which has minutes left.
    now = issuedAt + LIFETIME - CODE_RENEW_MARGIN_MS + 1_000
    const near = await openChannelPayment(deps(wechatLike), order, 'wechatpay')
    assert.deepEqual([near.qrContent, creates, near.codeExpiresAt], [first.qrContent, 2, issuedAt + LIFETIME])
    // It is still shown (the page and its image show what the customer was just given) …
    assert.equal(payableCode((await attempt(first.paymentId))!, wechatLike, now), first.qrContent)
    // … and choosing the channel again before it is up shows it without asking the channel, which would only give
    // it back once more (each tap would otherwise be a signed call to WeChat Pay for the code's last minutes).
    for (const step of [1_000, 60_000, CODE_RENEW_MARGIN_MS - 70_000]) {
      now += step
      const again = await openChannelPayment(deps(wechatLike), order, 'wechatpay')
      assert.deepEqual([again.qrContent, creates, again.codeExpiresAt], [first.qrContent, 2, issuedAt + LIFETIME])
    }
    // … but it is as old as it was: once its 2 hours are up it is shown nowhere, and the next choice gets a new one.
    now = issuedAt + LIFETIME + 1_000
    assert.equal(payableCode((await attempt(first.paymentId))!, wechatLike, now), null, 'a dead code is not shown')
    const renewed = await openChannelPayment(deps(wechatLike), order, 'wechatpay')
    assert.deepEqual([renewed.paymentId, creates, renewed.codeExpiresAt], [first.paymentId, 3, now + LIFETIME])
    assert.notEqual(renewed.qrContent, first.qrContent)
    assert.equal(payableCode((await attempt(first.paymentId))!, wechatLike, now), renewed.qrContent)
  })

  /**
   * As WeChat Pay, with a first prepay that times out: one that reached WeChat (it made the order and its code, the
   * answer was lost) or one that never did. Asked again, it gives the order's current code: the same one until it
   * is 2 hours old, a new one after.
   */
  function lostFirstAnswer(reachedWechat: boolean) {
    const LIFETIME = 2 * 3_600_000
    const code = { url: '', madeAt: 0 }
    let first = true
    let creates = 0
    const { channel, release } = slowChannel()
    release()
    const wechatLike: PaymentChannel = {
      ...channel,
      codeLifetimeMs: LIFETIME,
      async createPayment(input) {
        creates++
        const lost = first
        first = false
        if (lost && !reachedWechat) throw new ChannelError('WeChat Pay did not answer in time', true, true)
        if (!code.url || now - code.madeAt >= LIFETIME) Object.assign(code, { url: `weixin://wxpay/bizpayurl?pr=${input.paymentId}-${now}`, madeAt: now })
        if (lost) throw new ChannelError('WeChat Pay did not answer in time', true, true)
        return { qrContent: code.url }
      },
    }
    return { LIFETIME, code, wechatLike, creates: () => creates }
  }

  it("an attempt's first code whose answer was lost is counted from the attempt's creation, not from the retry", async () => {
    const { LIFETIME, code, wechatLike } = lostFirstAnswer(true)
    const order = anOrder('open-lost', { mode: 'live', channels: ['wechatpay'], createdAt: now, expiresAt: now + 24 * 3_600_000 })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    await assert.rejects(openChannelPayment(deps(wechatLike), order, 'wechatpay'), { code: 'channel_failed' })
    const madeAt = code.madeAt
    now += 110 * 60_000
    const opened = await openChannelPayment(deps(wechatLike), order, 'wechatpay')
    assert.equal(opened.codeExpiresAt, madeAt + LIFETIME, 'the page is told when WeChat stops taking it')
    now = madeAt + LIFETIME + 1_000
    assert.equal(payableCode((await attempt(opened.paymentId))!, wechatLike, now), null, 'a dead code is not shown')
  })

  it('a first code the channel made at the retry (the lost call never reached it) is counted early, then given back and shown on', async () => {
    const { LIFETIME, wechatLike, creates } = lostFirstAnswer(false)
    const order = anOrder('open-unreached', { mode: 'live', channels: ['wechatpay'], createdAt: now, expiresAt: now + 24 * 3_600_000 })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    const createdAt = now
    await assert.rejects(openChannelPayment(deps(wechatLike), order, 'wechatpay'), { code: 'channel_failed' })
    now += 30 * 60_000
    const first = await openChannelPayment(deps(wechatLike), order, 'wechatpay')
    assert.equal(first.codeExpiresAt, createdAt + LIFETIME, 'counted from the attempt: early, never late')
    // The page asks again when that count is up; WeChat gives the same code, which it takes for 30 minutes more.
    now = createdAt + LIFETIME + 1_000
    const again = await openChannelPayment(deps(wechatLike), order, 'wechatpay')
    assert.deepEqual([again.qrContent, again.codeExpiresAt, creates()], [first.qrContent, now + CODE_RECHECK_MS, 3])
    assert.equal(payableCode((await attempt(first.paymentId))!, wechatLike, now), first.qrContent, 'shown, not refused')
  })

  it('a renewal the channel refuses because the attempt was paid meanwhile (ORDERPAID) pays the order, not fails the attempt', async () => {
    const { channel, orders, release } = slowChannel()
    release()
    const LIFETIME = 2 * 3_600_000
    const wechatLike: PaymentChannel = {
      ...channel,
      codeLifetimeMs: LIFETIME,
      async createPayment(input) {
        // WeChat Pay refuses a prepay for an order already paid (and one already closed).
        if (orders.get(input.paymentId)?.status === 'succeeded') throw new ChannelError('WeChat Pay Native prepay failed: ORDERPAID: 该订单已支付', false, false)
        return channel.createPayment(input)
      },
      async closePayment() {
        // ORDERPAID: nothing to close (wechat-pay-channel.ts), and the question after it finds the payment.
      },
    }
    const order = anOrder('open-5', { mode: 'live', channels: ['wechatpay'], createdAt: now, expiresAt: now + 6 * 3_600_000 })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    const first = await openChannelPayment(deps(wechatLike), order, 'wechatpay')
    // Scanned and paid near the end of the code's 2 hours; the notification is late (or lost). The customer's page
    // still reads pending, and choosing WeChat Pay again asks for the current code.
    now += LIFETIME - CODE_RENEW_MARGIN_MS + 1_000
    orders.set(first.paymentId, { status: 'succeeded', channelTradeNo: '4200000000002', amount: order.amount, paidAt: now })
    const refused = await openChannelPayment(deps(wechatLike), order, 'wechatpay').catch((e: Error & { code?: string }) => e)
    assert.equal((refused as { code?: string }).code, 'order_not_pending')
    const p = (await attempt(first.paymentId))!
    assert.deepEqual([p.status, p.channelTradeNo], ['succeeded', '4200000000002'])
    assert.equal((await t.storage.orders.byId(order.merchantId, 'live', order.id))?.status, 'paid')
  })

  it('a failed payment (PAYERROR) whose close fails stays open and asked about, and ends failed once WeChat closes it', async () => {
    const { channel, orders, release } = slowChannel()
    release()
    let closeFails = true
    const wechatLike: PaymentChannel = {
      ...channel,
      async closePayment(ref) {
        if (closeFails) throw new ChannelError('WeChat Pay close failed: HTTP 500', true, true)
        orders.set(ref.paymentId, { status: 'closed' })
      },
    }
    const order = await liveOrder('open-6')
    const opened = await openChannelPayment(deps(wechatLike), order, 'wechatpay')
    orders.set(opened.paymentId, { status: 'failed', reason: '支付失败' })
    now += 5_000
    await reconcileChannelPayments(deps(wechatLike))
    const open = (await attempt(opened.paymentId))!
    assert.equal(open.status, 'pending', 'not ended while its WeChat order may still be paid')
    assert.deepEqual([open.checkCount, open.nextCheckAt! > now], [1, true], 'asked again later, not at once')
    closeFails = false
    now = open.nextCheckAt!
    await reconcileChannelPayments(deps(wechatLike))
    assert.deepEqual([(await attempt(opened.paymentId))!.status, orders.get(opened.paymentId)?.status], ['failed', 'closed'])
  })
})
