// Where the checkout shows a real channel's own QR (WeChat's code_url, Alipay's qr_code) and which channel a
// path names. The image URL carries a digest of the code, so a new attempt's code is never shown from a stale copy.
import { createHash } from 'node:crypto'
import type { RealChannel } from './i18n.ts'

const REAL_CHANNELS: readonly RealChannel[] = ['wechatpay', 'alipay']

/** The channel a path segment names, or null for anything else (the sandbox included: it has no QR of its own). */
export function realChannelParam(value: string): RealChannel | null {
  return (REAL_CHANNELS as readonly string[]).includes(value) ? (value as RealChannel) : null
}

/** The PNG of the channel's code as the page embeds it: phones can press and hold a PNG to save it. */
export function channelQrPath(token: string, channel: RealChannel, qrContent: string): string {
  const version = createHash('sha256').update(qrContent).digest('base64url').slice(0, 12)
  return `/pay/${encodeURIComponent(token)}/channels/${channel}/qr.png?v=${version}`
}

/** Pixels per module of a channel's PNG: about 450 px, sharp at 220 CSS px on a phone's dense screen. */
export const CHANNEL_QR_SCALE = 12

/**
 * How long the page may go on showing a channel's code: the milliseconds until the channel stops taking it, or
 * null for a code that does not expire. The page's script counts it down with its own clock, not the server's.
 */
export function codeLeftMs(expiresAt: number | null, now: number): number | null {
  return expiresAt === null ? null : Math.max(0, expiresAt - now)
}
