// What an open channel attempt needs beyond the payment row of 0001: the QR content the channel gave (shown
// again without a second channel order) and the reconciler's schedule for asking the channel about it.
import { type Kysely, type Migration } from 'kysely'

export const m0004ChannelPayments: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('payments').addColumn('qr_content', 'varchar(512)').execute()
    await db.schema.alterTable('payments').addColumn('next_check_at', 'bigint').execute()
    await db.schema.alterTable('payments').addColumn('check_count', 'integer', (c) => c.notNull().defaultTo(0)).execute()
    // The reconciler's queue: only attempts still open (or awaiting an automatic refund) carry next_check_at.
    await db.schema.createIndex('payments_check_ix').on('payments').column('next_check_at').execute()
    await db.schema.createIndex('payments_open_ix').on('payments').columns(['merchant_id', 'order_id', 'channel', 'status']).execute()
  },
}
