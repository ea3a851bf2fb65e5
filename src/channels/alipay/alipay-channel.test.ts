// The Alipay adapter's requests as sent, read off a stand-in fetch: what a retry puts on the wire.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { Order } from '../../core/order.ts'
import { ChannelError } from '../../core/payment-channel.ts'
import { NotificationRejected } from '../notification-rejected.ts'
import { parseAlipayTime } from '../shanghai-time.ts'
import type { ChannelHttpRequest } from '../channel-http.ts'
import { AlipayChannel } from './alipay-channel.ts'
import { loadPrivateKey, loadPublicKey } from './signing.ts'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

const createdAt = Date.UTC(2026, 10, 26, 2, 0, 0)
const order: Order = {
  id: 'ord_1', merchantId: 'm', mode: 'live', status: 'pending', outTradeNo: 'A', amount: 1234, amountRefunded: 0, currency: 'CNY', subject: 'Latte',
  description: null, metadata: {}, channels: ['alipay'], notifyUrl: null, returnUrl: null, payToken: 't', channel: null, channelTradeNo: null, requestHash: 'h',
  createdAt, expiresAt: createdAt + 15 * 60_000, paidAt: null, closedAt: null, updatedAt: createdAt,
}

describe('Alipay adapter: precreate', () => {
  it('a retried precreate sends the same biz_content, whenever it is sent', async () => {
    // The attempt was opened 10 s into the order; its retries come later, on the same attempt.
    const openedAt = createdAt + 10_000
    const sent: ChannelHttpRequest[] = []
    let now = createdAt + 10_000
    const channel = new AlipayChannel({
      credentials: async () => ({
        appId: '2021000122671080',
        privateKey: loadPrivateKey(fixture('alipaysdk_app-private-key.pem')),
        alipayPublicKey: loadPublicKey(fixture('alipaysdk_alipay-public-key.pem')),
        gatewayUrl: 'https://openapi.alipay.com/gateway.do',
        sellerId: null,
      }),
      clock: { now: () => now },
      // Every try goes unanswered, as a timeout would: the next is a retry of the same out_trade_no.
      fetch: async (req) => {
        sent.push(req)
        return { status: 504, headers: new Headers(), text: '' }
      },
    })
    for (const at of [createdAt + 10_000, createdAt + 95_000, createdAt + 9 * 60_000 + 59_000]) {
      now = at
      await assert.rejects(channel.createPayment({ paymentId: 'pay_1', order, notifyUrl: 'https://x/n', openedAt }), (e: unknown) => e instanceof ChannelError && e.outcomeUnknown)
    }
    const bodies = sent.map((r) => new URLSearchParams(r.body).get('biz_content'))
    assert.equal(new Set(bodies).size, 1, `the same biz_content each time: ${bodies.join(' | ')}`)
    // From the attempt's opening to 30 s before the order's end (14m20s), whole minutes: not the time left at a retry.
    assert.deepEqual(JSON.parse(bodies[0]!), {
      out_trade_no: 'pay_1', total_amount: '12.34', subject: 'Latte', product_code: 'FACE_TO_FACE_PAYMENT', timeout_express: '14m', qr_code_timeout_express: '14m',
    })
    // Only what Alipay needs to change does: the timestamp (and so the signature).
    assert.equal(new Set(sent.map((r) => new URL(r.url).searchParams.get('timestamp'))).size, 3)
  })
})

describe('Alipay adapter: the official notification vector (channel-protocols.md B.9.1)', () => {
  // A real trade_status_sync notification from alipay-sdk's tests, as the form it arrives in.
  const content =
    'app_id=2019073166072302&auth_app_id=2019073166072302&buyer_id=2088102534368455&buyer_logon_id=xud***@126.com&buyer_pay_amount=0.10&charset=utf-8&fund_bill_list=[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]&gmt_create=2019-08-15 15:56:22&gmt_payment=2019-08-15 15:56:24&invoice_amount=0.10&notify_id=2019081500222155624068450559358070&notify_time=2019-08-15 15:56:25&notify_type=trade_status_sync&out_trade_no=20190815155618536-564-57&point_amount=0.00&receipt_amount=0.10&seller_email=z97-yuquerevenue@service.aliyun.com&seller_id=2088531891668739&subject=语雀空间 500人规模&total_amount=0.10&trade_no=2019081522001468450512505578&trade_status=TRADE_SUCCESS&version=1.0'
  const sign =
    'QfTb8tqE1BMhS5qAnXtvsF3/jBkEvu9q9en0pdbBUDDjvKycZhQb7h8GDs4FKfi049PynaNuatxSgLb/nLWZpXyyh0LEWdK2S6Ri7nPwrVgOs08zugLO20vOQz44y3ti2Ncm8/wZts1Fr2gZ7pShnVX3d1B50hbsXnObT1r/U8ONNQjWXd0HIul4TG+Q3fm3svmSvFEy0WnzuhcyHPX5Gm4ELNctL6Qd5YniGJFNcc7kopHYtI/XD9YCKCH6Ct02rzUs9i11C9CsadtZn+WhxF26Dqt9sGEFajkJ8cxUTLi8+VCpLHsgPE8P0y095uQcDdK0YjCh4x7wVSov+lrmOQ=='
  const params = Object.fromEntries(content.split('&').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))
  const body = (p: Record<string, string>) => new URLSearchParams({ ...p, sign, sign_type: 'RSA2' }).toString()
  const channel = new AlipayChannel({
    credentials: async () => ({
      appId: '2019073166072302',
      privateKey: loadPrivateKey(fixture('alipaysdk_app-private-key.pem')),
      alipayPublicKey: loadPublicKey(fixture('alipaysdk_test_inline_notify_pubkey_v1.pem')),
      gatewayUrl: 'https://openapi.alipay.com/gateway.do',
      sellerId: '2088531891668739',
    }),
    clock: { now: () => Date.now() },
    fetch: async () => {
      throw new Error('a notification needs no call')
    },
  })

  it('is accepted and read as the 10 fen payment it reports', async () => {
    const n = await channel.parseNotification({ headers: {}, rawBody: body(params), merchantId: 'm' })
    assert.deepEqual(n, {
      notificationId: '2019081500222155624068450559358070',
      paymentId: '20190815155618536-564-57',
      state: { status: 'succeeded', channelTradeNo: '2019081522001468450512505578', amount: 10, paidAt: parseAlipayTime('2019-08-15 15:56:24') },
      merchantId: 'm',
    })
  })

  it('with its amount changed, it is refused as signature_invalid', async () => {
    await assert.rejects(
      channel.parseNotification({ headers: {}, rawBody: body({ ...params, total_amount: '100.00' }), merchantId: 'm' }),
      (e: unknown) => e instanceof NotificationRejected && e.reason === 'signature_invalid',
    )
  })
})
