// The Alipay adapter's requests as sent, read off a stand-in fetch: what a retry puts on the wire.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { Order } from '../../core/order.ts'
import { ChannelError } from '../../core/payment-channel.ts'
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
