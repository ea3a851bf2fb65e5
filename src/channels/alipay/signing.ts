// Alipay OpenAPI (v2 gateway) RSA2 cryptography: request signing by the exact parameter rules, response
// verification over the raw response text, and async-notification verification.
import { createPrivateKey, createPublicKey, createSign, createVerify, type KeyObject } from 'node:crypto'

/**
 * The content a request signature covers: every parameter but `sign`, empty keys and values dropped,
 * sorted by key (code-unit order, which is ASCII order for Alipay's keys), `k=v` joined by `&`, values raw.
 * `sign_type` stays in for requests.
 */
export function requestSignContent(params: Record<string, string | undefined>): string {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && k !== '' && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&')
}

/** Trade notifications (`trade_status_sync`) are signed without `sign` and `sign_type`. */
export function notifySignContent(params: Record<string, string>, keepSignType = false): string {
  const rest: Record<string, string> = {}
  for (const [k, v] of Object.entries(params)) if (k !== 'sign_type' || keepSignType) rest[k] = v
  return requestSignContent(rest)
}

export function rsa2Sign(content: string, privateKey: KeyObject | string): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey, 'base64')
}

export function rsa2Verify(content: string, signature: string, publicKey: KeyObject | string): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKey, signature, 'base64')
  } catch {
    return false
  }
}

/** Alipay hands out keys as bare base64 too; this accepts PEM (PKCS#1 or PKCS#8) or bare base64 PKCS#8. */
export function loadPrivateKey(text: string): KeyObject {
  const t = text.trim()
  if (t.startsWith('-----BEGIN')) return createPrivateKey(t)
  const der = Buffer.from(t.replace(/\s+/g, ''), 'base64')
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  } catch {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs1' })
  }
}

/** A public key as PEM or the bare base64 SubjectPublicKeyInfo Alipay's console shows. */
export function loadPublicKey(text: string): KeyObject {
  const t = text.trim()
  if (t.startsWith('-----BEGIN')) return createPublicKey(t)
  return createPublicKey({ key: Buffer.from(t.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' })
}

export interface ExtractedResponse {
  /** The exact text of the `<method>_response` (or `error_response`) value: what the signature covers. */
  signedText: string
  sign: string | null
  /** Which key held the payload. */
  key: string
}

/**
 * Finds the `*_response` value in the raw body by quote- and escape-aware brace matching, as the Java SDK
 * and easysdk do, so `\/`, key order and unicode escapes are verified exactly as sent. A body naming the
 * response key twice is refused (someone smuggling a second payload).
 */
export function extractSignedResponse(raw: string, responseKey: string): ExtractedResponse | null {
  const candidates = [responseKey, 'error_response']
  for (const key of candidates) {
    const needle = `"${key}"`
    const first = raw.indexOf(needle)
    if (first < 0) continue
    if (raw.indexOf(needle, first + needle.length) >= 0) return null
    let i = first + needle.length
    while (i < raw.length && /\s/.test(raw[i]!)) i++
    if (raw[i] !== ':') return null
    i++
    while (i < raw.length && /\s/.test(raw[i]!)) i++
    const start = i
    const end = valueEnd(raw, start)
    if (end < 0) return null
    const signedText = raw.slice(start, end)
    let sign: string | null = null
    try {
      const parsed = JSON.parse(raw) as Record<string, unknown>
      sign = typeof parsed.sign === 'string' ? parsed.sign : null
    } catch {
      return null
    }
    return { signedText, sign, key }
  }
  return null
}

/** The index just past the JSON value starting at `start` (object or string), or -1. */
function valueEnd(text: string, start: number): number {
  if (text[start] === '"') {
    for (let i = start + 1; i < text.length; i++) {
      if (text[i] === '\\') i++
      else if (text[i] === '"') return i + 1
    }
    return -1
  }
  if (text[start] !== '{') return -1
  let depth = 0
  let inString = false
  for (let i = start; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') inString = true
    else if (c === '{') depth++
    else if (c === '}') {
      depth--
      if (depth === 0) return i + 1
    }
  }
  return -1
}

/** The response key Alipay uses for a method: `alipay.trade.precreate` → `alipay_trade_precreate_response`. */
export function responseKeyOf(method: string): string {
  return `${method.replaceAll('.', '_')}_response`
}
