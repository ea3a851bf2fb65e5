// The typed client: one method per v1 endpoint, grouped as the API groups them (orders, refunds, events,
// bill checks, test helpers), over one transport that authenticates, retries and makes errors typed.
import { Transport, type RequestOptions } from './transport.ts'
import type {
  BillCheck,
  CreateOrderParams,
  CreateRefundParams,
  AnyEvent,
  List,
  ListBillChecksParams,
  ListEventsParams,
  ListOrdersParams,
  ListParams,
  Order,
  Refund,
} from './types.ts'

export interface ScanPayOptions {
  /** The API's origin, e.g. `http://127.0.0.1:8080` or `https://pay.example`. */
  baseUrl: string
  /** `sk_test_…` or `sk_live_…`. */
  secret: string
  /** `key_test_…` / `key_live_…`: when given, requests are HMAC-signed (the secret never travels). */
  keyId?: string
  /** Defaults to `hmac` when a keyId is given, else `bearer`. */
  auth?: 'bearer' | 'hmac'
  /** Further tries after the first on network errors, timeouts, 5xx and 429 (default 2; 0 turns retries off). */
  maxRetries?: number
  /** Per try (default 30000). */
  timeoutMs?: number
  /** A 429's Retry-After longer than this is not waited for (default 60). */
  maxRetryAfterSeconds?: number
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch
}

const id = (value: string) => encodeURIComponent(value)

function query(params: object): string {
  const q = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue
    q.set(name, value instanceof Date ? value.toISOString() : String(value))
  }
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** Walks every page of a list, newest first. */
async function* everyPage<T, P extends ListParams>(list: (p: P) => Promise<List<T>>, params: P): AsyncGenerator<T> {
  let cursor = params.cursor
  for (;;) {
    const page = await list({ ...params, cursor })
    yield* page.data
    if (!page.has_more || !page.next_cursor) return
    cursor = page.next_cursor
  }
}

export class ScanPay {
  readonly #t: Transport

  constructor(options: ScanPayOptions) {
    if (!options.baseUrl || !/^https?:\/\//.test(options.baseUrl)) throw new TypeError('ScanPay: baseUrl must be an http(s) URL')
    // Every path the client sends starts with /v1: a baseUrl ending in it would ask for /v1/v1/… and get 404s.
    if (/\/v1\/?$/.test(new URL(options.baseUrl).pathname)) throw new TypeError('ScanPay: baseUrl is where ScanPay is served, without /v1 (https://pay.example, not https://pay.example/v1)')
    if (!/^sk_(test|live)_/.test(options.secret ?? '')) {
      throw new TypeError(
        options.secret?.startsWith('whsec_')
          ? 'ScanPay: that is the webhook signing secret; the client needs the API secret (sk_test_… or sk_live_…)'
          : 'ScanPay: secret must be an API secret, sk_test_… or sk_live_…',
      )
    }
    const auth = options.auth ?? (options.keyId ? 'hmac' : 'bearer')
    if (auth === 'hmac' && !options.keyId) throw new TypeError('ScanPay: HMAC signing needs keyId (key_test_… or key_live_…)')
    this.#t = new Transport({
      baseUrl: options.baseUrl,
      secret: options.secret,
      keyId: options.keyId,
      auth,
      maxRetries: options.maxRetries ?? 2,
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRetryAfterSeconds: options.maxRetryAfterSeconds ?? 60,
      fetch: options.fetch ?? globalThis.fetch,
      userAgent: 'scanpay-node/0.1.0',
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    })
  }

  readonly orders = {
    create: (params: CreateOrderParams, opts?: RequestOptions) => this.#t.request<Order>('POST', '/v1/orders', params, opts),
    retrieve: (orderId: string, opts?: RequestOptions) => this.#t.request<Order>('GET', `/v1/orders/${id(orderId)}`, undefined, opts),
    list: (params: ListOrdersParams = {}, opts?: RequestOptions) => this.#t.request<List<Order>>('GET', `/v1/orders${query(params)}`, undefined, opts),
    /** Every order matching the filter, across pages. */
    iterate: (params: ListOrdersParams = {}) => everyPage((p) => this.orders.list(p), params),
    close: (orderId: string, opts?: RequestOptions) => this.#t.request<Order>('POST', `/v1/orders/${id(orderId)}/close`, undefined, opts),
  }

  readonly refunds = {
    create: (orderId: string, params: CreateRefundParams, opts?: RequestOptions) =>
      this.#t.request<Refund>('POST', `/v1/orders/${id(orderId)}/refunds`, params, opts),
    retrieve: (refundId: string, opts?: RequestOptions) => this.#t.request<Refund>('GET', `/v1/refunds/${id(refundId)}`, undefined, opts),
    list: (orderId: string, params: ListParams = {}, opts?: RequestOptions) =>
      this.#t.request<List<Refund>>('GET', `/v1/orders/${id(orderId)}/refunds${query(params)}`, undefined, opts),
    iterate: (orderId: string, params: ListParams = {}) => everyPage((p) => this.refunds.list(orderId, p), params),
  }

  readonly events = {
    list: (params: ListEventsParams = {}, opts?: RequestOptions) => this.#t.request<List<AnyEvent>>('GET', `/v1/events${query(params)}`, undefined, opts),
    iterate: (params: ListEventsParams = {}) => everyPage((p) => this.events.list(p), params),
    retrieve: (eventId: string, opts?: RequestOptions) => this.#t.request<AnyEvent>('GET', `/v1/events/${id(eventId)}`, undefined, opts),
    /** Queues one more delivery of the event now. */
    redeliver: (eventId: string, opts?: RequestOptions) => this.#t.request<AnyEvent>('POST', `/v1/events/${id(eventId)}/redeliver`, undefined, opts),
  }

  /** Live mode only: the daily checks of the channels' bills against this merchant's payments. */
  readonly billChecks = {
    list: (params: ListBillChecksParams = {}, opts?: RequestOptions) =>
      this.#t.request<List<BillCheck>>('GET', `/v1/bill_checks${query(params)}`, undefined, opts),
    iterate: (params: ListBillChecksParams = {}) => everyPage((p) => this.billChecks.list(p), params),
  }

  /** Test mode only: what a customer tapping the sandbox wallet does. */
  readonly testHelpers = {
    payOrder: (orderId: string, opts?: RequestOptions) => this.#t.request<Order>('POST', `/v1/test_helpers/orders/${id(orderId)}/pay`, undefined, opts),
  }
}
