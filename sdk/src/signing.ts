// The signing rules of the ScanPay contract, shared by the server and the SDK so the two cannot drift.
// Only node:crypto: the SDK has no runtime dependencies.
import { createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto'

export const HMAC_SCHEME = 'SCANPAY-HMAC-SHA256'

/**
 * Text the customer reads on the checkout page and in their wallet app: no control characters (a subject is one
 * line, so no line or paragraph separator either; a description keeps its line breaks and tabs) and no
 * bidirectional embedding or override (U+202A–U+202E), which would show "abc\u202Egnp.exe" as "abcexe.png".
 * Isolates (U+2066–U+2069) stay: they cannot reorder what is outside them, and right-to-left text needs them.
 * A subject also says something: not only spaces and invisible marks (Unicode's default-ignorable code points:
 * zero-width spaces and joiners, direction marks, isolates, soft hyphens, variation selectors, fillers, tags;
 * and the blanks that look like nothing: the Arabic letter mark, the braille blank). Every reader compiles it
 * with the `u` flag (JSON Schema patterns are Unicode).
 */
export const SUBJECT_PATTERN =
  '^(?=.*[^\\s\\p{Default_Ignorable_Code_Point}\\u061C\\u2800\\u3164])[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u202A-\\u202E]*$'
export const DESCRIPTION_PATTERN = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\u202A-\\u202E]*$'

export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/

export interface RequestToSign {
  method: string
  /** The path and query exactly as sent, e.g. `/v1/orders?limit=10`. */
  pathAndQuery: string
  /** Unix seconds. */
  timestamp: number | string
  nonce: string
  /** The raw body bytes; empty for none. */
  body: string | Uint8Array
}

/**
 * A fresh nonce: the time in milliseconds (base 36, 8 characters until 2059) then 96 random bits, 24
 * characters in all. Random bits alone would do for uniqueness; the time first makes each new nonce land
 * beside the last ones in the server's index of used nonces instead of on a random page of it: measured on
 * SQLite, 5.6 µs of the server's CPU per signed request instead of 18.
 */
export function newNonce(now: number = Date.now()): string {
  return now.toString(36).padStart(8, '0') + randomBytes(12).toString('base64url')
}

/** The exact bytes a signed request's HMAC covers. */
export function canonicalRequest(req: RequestToSign): Buffer {
  const head = `${req.method.toUpperCase()}\n${req.pathAndQuery}\n${req.timestamp}\n${req.nonce}\n`
  const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : Buffer.from(req.body)
  return Buffer.concat([Buffer.from(head, 'utf8'), body, Buffer.from('\n', 'utf8')])
}

/**
 * The request's signature. The canonical bytes are fed in pieces rather than joined first: the same HMAC
 * without four buffers per request. (The server checks signatures with src/security/hmac-sha256.ts, the same MAC
 * made cheaper for one key that checks many requests.)
 */
export function signRequest(secret: string | KeyObject, req: RequestToSign): string {
  return createHmac('sha256', secret)
    .update(`${req.method.toUpperCase()}\n${req.pathAndQuery}\n${req.timestamp}\n${req.nonce}\n`)
    .update(req.body)
    .update('\n')
    .digest('base64')
}

export function authorizationHeader(keyId: string, secret: string, req: RequestToSign): string {
  const signature = signRequest(secret, req)
  return `${HMAC_SCHEME} key_id="${keyId}",timestamp="${req.timestamp}",nonce="${req.nonce}",signature="${signature}"`
}

export interface ParsedAuthorization {
  keyId: string
  timestamp: string
  nonce: string
  signature: string
}

