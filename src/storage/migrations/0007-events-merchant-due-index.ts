// The webhook lease looks up the next due events of the merchants whose attempts just finished. Through the
// due-time index alone that meant reading past every other merchant's due events, and a merchant whose
// endpoint hangs keeps a backlog there: each lease read all of it (docs/performance.md). Only events still
// waiting carry next_attempt_at, so the partial index stays as small as the queue.
import type { Kysely, Migration } from 'kysely'

export const m0007EventsMerchantDueIndex: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('events_merchant_due_ix')
      .on('events')
      .columns(['merchant_id', 'next_attempt_at'])
      .where('next_attempt_at', 'is not', null)
      .execute()
  },
}
