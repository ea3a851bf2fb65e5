// Refunds: their table, and the order's refund reservation (the sum of its pending and succeeded refunds),
// which a conditional UPDATE checks against the amount paid so concurrent refunds cannot overspend it.
import { type Kysely, type Migration } from 'kysely'

const BIG = 'bigint' as const

export const m0002Refunds: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('orders')
      .addColumn('amount_refund_reserved', BIG, (c) => c.notNull().defaultTo(0))
      .execute()

    await db.schema
      .createTable('refunds')
      .addColumn('merchant_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('id', 'varchar(40)', (c) => c.notNull())
      .addColumn('mode', 'varchar(8)', (c) => c.notNull())
      .addColumn('order_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('amount', BIG, (c) => c.notNull())
      .addColumn('currency', 'varchar(3)', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('out_refund_no', 'varchar(64)', (c) => c.notNull())
      .addColumn('reason', 'varchar(256)')
      .addColumn('failure_reason', 'varchar(512)')
      .addColumn('channel', 'varchar(24)', (c) => c.notNull())
      .addColumn('channel_refund_no', 'varchar(64)')
      .addColumn('request_hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('created_at', BIG, (c) => c.notNull())
      .addColumn('succeeded_at', BIG)
      .addColumn('failed_at', BIG)
      .addColumn('updated_at', BIG, (c) => c.notNull())
      .addColumn('next_check_at', BIG, (c) => c.notNull())
      .addColumn('check_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('refunds_pk', ['merchant_id', 'id'])
      .addUniqueConstraint('refunds_out_refund_no_uq', ['merchant_id', 'mode', 'out_refund_no'])
      .execute()
    await db.schema
      .createIndex('refunds_order_ix')
      .on('refunds')
      .columns(['merchant_id', 'order_id', 'created_at', 'id'])
      .execute()
    // The reconciliation job's queue: pending refunds by when they are next due a question to the channel.
    await db.schema.createIndex('refunds_check_ix').on('refunds').columns(['status', 'next_check_at']).execute()
  },
}
