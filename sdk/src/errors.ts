// Typed errors: every refusal from the API carries the contract's type, code and param, the HTTP status
// and the request id to quote to support.

export type ScanPayErrorType =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'rate_limited'
  | 'channel_error'
  | 'internal'
  /** No answer came: the network failed or the request timed out (status is null). */
  | 'connection'

export interface ScanPayErrorFields {
  type: ScanPayErrorType
  code: string
  message: string
  param?: string
  status: number | null
  requestId?: string
  /** Seconds the server asked us to wait (429). */
  retryAfter?: number
}

export class ScanPayError extends Error {
  readonly type: ScanPayErrorType
  /** The contract's error code, e.g. `out_trade_no_conflict`; `connection_failed` or `timeout` without an answer. */
  readonly code: string
  /** The request field at fault, when one is. */
  readonly param: string | undefined
  readonly status: number | null
  readonly requestId: string | undefined
  readonly retryAfter: number | undefined

  constructor(fields: ScanPayErrorFields, options?: { cause?: unknown }) {
    super(fields.message, options)
    this.name = 'ScanPayError'
    this.type = fields.type
    this.code = fields.code
    this.param = fields.param
    this.status = fields.status
    this.requestId = fields.requestId
    this.retryAfter = fields.retryAfter
  }
}

const TYPE_BY_STATUS: Record<number, ScanPayErrorType> = {
  400: 'invalid_request',
  401: 'authentication',
  403: 'permission',
  404: 'not_found',
  409: 'conflict',
  413: 'invalid_request',
  415: 'invalid_request',
  429: 'rate_limited',
  502: 'channel_error',
}

/** Builds the error for a non-2xx answer, from the contract's error body when there is one. */
export function errorFromResponse(status: number, headers: Headers, text: string): ScanPayError {
  const requestId = headers.get('x-request-id') ?? undefined
  const retryAfter = parseRetryAfter(headers.get('retry-after'))
  let body: any = null
  try {
    body = JSON.parse(text)
  } catch {
    // Not ours (a proxy's HTML page, say): described below from the status alone.
  }
  const e = body && typeof body === 'object' ? body.error : undefined
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    return new ScanPayError({
      type: (typeof e.type === 'string' ? e.type : TYPE_BY_STATUS[status] ?? 'internal') as ScanPayErrorType,
      code: e.code,
      message: e.message,
      param: typeof e.param === 'string' ? e.param : undefined,
      status,
      requestId: typeof e.request_id === 'string' ? e.request_id : requestId,
      retryAfter,
    })
  }
  return new ScanPayError({
    type: TYPE_BY_STATUS[status] ?? 'internal',
    code: 'unexpected_response',
    message: `HTTP ${status} without a ScanPay error body${text ? `: ${text.slice(0, 200)}` : ''}`,
    status,
    requestId,
    retryAfter,
  })
}

/** Retry-After in seconds (the contract sends integer seconds; an HTTP date is accepted too). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim())
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000))
}
