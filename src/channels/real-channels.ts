// The real channels this platform pays live orders through, built over the merchants' stored credentials.
import type { Clock } from '../core/ports.ts'
import type { PaymentChannel } from '../core/payment-channel.ts'
import { AlipayChannel } from './alipay/alipay-channel.ts'
import type { ChannelCredentials } from './channel-credentials.ts'
import { WechatPayChannel } from './wechat-pay/wechat-pay-channel.ts'

/** How long a channel API call may take before its outcome counts as unknown (asked about later). */
export const CHANNEL_TIMEOUT_MS = 10_000

export function createRealChannels(o: { credentials: ChannelCredentials; clock: Clock; timeoutMs?: number }): PaymentChannel[] {
  const timeoutMs = o.timeoutMs ?? CHANNEL_TIMEOUT_MS
  return [
    new WechatPayChannel({
      credentials: (m) => o.credentials.wechatpay(m),
      credentialsForSerial: (s) => o.credentials.wechatpayBySerial(s),
      clock: o.clock,
      timeoutMs,
    }),
    new AlipayChannel({
      credentials: (m) => o.credentials.alipay(m),
      credentialsForAppId: (a) => o.credentials.alipayByAppId(a),
      clock: o.clock,
      timeoutMs,
    }),
  ]
}
