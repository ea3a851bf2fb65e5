// Proves credentials work against the gateway they name: a signed query for an order that cannot exist.
// The gateway refusing our signature (or its answer failing ours) shows up here instead of at the first sale.
import { randomBytes } from 'node:crypto'
import type { Order } from '../core/order.ts'
import { ChannelError } from '../core/payment-channel.ts'
import { AlipayChannel } from './alipay/alipay-channel.ts'
import { parseAlipayCredentials } from './alipay/credentials.ts'
import { channelFetch } from './channel-http.ts'
import type { RealChannel } from './channel-credentials.ts'
import { parseWechatPayCredentials } from './wechat-pay/credentials.ts'
import { signRequest, verifyWechatSignature } from './wechat-pay/signing.ts'

export async function checkCredentialsOnline(channel: RealChannel, doc: unknown, timeoutMs = 10_000): Promise<{ ok: true } | { ok: false; error: string }> {
  const clock = { now: () => Date.now() }
  const probe = `scanpay_check_${randomBytes(6).toString('hex')}`
  const order = { merchantId: 'check' } as Order
  try {
    if (channel === 'wechatpay') {
      const p = parseWechatPayCredentials(doc)
      if (!p.ok) return { ok: false, error: p.errors.join('; ') }
      // WeChat answers ORDER_NOT_EXIST only to a request whose signature it accepted. That answer is an error,
      // which clients need not verify; when it is signed anyway, it must verify with the WeChat key given.
      const c = p.value
      const path = `/v3/pay/transactions/out-trade-no/${probe}?mchid=${c.mchid}`
      const authorization = signRequest({ mchid: c.mchid, serialNo: c.serialNo, privateKey: c.privateKey, method: 'GET', canonicalUrl: path, body: '' })
      const res = await channelFetch({ method: 'GET', url: c.baseUrl + path, headers: { authorization, accept: 'application/json' }, timeoutMs })
      if (res.headers.get('wechatpay-signature')) {
        try {
          verifyWechatSignature({ headers: res.headers, body: res.text, keys: c.platformKeys, nowMs: Date.now() })
        } catch (err) {
          return { ok: false, error: `the gateway's answer does not verify with the WeChat Pay key given: ${(err as Error).message}` }
        }
      }
      if (res.status === 404 && res.text.includes('ORDER_NOT_EXIST')) return { ok: true }
      return { ok: false, error: `HTTP ${res.status} ${res.text.slice(0, 300)}` }
    }
    const p = parseAlipayCredentials(doc)
    if (!p.ok) return { ok: false, error: p.errors.join('; ') }
    // Alipay signs its TRADE_NOT_EXIST answer; the adapter refuses it unless Alipay's public key verifies it.
    const state = await new AlipayChannel({ credentials: async () => p.value, clock, timeoutMs }).queryPayment({ paymentId: probe, order })
    return state.status === 'pending' ? { ok: true } : { ok: false, error: `unexpected answer ${JSON.stringify(state)}` }
  } catch (err) {
    return { ok: false, error: err instanceof ChannelError ? err.message : String(err) }
  }
}
