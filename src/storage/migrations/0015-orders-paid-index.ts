// The daily bill check's other direction (src/channels/daily-bills.ts): a merchant's orders paid through a channel
// during a Beijing day, which must all be on that day's bill. Partial: only paid orders carry paid_at, so creating
// an order costs this index nothing; it is written once, when the order is paid.
import { sql, type Kysely, type Migration } from 'kysely'

export const m0015OrdersPaidIndex: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('orders_paid_ix')
      .on('orders')
      .columns(['merchant_id', 'channel', 'paid_at'])
      .where(sql.ref('paid_at'), 'is not', sql.lit(null))
      .execute()
  },
}
