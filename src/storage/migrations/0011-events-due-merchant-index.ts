// The webhook lease's look for other merchants' due events reads the queue in due order and skips the
// merchants at their cap (one whose endpoint hangs keeps its whole backlog there). Through an index of the due
// time alone, each skipped entry cost a seek into the table to read its merchant; with the merchant in the
// index entry it is skipped where it lies: the look cost a third as much in a loop over a hanging merchant's
// backlog (docs/performance.md). Only events still waiting carry next_attempt_at, so the partial index holds
// the queue, not every event ever written as the old one did.
import type { Kysely, Migration } from 'kysely'

export const m0011EventsDueMerchantIndex: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('events_due_merchant_ix')
      .on('events')
      .columns(['next_attempt_at', 'merchant_id'])
      .where('next_attempt_at', 'is not', null)
      .execute()
    await db.schema.dropIndex('events_due_ix').execute()
  },
}
