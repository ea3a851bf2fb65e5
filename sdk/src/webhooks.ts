// Verifies a webhook exactly as Standard Webhooks defines it (no dependencies), and when it fails says why
// in words that point at the usual mistake: a parsed or re-serialized body, a wrong secret, a stale timestamp.
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { WebhookEvent } from './types.ts'

export type WebhookHeaders =
  | Headers
  | Record<string, string | string[] | undefined>
  | { get(name: string): string | null }

export interface VerifyWebhookInput {
  /** The request body exactly as received: the string or bytes, never a parsed object. */
  rawBody: string | Uint8Array
  headers: WebhookHeaders
  /** The merchant's webhook signing secret, `whsec_…`. */
  secret: string
  /** How far webhook-timestamp may be from now, either way (default 300 s). */
  toleranceSeconds?: number
  /** Unix seconds to check the timestamp against (default: now). */
  now?: number
}

export type WebhookErrorReason =
  | 'body_not_raw'
  | 'missing_header'
  | 'secret_invalid'
  | 'timestamp_invalid'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'signature_mismatch'
  | 'body_invalid'

export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: WebhookErrorReason,
    message: string,
  ) {
    super(message)
    this.name = 'WebhookVerificationError'
  }
}

function fail(reason: WebhookErrorReason, message: string): never {
  throw new WebhookVerificationError(reason, message)
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined
  const record = headers as Record<string, string | string[] | undefined>
  const key = Object.keys(record).find((k) => k.toLowerCase() === name)
  const value = key === undefined ? undefined : record[key]
  return Array.isArray(value) ? value.join(' ') : value
}

function secretBytes(secret: unknown): Buffer {
  if (typeof secret !== 'string' || secret.length === 0) fail('secret_invalid', 'secret is missing: pass the whsec_… webhook signing secret')
  if (/^sk_(test|live)_/.test(secret)) {
    fail('secret_invalid', 'that is an API secret (sk_…); webhooks are signed with the separate webhook signing secret, whsec_…, shown when the merchant was created')
  }
  if (!secret.startsWith('whsec_')) {
    // Nothing of what was given is quoted: errors end up in logs, and without its prefix this may be the secret.
    fail('secret_invalid', 'the webhook secret must start with whsec_: pass it whole, exactly as shown when the merchant was created')
  }
  const b64 = secret.slice('whsec_'.length)
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) fail('secret_invalid', 'the part of the webhook secret after whsec_ must be base64; was it cut or quoted?')
  return Buffer.from(b64, 'base64')
}

/** Why a body that fails verification most likely changed on its way to you, or null for no idea. */
function diagnoseBody(body: string, id: string): string | null {
  if (body === '[object Object]') return 'the body is "[object Object]": a parsed object was turned back into a string; pass the raw body'
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return null
  }
  // ScanPay sends compact JSON with the keys id, type, timestamp, data in that order; anything else was rewritten.
  if (JSON.stringify(parsed) !== body) {
    return 'the body is not the compact JSON ScanPay sent (it was re-serialized: pretty-printed or re-spaced); verify the raw body bytes, before any JSON parsing'
  }
  if (parsed && typeof parsed === 'object' && !body.startsWith('{"id":')) {
    return 'the body\'s keys are not in the order ScanPay sent them (it was re-serialized, e.g. JSON.stringify(req.body)); verify the raw body bytes, before any JSON parsing'
  }
  if (parsed && typeof parsed === 'object' && (parsed as { id?: unknown }).id !== id) {
    return `the body is event ${JSON.stringify((parsed as { id?: unknown }).id)} but webhook-id is ${JSON.stringify(id)}: the headers and body come from different requests`
  }
  return null
}

/**
 * Verifies a webhook and returns its parsed body, or throws WebhookVerificationError saying what is wrong.
 * Accepts several signatures in webhook-signature (as during a secret rotation): any `v1` match will do.
 */
export function verifyWebhook<T = any>(input: VerifyWebhookInput): WebhookEvent<T> {
  const { rawBody, headers } = input
  let body: string
  if (typeof rawBody === 'string') body = rawBody
  else if (rawBody instanceof Uint8Array) body = Buffer.from(rawBody).toString('utf8')
  else {
    fail(
      'body_not_raw',
      rawBody === undefined || rawBody === null
        ? 'rawBody is missing: pass the request body exactly as received (a string or Buffer)'
        : 'rawBody is a parsed object: the signature covers the exact bytes sent, so pass the raw body (e.g. express.raw({ type: "application/json" }), or read the request stream yourself) and parse it after verifying',
    )
  }
  if (!headers || typeof headers !== 'object') fail('missing_header', 'headers are missing: pass the request headers')
  const id = header(headers, 'webhook-id')
  const timestamp = header(headers, 'webhook-timestamp')
  const signatures = header(headers, 'webhook-signature')
  const missing = [['webhook-id', id], ['webhook-timestamp', timestamp], ['webhook-signature', signatures]]
    .filter(([, v]) => !v)
    .map(([n]) => n)
  if (missing.length > 0) {
    fail('missing_header', `missing header ${missing.join(', ')}: is this a ScanPay webhook, and does a proxy pass its headers through?`)
  }
  const key = secretBytes(input.secret)

  if (!/^\d{1,12}$/.test(timestamp!)) fail('timestamp_invalid', `webhook-timestamp must be unix seconds, got ${JSON.stringify(timestamp)}`)
  const tolerance = input.toleranceSeconds ?? 300
  const now = input.now ?? Math.floor(Date.now() / 1000)
  const age = now - Number(timestamp)
  if (age > tolerance) {
    fail('timestamp_too_old', `webhook-timestamp is ${age} s old, more than the ${tolerance} s allowed: a replayed request, a webhook held in a queue, or a clock that is off (check NTP)`)
  }
  if (-age > tolerance) {
    fail('timestamp_too_new', `webhook-timestamp is ${-age} s in the future, more than the ${tolerance} s allowed: is this machine's clock behind? (check NTP)`)
  }

  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest()
  let sawV1 = false
  for (const part of signatures!.split(' ')) {
    const comma = part.indexOf(',')
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue
    sawV1 = true
    const text = part.slice(comma + 1)
    const given = Buffer.from(text, 'base64')
    // Standard base64 only, as the scheme writes it: Buffer would also read junk, missing padding and base64url.
    if (given.toString('base64') !== text) continue
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      try {
        return JSON.parse(body) as WebhookEvent<T>
      } catch {
        fail('body_invalid', 'the signature matches but the body is not JSON')
      }
    }
  }
  if (!sawV1) fail('signature_mismatch', 'webhook-signature has no v1,<base64> signature')
  const hint = diagnoseBody(body, id!)
  fail(
    'signature_mismatch',
    `the signature does not match. ${hint ?? 'Check that the secret is this merchant\'s whsec_ secret for this ScanPay server, and that the body is exactly the bytes received'}`,
  )
}