/** The header exactly as authorizationHeader writes it, read by one regular expression. */
const CANONICAL_AUTHORIZATION = /^SCANPAY-HMAC-SHA256 key_id="([^",]+)",timestamp="([^",]+)",nonce="([^",]+)",signature="([^",]+)"$/

/** Parses `SCANPAY-HMAC-SHA256 key_id="…",timestamp="…",nonce="…",signature="…"`; null when malformed. */
export function parseAuthorization(header: string): ParsedAuthorization | null {
  const m = CANONICAL_AUTHORIZATION.exec(header)
  if (m) return { keyId: m[1]!, timestamp: m[2]!, nonce: m[3]!, signature: m[4]! }
  // The general form: the scheme in any case (HTTP's schemes are case-insensitive), the parameters in any
  // order, with spaces around them.
  const scheme = /^(\S+) +/.exec(header)
  // ASCII case only (no `u` flag): `ſ` must not pass for `s`, as a proxy reading the header would not take it so.
  if (!scheme || !/^SCANPAY-HMAC-SHA256$/i.test(scheme[1]!)) return null
  const params = new Map<string, string>()
  for (const part of header.slice(scheme[0].length).split(',')) {
    const m = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(part)
    if (!m || params.has(m[1]!)) return null
    params.set(m[1]!, m[2]!)
  }
  const keyId = params.get('key_id')
  const timestamp = params.get('timestamp')
  const nonce = params.get('nonce')
  const signature = params.get('signature')
  if (params.size !== 4 || !keyId || !timestamp || !nonce || !signature) return null
  return { keyId, timestamp, nonce, signature }
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The string a payment link's `sig` covers: every other parameter sorted by name, `name=value` joined by `&`. */
export function paymentLinkCanonical(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((name) => name !== 'sig')
    .sort()
    .map((name) => `${name}=${encodeURIComponent(params[name]!)}`)
    .join('&')
}

export function signPaymentLink(secret: string, params: Record<string, string>): string {
  return createHmac('sha256', secret).update(paymentLinkCanonical(params)).digest('base64url')
}

export interface PaymentLinkInput {
  publicUrl: string
  keyId: string
  secret: string
  amount: number
  outTradeNo: string
  subject: string
  /** Unix seconds after which the link no longer creates an order. */
  expiresAt: number
  currency?: string
  extra?: Record<string, string>
}

/** The optional parameters a link takes, through `extra`; the server refuses any other. */
const LINK_EXTRA_PARAMS = new Set(['description', 'return_url', 'notify_url', 'lang'])

/** The parameters a link sets from its own fields: `extra` may not set them again. */
const LINK_OWN_PARAMS = new Set(['amount', 'currency', 'out_trade_no', 'subject', 'expires_at', 'sig'])

/** The contract's largest amount, in minor units. */
export const MAX_AMOUNT = 100_000_000_000
/** The ISO 4217 codes in use, as the runtime's ICU knows them: ABC, RMB or BTC are none. */
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'))

/** An ISO 4217 currency in use (CNY, USD, …): three upper-case letters are not enough. The server's rule too. */
export function isCurrencyCode(code: string): boolean {
  return CURRENCIES.has(code)
}
const LINK_URL_PATTERN = /^https?:\/\/[^\s]+$/i
const codePoints = (s: string) => Array.from(s).length

/** Why the server would refuse an `extra` parameter's value, or null. */
function extraProblem(name: string, value: string): string | null {
  switch (name) {
    case 'description':
      if (codePoints(value) > 512) return 'must be at most 512 characters'
      if (!new RegExp(DESCRIPTION_PATTERN, 'u').test(value)) return 'must be without control or bidirectional override characters'
      return null
    case 'return_url':
    case 'notify_url':
      return value.length <= 1024 && LINK_URL_PATTERN.test(value) && URL.canParse(value) ? null : 'must be an http(s) URL of at most 1024 characters'
    case 'lang':
      return /^(en|zh)(-.*)?$/i.test(value.trim()) ? null : 'must be en or zh-CN'
    default:
      return null
  }
}

/**
 * The mistakes a link would otherwise carry to the customer's phone, where ScanPay can only show an error page:
 * thrown here as a TypeError naming the field instead, while the merchant's code is running.
 */
function checkLinkInput(input: PaymentLinkInput): void {
  const fail = (field: string, rule: string) => {
    throw new TypeError(`buildPaymentLink: ${field} ${rule}`)
  }
  if (typeof input.publicUrl !== 'string' || !/^https?:\/\/[^\s]+$/i.test(input.publicUrl) || !URL.canParse(input.publicUrl)) {
    fail('publicUrl', 'must be the http(s) URL customers reach ScanPay at')
  }
  if (typeof input.keyId !== 'string' || input.keyId === '') fail('keyId', 'must be the key id of the secret, key_test_… or key_live_…')
  if (!/^sk_(test|live)_/.test(input.secret ?? '')) fail('secret', "must be that key's API secret, sk_test_… or sk_live_…")
  if (!Number.isSafeInteger(input.amount) || input.amount < 1) fail('amount', 'must be a positive integer of minor units (fen): 1234 is ¥12.34')
  if (input.amount > MAX_AMOUNT) fail('amount', `must be at most ${MAX_AMOUNT} minor units`)
  if (!/^[A-Za-z0-9_\-.|*]{1,64}$/.test(input.outTradeNo ?? '')) fail('outTradeNo', 'must be 1–64 letters, digits or _-.|*')
  const subjectLength = typeof input.subject === 'string' ? Array.from(input.subject).length : 0
  if (subjectLength < 1 || subjectLength > 128) fail('subject', 'must be 1–128 characters')
  if (!new RegExp(SUBJECT_PATTERN, 'u').test(input.subject)) fail('subject', 'must say something (not only spaces or invisible marks), on one line, without control or bidirectional override characters')
  if (!Number.isSafeInteger(input.expiresAt) || input.expiresAt < 1) fail('expiresAt', 'must be a time in unix seconds')
  // Date.now() is the usual slip: thirteen digits of milliseconds, which the server refuses as malformed.
  if (input.expiresAt >= 1e12) fail('expiresAt', 'must be unix seconds, not milliseconds (Math.floor(Date.now() / 1000) + …)')
  if (input.currency !== undefined && !isCurrencyCode(input.currency)) fail('currency', 'must be an ISO 4217 code in use, such as CNY')
  for (const [name, value] of Object.entries(input.extra ?? {})) {
    if (LINK_OWN_PARAMS.has(name)) fail(`extra.${name}`, 'is set by the link itself: use the field of that name')
    if (!LINK_EXTRA_PARAMS.has(name)) fail(`extra.${name}`, `is not a parameter links take (${[...LINK_EXTRA_PARAMS].join(', ')})`)
    if (typeof value !== 'string') fail(`extra.${name}`, 'must be a string')
    const problem = extraProblem(name, value)
    if (problem) fail(`extra.${name}`, problem)
  }
}

/** Builds a signed payment link offline, exactly as the contract's `/l/{key_id}` expects. Throws TypeError on bad input. */
export function buildPaymentLink(input: PaymentLinkInput): string {
  checkLinkInput(input)
  const params: Record<string, string> = {
    ...input.extra,
    amount: String(input.amount),
    currency: input.currency ?? 'CNY',
    out_trade_no: input.outTradeNo,
    subject: input.subject,
    expires_at: String(input.expiresAt),
  }
  const sig = signPaymentLink(input.secret, params)
  const query = paymentLinkCanonical(params)
  return `${input.publicUrl.replace(/\/$/, '')}/l/${encodeURIComponent(input.keyId)}?${query}&sig=${sig}`
}

/** Standard Webhooks: `v1,` + base64 HMAC-SHA256 over `id.timestamp.body` keyed with the secret's bytes. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
}
