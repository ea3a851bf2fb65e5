// The API's JSON schemas (TypeBox): Fastify validates requests with them and the OpenAPI document is built
// from the same objects. Every object rejects unknown fields.
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { DESCRIPTION_PATTERN, MAX_AMOUNT, SUBJECT_PATTERN } from '../../sdk/src/signing.ts'
import { EVENT_TYPES } from '../core/events.ts'

const Url = Type.String({ minLength: 1, maxLength: 1024, pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
/** A page of a list (presentList): its items, whether more follow, and the cursor of the next page. */
const ListOf = <T extends TSchema>(item: T) =>
  Type.Object({ object: Type.Literal('list'), data: Type.Array(item), has_more: Type.Boolean(), next_cursor: Nullable(Type.String()) })

export const CHANNEL_NAMES = ['sandbox', 'wechatpay', 'alipay'] as const

export const CreateOrderBody = Type.Object(
  {
    out_trade_no: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_\\-.|*]+$' }),
    amount: Type.Integer({ minimum: 1, maximum: MAX_AMOUNT }),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    subject: Type.String({ minLength: 1, maxLength: 128, pattern: SUBJECT_PATTERN }),
    description: Type.Optional(Nullable(Type.String({ maxLength: 512, pattern: DESCRIPTION_PATTERN }))),
    notify_url: Type.Optional(Nullable(Url)),
    return_url: Type.Optional(Nullable(Url)),
    expires_in: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
    channels: Type.Optional(
      Type.Array(Type.Union(CHANNEL_NAMES.map((c) => Type.Literal(c))), { minItems: 1, maxItems: 3, uniqueItems: true }),
    ),
    metadata: Type.Optional(
      Type.Object({}, {
        maxProperties: 20,
        // `__proto__` would be lost on the way to storage (assigning it sets no key): refused, not dropped.
        propertyNames: { minLength: 1, maxLength: 40, not: { const: '__proto__' } },
        additionalProperties: Type.String({ maxLength: 500 }),
      }),
    ),
  },
  { additionalProperties: false },
)
export type CreateOrderBody = Static<typeof CreateOrderBody>

export const CreateRefundBody = Type.Object(
  {
    amount: Type.Integer({ minimum: 1, maximum: MAX_AMOUNT }),
    out_refund_no: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_\\-.|*]+$' }),
    // Channels show it to the payer (WeChat Pay's refund notice): the description's rules.
    reason: Type.Optional(Nullable(Type.String({ maxLength: 256, pattern: DESCRIPTION_PATTERN }))),
  },
  { additionalProperties: false },
)
export type CreateRefundBody = Static<typeof CreateRefundBody>

/** Human messages for each field's rules, used in 400 errors. */
export const FIELD_RULES: Record<string, string> = {
  out_trade_no: 'out_trade_no must be 1-64 characters of A-Z a-z 0-9 _ - . | *',
  amount: 'amount must be an integer from 1 to 100000000000',
  currency: 'currency must be an ISO 4217 code of three upper-case letters, e.g. CNY',
  subject: 'subject must be a string of 1-128 characters on one line, not only spaces or invisible marks, without control or bidirectional override characters',
  description: 'description must be a string of at most 512 characters without control (other than line breaks and tabs) or bidirectional override characters',
  notify_url: 'notify_url must be an http(s) URL of at most 1024 characters',
  return_url: 'return_url must be an http(s) URL of at most 1024 characters',
  expires_in: 'expires_in must be an integer number of seconds from 60 to 86400',
  channels: 'channels must be a non-empty list of distinct names among sandbox, wechatpay, alipay',
  metadata: 'metadata must be an object of at most 20 keys of 1-40 characters with string values of at most 500 characters',
  limit: 'limit must be an integer from 1 to 100',
  created_gte: 'created_gte must be an ISO 8601 time with its offset, a date, or unix seconds',
  created_lt: 'created_lt must be an ISO 8601 time with its offset, a date, or unix seconds',
  cursor: 'cursor must be a next_cursor returned by a previous page',
  order_id: 'order_id must be an order id',
  out_refund_no: 'out_refund_no must be 1-64 characters of A-Z a-z 0-9 _ - . | *',
  reason: 'reason must be a string of at most 256 characters without control (other than line breaks and tabs) or bidirectional override characters',
}

export const ListOrdersQuery = Type.Object(
  {
    out_trade_no: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_\\-.|*]+$' })),
    status: Type.Optional(
      Type.Union(['pending', 'paid', 'expired', 'closed', 'partially_refunded', 'refunded'].map((s) => Type.Literal(s))),
    ),
    created_gte: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    created_lt: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
)
export type ListOrdersQuery = Static<typeof ListOrdersQuery>

export const ListEventsQuery = Type.Object(
  {
    order_id: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
)
export type ListEventsQuery = Static<typeof ListEventsQuery>

export const ListRefundsQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
)
export type ListRefundsQuery = Static<typeof ListRefundsQuery>

