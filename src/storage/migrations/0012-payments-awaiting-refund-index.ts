// The operator's list of unexpected payments whose money is still to be given back (`scanpay unexpected list`).
// Partial: it holds only the few payments in refund_requested, so the many succeeded ones cost it nothing, and
// the list reads a handful of entries instead of every payment ever made (of all merchants, or of one).
import { sql, type Kysely, type Migration } from 'kysely'

export const m0012PaymentsAwaitingRefundIndex: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('payments_awaiting_refund_ix')
      .on('payments')
      .columns(['merchant_id', 'created_at', 'id'])
      .where(sql.ref('status'), '=', sql.lit('refund_requested'))
      .execute()
  },
}
