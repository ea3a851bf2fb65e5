// One HTTP request to the API: authentication (Bearer or HMAC, re-signed with a fresh nonce on every try),
// an Idempotency-Key on POSTs so they can be retried safely, and retries with backoff on network errors,
// timeouts, 5xx and 429 (honouring Retry-After).
import { randomUUID } from 'node:crypto'
import { errorFromResponse, ScanPayError } from './errors.ts'
import { authorizationHeader, newNonce } from './signing.ts'

export interface TransportOptions {
  baseUrl: string
  secret: string
  /** With a key id, requests are HMAC-signed and the secret never travels. */
  keyId?: string
  auth: 'bearer' | 'hmac'
  maxRetries: number
  timeoutMs: number
  /** A 429 asking to wait longer than this is not waited for: the error is thrown at once. */
  maxRetryAfterSeconds: number
  fetch: typeof fetch
  userAgent: string
  sleep: (ms: number) => Promise<void>
}

export interface RequestOptions {
  /** Replays the first response for 24 h when sent again; generated for you on POSTs when retries are on. */
  idempotencyKey?: string
  timeoutMs?: number
  maxRetries?: number
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504])

/** Exponential backoff with jitter: about 0.5 s, 1 s, 2 s, … capped at 8 s. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(8000, 500 * 2 ** attempt)
  return Math.round(base * (0.5 + random() / 2))
}

export class Transport {
  /**
   * The path of baseUrl (`/scanpay` in `https://shop.example/scanpay`), left out of what is signed: ScanPay serves
   * its API at `/v1/…`, so a prefix is a proxy's that strips it, and the server checks the path it receives.
   */
  readonly #prefix: string

  constructor(readonly options: TransportOptions) {
    this.#prefix = new URL(options.baseUrl).pathname.replace(/\/+$/, '')
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const o = this.options
    const url = new URL(o.baseUrl.replace(/\/+$/, '') + path)
    const raw = body === undefined ? '' : JSON.stringify(body)
    const maxRetries = opts.maxRetries ?? o.maxRetries
    const idempotencyKey = opts.idempotencyKey ?? (method === 'POST' && maxRetries > 0 ? `sdk_${randomUUID()}` : undefined)
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {
        accept: 'application/json',
        'user-agent': o.userAgent,
        authorization: this.#authorization(method, url, raw),
      }
      if (raw) headers['content-type'] = 'application/json'
      if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey
      const canRetry = attempt < maxRetries
      let res: Response
      let text: string
      try {
        res = await o.fetch(url, { method, headers, body: raw || undefined, signal: AbortSignal.timeout(opts.timeoutMs ?? o.timeoutMs) })
        text = await res.text()
      } catch (err) {
        if (canRetry) {
          await o.sleep(backoffMs(attempt))
          continue
        }
        const timedOut = (err as Error).name === 'TimeoutError'
        throw new ScanPayError(
          {
            type: 'connection',
            code: timedOut ? 'timeout' : 'connection_failed',
            message: timedOut
              ? `no answer from ${url.origin} within ${opts.timeoutMs ?? o.timeoutMs} ms (${attempt + 1} tries)`
              : `could not reach ${url.origin}: ${describe(err)} (${attempt + 1} tries)`,
            status: null,
          },
          { cause: err },
        )
      }
      if (res.ok) return parseAnswer<T>(res.status, res.headers, text)
      const error = errorFromResponse(res.status, res.headers, text)
      // The same key's earlier try still running (after a timeout, say): worth waiting for, as the server says.
      const stillRunning = res.status === 409 && error.code === 'idempotency_key_in_use'
      if (!canRetry || !(RETRYABLE_STATUS.has(res.status) || stillRunning)) throw error
      if (res.status === 429 && error.retryAfter !== undefined) {
        if (error.retryAfter > o.maxRetryAfterSeconds) throw error
        await o.sleep(error.retryAfter * 1000)
      } else {
        await o.sleep(backoffMs(attempt))
      }
    }
  }

  #authorization(method: string, url: URL, raw: string): string {
    const o = this.options
    if (o.auth === 'bearer') return `Bearer ${o.secret}`
    return authorizationHeader(o.keyId!, o.secret, {
      method,
      pathAndQuery: (url.pathname.startsWith(this.#prefix + '/') ? url.pathname.slice(this.#prefix.length) : url.pathname) + url.search,
      timestamp: Math.floor(Date.now() / 1000),
      // A fresh nonce per try: the server refuses a nonce it has seen, even on a retry.
      nonce: newNonce(),
      body: raw,
    })
  }
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } }
  return e.cause?.code ?? e.cause?.message ?? e.message
}

/** A success's JSON; anything else (a proxy's HTML page) is a ScanPayError, not a bare SyntaxError. */
function parseAnswer<T>(status: number, headers: Headers, text: string): T {
  if (!text) return null as T
  try {
    return JSON.parse(text) as T
  } catch (err) {
    const message = `the answer (HTTP ${status}) is not JSON: ${text.slice(0, 80)}`
    throw new ScanPayError({ type: 'internal', code: 'response_invalid', message, status, requestId: headers.get('x-request-id') ?? undefined }, { cause: err })
  }
}