export const ListBillChecksQuery = Type.Object(
  {
    channel: Type.Optional(Type.Union([Type.Literal('wechatpay'), Type.Literal('alipay')])),
    status: Type.Optional(Type.Union(['running', 'matched', 'discrepancies', 'failed'].map((s) => Type.Literal(s)))),
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
)
export type ListBillChecksQuery = Static<typeof ListBillChecksQuery>

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false })
export type IdParams = Static<typeof IdParams>

/** The query of a route that takes none: any parameter is unknown (400 parameter_unknown), as on the lists. */
export const NoQuery = Type.Object({}, { additionalProperties: false })

export const EmptyBody = Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()])

export const OrderResource = Type.Object({
  id: Type.String(),
  object: Type.Literal('order'),
  mode: Type.Union([Type.Literal('test'), Type.Literal('live')]),
  status: Type.String(),
  out_trade_no: Type.String(),
  amount: Type.Integer(),
  amount_refunded: Type.Integer(),
  currency: Type.String(),
  subject: Type.String(),
  description: Nullable(Type.String()),
  metadata: Type.Record(Type.String(), Type.String()),
  pay_url: Type.String(),
  qr_code: Type.Object({ content: Type.String(), svg_url: Type.String(), png_url: Type.String() }),
  channel: Nullable(Type.String()),
  channel_trade_no: Nullable(Type.String()),
  notify_url: Nullable(Type.String()),
  return_url: Nullable(Type.String()),
  created_at: Type.String(),
  expires_at: Type.String(),
  paid_at: Nullable(Type.String()),
  closed_at: Nullable(Type.String()),
})

export const OrderList = ListOf(OrderResource)

export const EventResource = Type.Object({
  id: Type.String(),
  object: Type.Literal('event'),
  type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
  order_id: Type.String(),
  created_at: Type.String(),
  /** What the webhook's `data` carries, as it was at the change: the order, or a refund or payment with its order. */
  data: Type.Record(Type.String(), Type.Unknown()),
  delivery_status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Array(
    Type.Object({ at: Type.String(), status_code: Nullable(Type.Integer()), latency_ms: Type.Integer(), error: Nullable(Type.String()) }),
  ),
})

export const EventList = ListOf(EventResource)

export const RefundResource = Type.Object({
  id: Type.String(),
  object: Type.Literal('refund'),
  order_id: Type.String(),
  amount: Type.Integer(),
  currency: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  out_refund_no: Type.String(),
  reason: Nullable(Type.String()),
  failure_reason: Nullable(Type.String()),
  created_at: Type.String(),
  succeeded_at: Nullable(Type.String()),
})

export const RefundList = ListOf(RefundResource)

export const BillDiscrepancyResource = Type.Object({
  kind: Type.Union(
    ['unknown_payment', 'not_recorded_as_paid', 'amount_mismatch', 'trade_no_mismatch', 'unknown_refund', 'refund_not_recorded_as_succeeded', 'refund_recorded_as_succeeded', 'refund_amount_mismatch', 'missing_from_bill', 'refund_missing_from_bill'].map((k) => Type.Literal(k)),
  ),
  payment_id: Type.String(),
  order_id: Nullable(Type.String()),
  channel_trade_no: Nullable(Type.String()),
  amount: Type.Integer(),
  refund_no: Nullable(Type.String()),
  refund_id: Nullable(Type.String()),
  our_amount: Nullable(Type.Integer()),
  our_channel_trade_no: Nullable(Type.String()),
  our_payment_status: Nullable(Type.String()),
  our_refund_status: Nullable(Type.String()),
  /** missing_from_bill: when we recorded the order paid, and what the channel, asked, said of the payment. */
  paid_at: Nullable(Type.String()),
  /** refund_missing_from_bill: when we recorded the refund succeeded (the refund's succeeded_at). */
  refund_succeeded_at: Nullable(Type.String()),
  /** missing_from_bill, refund_missing_from_bill: what the channel, asked, said of the payment or refund. */
  channel_status: Nullable(Type.String()),
  /** The same: the day the channel dates it on, when not this bill's day; that day's bill does not list it either. */
  channel_bill_date: Nullable(Type.String()),
})

export const BillCheckResource = Type.Object({
  object: Type.Literal('bill_check'),
  channel: Type.String(),
  bill_date: Type.String(),
  status: Type.Union(['running', 'matched', 'discrepancies', 'failed'].map((s) => Type.Literal(s))),
  attempts: Type.Integer(),
  lines: Nullable(Type.Integer()),
  discrepancies: Nullable(Type.Integer()),
  discrepancy_details: Type.Array(BillDiscrepancyResource),
  last_error: Nullable(Type.String()),
  next_attempt_at: Nullable(Type.String()),
  updated_at: Type.String(),
})

export const BillCheckList = ListOf(BillCheckResource)

export const ErrorResource = Type.Object({
  error: Type.Object({
    type: Type.String(),
    code: Type.String(),
    message: Type.String(),
    param: Nullable(Type.String()),
    request_id: Type.String(),
  }),
})
