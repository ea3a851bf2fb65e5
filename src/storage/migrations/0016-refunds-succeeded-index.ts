// The daily bill check's other direction for refunds (src/channels/daily-bills.ts): a merchant's refunds through a
// channel that succeeded during a Beijing day, which must all be on a bill. Partial: only succeeded refunds carry
// succeeded_at, so a pending or failed one costs this index nothing.
import { sql, type Kysely, type Migration } from 'kysely'

export const m0016RefundsSucceededIndex: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('refunds_succeeded_ix')
      .on('refunds')
      .columns(['merchant_id', 'channel', 'succeeded_at'])
      .where(sql.ref('succeeded_at'), 'is not', sql.lit(null))
      .execute()
  },
}
