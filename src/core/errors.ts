// One error type for everything the API can refuse; one table maps its type to an HTTP status.

export type ErrorType =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'rate_limited'
  | 'channel_error'
  | 'internal'

export const STATUS_BY_TYPE: Record<ErrorType, number> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  channel_error: 502,
  internal: 500,
}

/** Every error code the platform emits, with its type. docs/errors.md lists exactly these (a test checks). */
export const ERROR_CODES = {
  parameter_invalid: 'invalid_request',
  parameter_missing: 'invalid_request',
  parameter_unknown: 'invalid_request',
  amount_invalid: 'invalid_request',
  body_invalid: 'invalid_request',
  request_invalid: 'invalid_request',
  body_too_large: 'invalid_request',
  unsupported_media_type: 'invalid_request',
  cursor_invalid: 'invalid_request',
  url_not_allowed: 'invalid_request',
  channel_unavailable: 'invalid_request',
  authentication_required: 'authentication',
  authentication_invalid: 'authentication',
  signature_invalid: 'authentication',
  timestamp_out_of_window: 'authentication',
  nonce_reused: 'authentication',
  test_mode_only: 'permission',
  live_mode_only: 'permission',
  resource_missing: 'not_found',
  route_missing: 'not_found',
  out_trade_no_conflict: 'conflict',
  idempotency_key_reused: 'conflict',
  idempotency_key_in_use: 'conflict',
  order_paid: 'conflict',
  order_not_pending: 'conflict',
  out_refund_no_conflict: 'conflict',
  order_not_refundable: 'conflict',
  refund_exceeds_payment: 'conflict',
  rate_limited: 'rate_limited',
  channel_failed: 'channel_error',
  internal_error: 'internal',
  service_unavailable: 'internal',
} as const satisfies Record<string, ErrorType>

/** Codes whose status is not their type's: a server stopping answers 503, which balancers retry elsewhere. */
const STATUS_BY_CODE: Partial<Record<keyof typeof ERROR_CODES, number>> = { service_unavailable: 503 }

export type ErrorCode = keyof typeof ERROR_CODES

export class AppError extends Error {
  readonly type: ErrorType
  readonly status: number
  /** Extra headers the response must carry (e.g. Retry-After). */
  headers?: Record<string, string>

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param?: string,
  ) {
    super(message)
    this.name = 'AppError'
    this.type = ERROR_CODES[code]
    this.status = STATUS_BY_CODE[code] ?? STATUS_BY_TYPE[this.type]
  }
}

export function notFound(what: string, param?: string): AppError {
  return new AppError('resource_missing', `No such ${what}`, param)
}
