// The channel contract: every channel (sandbox, WeChat Pay and Alipay against their simulators) through the
// same cases, so an adapter that keeps the contract in one respect and breaks it in another is caught.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Order } from '../core/order.ts'
import { ChannelError, type CreatedPayment, type PaymentChannel } from '../core/payment-channel.ts'
import { AlipayChannel } from './alipay/alipay-channel.ts'
import { parseAlipayCredentials } from './alipay/credentials.ts'
import { AlipaySimulator } from './alipay/simulator.ts'
import { SandboxChannel } from './sandbox/sandbox-channel.ts'
import { parseWechatPayCredentials } from './wechat-pay/credentials.ts'
import { WechatPaySimulator } from './wechat-pay/simulator.ts'
import { WechatPayChannel } from './wechat-pay/wechat-pay-channel.ts'

interface Harness {
  channel: PaymentChannel
  mode: Order['mode']
  /** The customer pays the attempt at the channel; null for the sandbox, whose wallet pays through our own code. */
  pay: ((created: CreatedPayment) => void) | null
  start(): Promise<void>
  stop(): Promise<void>
}

function order(mode: Order['mode'], amount = 2345): Order {
  const now = Date.now()
  return {
    id: `ord_${randomBytes(8).toString('hex')}`, merchantId: 'mch_contract', mode, status: 'pending', outTradeNo: 'c', amount, amountRefunded: 0,
    currency: 'CNY', subject: 'Contract', description: null, metadata: {}, channels: ['sandbox', 'wechatpay', 'alipay'], notifyUrl: null,
    returnUrl: null, payToken: 't', channel: null, channelTradeNo: null, requestHash: 'h', createdAt: now, expiresAt: now + 600_000,
    paidAt: null, closedAt: null, updatedAt: now,
  }
}
const paymentId = () => `pay_${randomBytes(13).toString('hex')}`
const clock = { now: () => Date.now() }

const wechat = new WechatPaySimulator({ refundDelayMs: 0 })
const alipay = new AlipaySimulator()
const harnesses: Record<string, Harness> = {
  sandbox: { channel: new SandboxChannel(), mode: 'test', pay: null, start: async () => {}, stop: async () => {} },
  wechatpay: {
    channel: new WechatPayChannel({
      credentials: async () => {
        const p = parseWechatPayCredentials(wechat.credentialsDocument())
        return p.ok ? p.value : null
      },
      clock,
    }),
    mode: 'live',
    pay: (c) => void wechat.pay(c.qrContent!, { notify: false }),
    start: async () => void (await wechat.start()),
    stop: () => wechat.stop(),
  },
  alipay: {
    channel: new AlipayChannel({
      credentials: async () => {
        const p = parseAlipayCredentials(alipay.credentialsDocument())
        return p.ok ? p.value : null
      },
      clock,
    }),
    mode: 'live',
    pay: (c) => void alipay.pay(c.qrContent!, { notify: false }),
    start: async () => void (await alipay.start()),
    stop: () => alipay.stop(),
  },
}

for (const [name, h] of Object.entries(harnesses)) {
  describe(`channel contract: ${name}`, () => {
    before(() => h.start())
    after(() => h.stop())

    it('is named as registered', () => {
      assert.equal(h.channel.name, name)
    })

    it('opens an attempt and, until the customer acts, says pending', async () => {
      const o = order(h.mode)
      const id = paymentId()
      const created = await h.channel.createPayment({ paymentId: id, order: o, notifyUrl: 'http://127.0.0.1:9/notify', openedAt: Date.now() })
      if (h.pay) assert.ok(created.qrContent && created.qrContent.length > 0, 'a real channel gives something to scan')
      assert.deepEqual(await h.channel.queryPayment({ paymentId: id, order: o }), { status: 'pending' })
    })

    it('closes an open attempt idempotently; a closed attempt never reads succeeded', async () => {
      const o = order(h.mode)
      const id = paymentId()
      await h.channel.createPayment({ paymentId: id, order: o, notifyUrl: 'http://127.0.0.1:9/notify', openedAt: Date.now() })
      await h.channel.closePayment({ paymentId: id, order: o })
      await h.channel.closePayment({ paymentId: id, order: o })
      const state = await h.channel.queryPayment({ paymentId: id, order: o })
      assert.ok(state.status === 'closed' || state.status === 'pending', JSON.stringify(state))
    })

    it('reports a payment with our amount and the channel\'s trade number, and refunds it (once per refund id)', { skip: h.pay === null && 'the sandbox pays synchronously through our own use case' }, async () => {
      const o = order(h.mode)
      const id = paymentId()
      const created = await h.channel.createPayment({ paymentId: id, order: o, notifyUrl: 'http://127.0.0.1:9/notify', openedAt: Date.now() })
      h.pay!(created)
      const state = await h.channel.queryPayment({ paymentId: id, order: o })
      assert.equal(state.status, 'succeeded')
      assert.ok(state.status === 'succeeded' && state.amount === 2345 && state.channelTradeNo.length > 0)
      const paid: Order = { ...o, status: 'paid', channel: h.channel.name, channelTradeNo: state.status === 'succeeded' ? state.channelTradeNo : null }
      const refundId = `rfd_${randomBytes(8).toString('hex')}`
      const first = await h.channel.refund({ refundId, order: paid, amount: 345, currency: 'CNY', reason: null })
      assert.notEqual(first.status, 'failed')
      const second = await h.channel.refund({ refundId, order: paid, amount: 345, currency: 'CNY', reason: null })
      assert.notEqual(second.status, 'failed', 'the same refund id again is not an error')
      assert.equal((await h.channel.queryRefund({ refundId, order: paid, requestedAt: Date.now() })).status, 'succeeded')
    })

    it('refunds in test mode through the sandbox, and never a live order', { skip: h.pay !== null && 'real channels refund live orders' }, async () => {
      const paid: Order = { ...order('test'), status: 'paid', channel: 'sandbox', channelTradeNo: 'sbx_1' }
      assert.equal((await h.channel.refund({ refundId: 'rfd_c1', order: paid, amount: 1, currency: 'CNY', reason: null })).status, 'succeeded')
      await assert.rejects(h.channel.refund({ refundId: 'rfd_c2', order: { ...paid, mode: 'live' }, amount: 1, currency: 'CNY', reason: null }), ChannelError)
    })

    it('refuses an unverifiable notification', async () => {
      await assert.rejects(h.channel.parseNotification({ headers: { 'content-type': 'application/json' }, rawBody: '{"id":"x","resource":{}}', merchantId: 'mch_contract' }))
      await assert.rejects(h.channel.parseNotification({ headers: {}, rawBody: 'notify_id=1&out_trade_no=pay_x&sign=AAAA&trade_status=TRADE_SUCCESS', merchantId: 'mch_contract' }))
    })

    it('acknowledges in its own format: accepted is 2xx, refused is not an acceptance', () => {
      const ok = h.channel.acknowledge('ok')
      const bad = h.channel.acknowledge('error')
      assert.ok(ok.status >= 200 && ok.status < 300)
      assert.ok(bad.status >= 400 || bad.body !== ok.body)
    })

    it('refuses what it cannot pay: a currency other than CNY', { skip: h.pay === null && 'the sandbox pays any currency in test mode' }, async () => {
      await assert.rejects(h.channel.createPayment({ paymentId: paymentId(), order: { ...order(h.mode), currency: 'USD' }, notifyUrl: 'http://127.0.0.1:9/n', openedAt: Date.now() }), (e: unknown) => e instanceof ChannelError && !e.outcomeUnknown)
    })
  })
}
