// Row types of every table, as Kysely sees them. Times are integer milliseconds since the epoch; money is
// integer minor units; JSON is stored as text so both dialects read it the same way.
import type { Generated } from 'kysely'

export interface MerchantsTable {
  id: string
  name: string
  webhook_url: string | null
  /** AES-256-GCM ciphertext of the whsec_ secret. */
  webhook_secret_enc: string
  created_at: number
  /** The secret a roll replaced, sealed; deliveries are signed with it too until `retiring_webhook_secret_until`. */
  retiring_webhook_secret_enc: string | null
  retiring_webhook_secret_until: number | null
}

export interface ApiKeysTable {
  id: string
  merchant_id: string
  mode: 'test' | 'live'
  /** SHA-256 of the secret, for Bearer lookups without decrypting. */
  secret_hash: string
  /** AES-256-GCM ciphertext of the secret, needed to verify HMAC signatures. */
  secret_enc: string
  created_at: number
  revoked_at: number | null
}

export interface OrdersTable {
  id: string
  merchant_id: string
  mode: 'test' | 'live'
  status: string
  out_trade_no: string
  amount: number
  amount_refunded: number
  currency: string
  subject: string
  description: string | null
  metadata: string
  channels: string
  notify_url: string | null
  return_url: string | null
  pay_token: string
  channel: string | null
  channel_trade_no: string | null
  request_hash: string
  created_at: number
  expires_at: number
  paid_at: number | null
  closed_at: number | null
  updated_at: number
}

/** The order's refund accounting (migration 0002), kept apart so an inserted order need not name it. */
export interface OrderRefundColumns {
  /** The sum of the order's pending and succeeded refunds; never above amount. */
  amount_refund_reserved: Generated<number>
}

export interface RefundsTable {
  id: string
  merchant_id: string
  mode: 'test' | 'live'
  order_id: string
  amount: number
  currency: string
  status: string
  out_refund_no: string
  reason: string | null
  failure_reason: string | null
  channel: string
  channel_refund_no: string | null
  request_hash: string
  created_at: number
  succeeded_at: number | null
  failed_at: number | null
  updated_at: number
  /** When the reconciliation job next asks the channel about this refund while it is pending. */
  next_check_at: number
  check_count: number
}

export interface PaymentsTable {
  id: string
  merchant_id: string
  order_id: string
  channel: string
  status: string
  amount: number
  currency: string
  channel_trade_no: string | null
  /** 1 when a success arrived for an order that was no longer pending. */
  unexpected: number
  created_at: number
  updated_at: number
  /** The channel's code_url / qr_code for this attempt (migration 0004). */
  qr_content: string | null
  /** When the reconciler next asks the channel about this attempt; null when nothing is left to ask. */
  next_check_at: number | null
  check_count: Generated<number>
  /** Why the channel last refused to refund this unexpected payment, while a person must act (migration 0017). */
  refund_refused_reason: string | null
}

/** A merchant's credentials for one real channel (migration 0003), sealed with the master key. */
export interface ChannelCredentialsTable {
  merchant_id: string
  channel: string
  account_id: string
  credentials_enc: string
  created_at: number
  updated_at: number
}

export interface BillChecksTable {
  merchant_id: string
  channel: string
  bill_date: string
  status: 'running' | 'matched' | 'discrepancies' | 'failed'
  attempts: number
  lines: number | null
  discrepancies: number | null
  details: string | null
  last_error: string | null
  lease_until: number
  next_attempt_at: number
  created_at: number
  updated_at: number
}

export interface EventsTable {
  id: string
  merchant_id: string
  mode: 'test' | 'live'
  order_id: string
  type: string
  data: string
  /** Where the order asked its events to go; null means the merchant's default URL at delivery time. */
  notify_url: string | null
  created_at: number
  delivery_status: string
  attempt_count: number
  next_attempt_at: number | null
  /** A worker's lease: others skip the event until this time passes. */
  locked_until: number | null
  /** 1 when a redelivery asked for exactly one more attempt outside the retry schedule. */
  one_shot: number
}

export interface WebhookDeliveriesTable {
  id: string
  merchant_id: string
  event_id: string
  url: string | null
  attempted_at: number
  status_code: number | null
  latency_ms: number
  error: string | null
}

export interface NoncesTable {
  key_id: string
  nonce: string
  expires_at: number
}

export interface IdempotencyKeysTable {
  merchant_id: string
  mode: 'test' | 'live'
  key: string
  request_hash: string
  status_code: number
  response_body: string
  created_at: number
  expires_at: number
}

export interface ChannelNotificationsTable {
  id: string
  channel: string
  /** The channel's own id for this notification, unique per channel and merchant (dedupe, migration 0014). */
  notification_id: string
  merchant_id: string | null
  /** merchant_id, or '' when there is none: the dedupe key's merchant, never NULL so that it compares equal. */
  merchant_key: string
  payment_id: string | null
  received_at: number
  outcome: string
  raw_body: string
}

export interface Database {
  merchants: MerchantsTable
  api_keys: ApiKeysTable
  orders: OrdersTable & OrderRefundColumns
  payments: PaymentsTable
  events: EventsTable
  webhook_deliveries: WebhookDeliveriesTable
  nonces: NoncesTable
  idempotency_keys: IdempotencyKeysTable
  channel_notifications: ChannelNotificationsTable
  refunds: RefundsTable
  channel_credentials: ChannelCredentialsTable
  bill_checks: BillChecksTable
}
