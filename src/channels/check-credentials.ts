// Proves credentials work against the gateway they name: a signed query for an order that cannot exist.
// The gateway refusing our signature (or its answer failing ours) shows up here instead of at the first sale.
import { randomBytes } from 'node:crypto'
import type { Order } from '../core/order.ts'
import { ChannelError } from '../core/payment-channel.ts'
import { AlipayChannel } from './alipay/alipay-channel.ts'
import { parseAlipayCredentials } from './alipay/credentials.ts'
import type { RealChannel } from './channel-credentials.ts'
import { parseWechatPayCredentials } from './wechat-pay/credentials.ts'
import { WechatPayChannel } from './wechat-pay/wechat-pay-channel.ts'

export async function checkCredentialsOnline(channel: RealChannel, doc: unknown, timeoutMs = 10_000): Promise<{ ok: true } | { ok: false; error: string }> {
  const clock = { now: () => Date.now() }
  const probe = `scanpay_check_${randomBytes(6).toString('hex')}`
  const order = { merchantId: 'check' } as Order
  try {
    if (channel === 'wechatpay') {
      const p = parseWechatPayCredentials(doc)
      if (!p.ok) return { ok: false, error: p.errors.join('; ') }
      // WeChat answers ORDER_NOT_EXIST (read as closed) only to a request whose signature it accepted.
      const state = await new WechatPayChannel({ credentials: async () => p.value, clock, timeoutMs }).queryPayment({ paymentId: probe, order })
      return state.status === 'closed' ? { ok: true } : { ok: false, error: `unexpected answer ${JSON.stringify(state)}` }
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
