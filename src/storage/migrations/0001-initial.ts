// The first schema. Every table a merchant can reach carries merchant_id and leads its keys with it, so the
// schema can be distributed by merchant_id (e.g. Citus) without change.
import { type Kysely, type Migration } from 'kysely'

// bigint holds millisecond times and minor-unit amounts on PostgreSQL; SQLite's integer is 64-bit anyway.
const BIG = 'bigint' as const

export const m0001Initial: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('merchants')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(128)', (c) => c.notNull())
      .addColumn('webhook_url', 'varchar(1024)')
      .addColumn('webhook_secret_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', BIG, (c) => c.notNull())
      .execute()

    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('merchant_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('mode', 'varchar(8)', (c) => c.notNull())
      .addColumn('secret_hash', 'varchar(64)', (c) => c.notNull().unique())
      .addColumn('secret_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', BIG, (c) => c.notNull())
      .addColumn('revoked_at', BIG)
      .execute()

    await db.schema
      .createTable('orders')
      .addColumn('merchant_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('id', 'varchar(40)', (c) => c.notNull())
      .addColumn('mode', 'varchar(8)', (c) => c.notNull())
      .addColumn('status', 'varchar(24)', (c) => c.notNull())
      .addColumn('out_trade_no', 'varchar(64)', (c) => c.notNull())
      .addColumn('amount', BIG, (c) => c.notNull())
      .addColumn('amount_refunded', BIG, (c) => c.notNull().defaultTo(0))
      .addColumn('currency', 'varchar(3)', (c) => c.notNull())
      .addColumn('subject', 'varchar(128)', (c) => c.notNull())
      .addColumn('description', 'varchar(512)')
      .addColumn('metadata', 'text', (c) => c.notNull())
      .addColumn('channels', 'varchar(128)', (c) => c.notNull())
      .addColumn('notify_url', 'varchar(1024)')
      .addColumn('return_url', 'varchar(1024)')
      .addColumn('pay_token', 'varchar(64)', (c) => c.notNull())
      .addColumn('channel', 'varchar(24)')
      .addColumn('channel_trade_no', 'varchar(64)')
      .addColumn('request_hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('created_at', BIG, (c) => c.notNull())
      .addColumn('expires_at', BIG, (c) => c.notNull())
      .addColumn('paid_at', BIG)
      .addColumn('closed_at', BIG)
      .addColumn('updated_at', BIG, (c) => c.notNull())
      .addPrimaryKeyConstraint('orders_pk', ['merchant_id', 'id'])
      .addUniqueConstraint('orders_out_trade_no_uq', ['merchant_id', 'mode', 'out_trade_no'])
      .execute()
    // Tokens carry 192 random bits, so this index need not be unique (a distributed table could not enforce it).
    await db.schema.createIndex('orders_pay_token_ix').on('orders').column('pay_token').execute()
    await db.schema
      .createIndex('orders_list_ix')
      .on('orders')
      .columns(['merchant_id', 'mode', 'created_at', 'id'])
      .execute()
    await db.schema.createIndex('orders_expiry_ix').on('orders').columns(['status', 'expires_at']).execute()

    await db.schema
      .createTable('payments')
      .addColumn('merchant_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('id', 'varchar(40)', (c) => c.notNull())
      .addColumn('order_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('channel', 'varchar(24)', (c) => c.notNull())
      .addColumn('status', 'varchar(24)', (c) => c.notNull())
      .addColumn('amount', BIG, (c) => c.notNull())
      .addColumn('currency', 'varchar(3)', (c) => c.notNull())
      .addColumn('channel_trade_no', 'varchar(64)')
      .addColumn('unexpected', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', BIG, (c) => c.notNull())
      .addColumn('updated_at', BIG, (c) => c.notNull())
      .addPrimaryKeyConstraint('payments_pk', ['merchant_id', 'id'])
      .execute()
    await db.schema.createIndex('payments_order_ix').on('payments').columns(['merchant_id', 'order_id']).execute()
    await db.schema.createIndex('payments_id_ix').on('payments').column('id').execute()

    await db.schema
      .createTable('events')
      .addColumn('merchant_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('id', 'varchar(40)', (c) => c.notNull())
      .addColumn('mode', 'varchar(8)', (c) => c.notNull())
      .addColumn('order_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('type', 'varchar(40)', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('notify_url', 'varchar(1024)')
      .addColumn('created_at', BIG, (c) => c.notNull())
      .addColumn('delivery_status', 'varchar(16)', (c) => c.notNull())
      .addColumn('attempt_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', BIG)
      .addColumn('locked_until', BIG)
      .addColumn('one_shot', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('events_pk', ['merchant_id', 'id'])
      .execute()
    await db.schema
      .createIndex('events_list_ix')
      .on('events')
      .columns(['merchant_id', 'mode', 'created_at', 'id'])
      .execute()
    await db.schema.createIndex('events_order_ix').on('events').columns(['merchant_id', 'order_id']).execute()
    // The delivery queue: only rows still waiting carry next_attempt_at, so the index stays small.
    await db.schema.createIndex('events_due_ix').on('events').column('next_attempt_at').execute()

    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('merchant_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('id', 'varchar(40)', (c) => c.notNull())
      .addColumn('event_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('url', 'varchar(1024)')
      .addColumn('attempted_at', BIG, (c) => c.notNull())
      .addColumn('status_code', 'integer')
      .addColumn('latency_ms', 'integer', (c) => c.notNull())
      .addColumn('error', 'varchar(512)')
      .addPrimaryKeyConstraint('webhook_deliveries_pk', ['merchant_id', 'id'])
      .execute()
    await db.schema
      .createIndex('webhook_deliveries_event_ix')
      .on('webhook_deliveries')
      .columns(['merchant_id', 'event_id'])
      .execute()

    await db.schema
      .createTable('nonces')
      .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('nonce', 'varchar(64)', (c) => c.notNull())
      .addColumn('expires_at', BIG, (c) => c.notNull())
      .addPrimaryKeyConstraint('nonces_pk', ['key_id', 'nonce'])
      .execute()
    await db.schema.createIndex('nonces_expiry_ix').on('nonces').column('expires_at').execute()

    await db.schema
      .createTable('idempotency_keys')
      .addColumn('merchant_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('mode', 'varchar(8)', (c) => c.notNull())
      .addColumn('key', 'varchar(255)', (c) => c.notNull())
      .addColumn('request_hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('status_code', 'integer', (c) => c.notNull())
      .addColumn('response_body', 'text', (c) => c.notNull())
      .addColumn('created_at', BIG, (c) => c.notNull())
      .addColumn('expires_at', BIG, (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_keys_pk', ['merchant_id', 'mode', 'key'])
      .execute()
    await db.schema.createIndex('idempotency_expiry_ix').on('idempotency_keys').column('expires_at').execute()

    await db.schema
      .createTable('channel_notifications')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('channel', 'varchar(24)', (c) => c.notNull())
      .addColumn('notification_id', 'varchar(128)', (c) => c.notNull())
      .addColumn('merchant_id', 'varchar(40)')
      .addColumn('payment_id', 'varchar(40)')
      .addColumn('received_at', BIG, (c) => c.notNull())
      .addColumn('outcome', 'varchar(40)', (c) => c.notNull())
      .addColumn('raw_body', 'text', (c) => c.notNull())
      .addUniqueConstraint('channel_notifications_uq', ['channel', 'notification_id'])
      .execute()
  },
}
