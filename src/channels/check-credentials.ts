// Proves credentials work against the gateway they name: a signed query for an order that cannot exist (and for
// WeChat Pay in certificate mode, its platform certificates downloaded, which proves the APIv3 key). The gateway
// refusing our signature, or its answer failing ours, shows up here instead of at the first sale.
import { randomBytes, type KeyObject } from 'node:crypto'
import type { Order } from '../core/order.ts'
import { ChannelError } from '../core/payment-channel.ts'
import { AlipayChannel } from './alipay/alipay-channel.ts'
import { parseAlipayCredentials } from './alipay/credentials.ts'
import { channelFetch, ChannelUnreachable } from './channel-http.ts'
import type { RealChannel } from './channel-credentials.ts'
import { parseWechatPayCredentials } from './wechat-pay/credentials.ts'
import { usesPlatformCertificates } from './wechat-pay/platform-certificates.ts'
import { signRequest, verifyWechatSignature } from './wechat-pay/signing.ts'
import { WechatPayChannel } from './wechat-pay/wechat-pay-channel.ts'

/** `unreachable`: the gateway never answered (down, a wrong address), which says nothing of the credentials. */
export type OnlineCheck = { ok: true; notes: string[] } | { ok: false; error: string; unreachable?: boolean }

export async function checkCredentialsOnline(channel: RealChannel, doc: unknown, timeoutMs = 10_000): Promise<OnlineCheck> {
  const clock = { now: () => Date.now() }
  const probe = `scanpay_check_${randomBytes(6).toString('hex')}`
  const order = { merchantId: 'check' } as Order
  try {
    if (channel === 'wechatpay') {
      const p = parseWechatPayCredentials(doc)
      if (!p.ok) return { ok: false, error: p.errors.join('; ') }
      const c = p.value
      const notes: string[] = []
      let keys: ReadonlyMap<string, KeyObject> = c.platformKeys
      if (usesPlatformCertificates(c)) {
        // Certificate mode: WeChat's current list decrypts only with the merchant's APIv3 key, so this proves
        // the key notifications are decrypted with, and shows a certificate WeChat rotated in since the file was made.
        const current = await new WechatPayChannel({ credentials: async () => c, clock, timeoutMs }).currentPlatformCertificates(order.merchantId)
        if (current.size === 0) {
          return { ok: false, error: 'no platform certificate WeChat Pay lists decrypts with the APIv3 key (apiv3_key), or every one has expired' }
        }
        const unlisted = [...current.keys()].filter((serial) => !c.platformKeys.has(serial))
        if (unlisted.length > 0) {
          notes.push(
            `WeChat Pay also uses platform certificate ${unlisted.join(', ')}, which wechatpay_certificates does not hold. ScanPay downloads WeChat's certificates when it meets a new serial; adding it spares that download.`,
          )
        }
        keys = new Map([...current, ...c.platformKeys])
      } else {
        notes.push('public-key mode: the APIv3 key (apiv3_key) is used only to decrypt notifications, and WeChat Pay offers no call that proves it; a wrong one shows as notifications refused in the log (payments are still settled by query)')
      }
      // WeChat answers ORDER_NOT_EXIST only to a request whose signature it accepted. That answer is an error,
      // which clients need not verify; when it is signed anyway, it must verify with the WeChat key given.
      const path = `/v3/pay/transactions/out-trade-no/${probe}?mchid=${c.mchid}`
      const authorization = signRequest({ mchid: c.mchid, serialNo: c.serialNo, privateKey: c.privateKey, method: 'GET', canonicalUrl: path, body: '' })
      const res = await channelFetch({ method: 'GET', url: c.baseUrl + path, headers: { authorization, accept: 'application/json' }, timeoutMs })
      if (res.headers.get('wechatpay-signature')) {
        try {
          verifyWechatSignature({ headers: res.headers, body: res.text, keys, nowMs: Date.now() })
        } catch (err) {
          return { ok: false, error: `the gateway's answer does not verify with the WeChat Pay key given: ${(err as Error).message}` }
        }
      }
      if (res.status === 404 && res.text.includes('ORDER_NOT_EXIST')) return { ok: true, notes }
      return { ok: false, error: `HTTP ${res.status} ${res.text.slice(0, 300)}` }
    }
    const p = parseAlipayCredentials(doc)
    if (!p.ok) return { ok: false, error: p.errors.join('; ') }
    // Alipay signs its TRADE_NOT_EXIST answer; the adapter refuses it unless Alipay's public key verifies it.
    const state = await new AlipayChannel({ credentials: async () => p.value, clock, timeoutMs }).queryPayment({ paymentId: probe, order })
    return state.status === 'pending' ? { ok: true, notes: [] } : { ok: false, error: `unexpected answer ${JSON.stringify(state)}` }
  } catch (err) {
    return { ok: false, error: err instanceof ChannelError ? err.message : String(err), unreachable: err instanceof ChannelUnreachable }
  }
}
