// At most one open (pending) attempt per order and channel: two customers' taps (or two nodes) opening the same
// order through the same channel at once must share one channel order, not open two the customer could both pay.
import { sql, type Kysely, type Migration } from 'kysely'

export const m0005OneOpenPayment: Migration = {
  async up(db: Kysely<any>) {
    // Duplicates left by the race this index now prevents: the newest attempt is the one a reopen shows, so it
    // stays open; older ones are closed here (a success notified for one is still applied, as for any closed attempt).
    await sql`UPDATE payments SET status = 'closed', next_check_at = NULL
      WHERE status = 'pending' AND EXISTS (
        SELECT 1 FROM payments newer
        WHERE newer.merchant_id = payments.merchant_id AND newer.order_id = payments.order_id
          AND newer.channel = payments.channel AND newer.status = 'pending'
          AND (newer.created_at > payments.created_at OR (newer.created_at = payments.created_at AND newer.id > payments.id)))`.execute(db)
    // A partial index, on both databases; its predicate is written out (not a parameter) so that
    // INSERT … ON CONFLICT can name it as its arbiter.
    await db.schema
      .createIndex('payments_one_open_uq')
      .on('payments')
      .columns(['merchant_id', 'order_id', 'channel'])
      .unique()
      .where(sql.ref('status'), '=', sql.lit('pending'))
      .execute()
  },
}
