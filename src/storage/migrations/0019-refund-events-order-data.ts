// Refund events written before the thirtieth session held the refund as `data`, with the order under
// `data.order`; the contract's `data` is the order for every event. Their stored data is rewritten to the
// contract's shape (the order, with the refund as `data.refund`), so storage holds one shape. Event data is frozen
// JSON text, so this is done row by row, a page per transaction (one commit, not one per row, on SQLite, whose
// migrations Kysely runs outside a transaction), rather than by each database's own JSON functions. Events an
// older node writes during a rolling upgrade are put in the same shape when read (refund-event-shape.ts).
import type { Kysely, Migration } from 'kysely'
import { refundEventInOrderShape } from '../refund-event-shape.ts'

const PAGE = 500

/** The contract's shape of a refund event's stored data, from the old one; null when it is not the old shape. */
export function refundEventDataInOrderShape(data: string): string | null {
  const old: unknown = JSON.parse(data)
  const shaped = refundEventInOrderShape(old)
  return shaped === old ? null : JSON.stringify(shaped)
}

export const m0019RefundEventsOrderData: Migration = {
  async up(db: Kysely<any>) {
    let after = { merchantId: '', id: '' }
    for (;;) {
      // PostgreSQL's migrations already run in a transaction (Kysely's, for the whole migration).
      const page = <T>(fn: (tx: Kysely<any>) => Promise<T>) => (db.isTransaction ? fn(db) : db.transaction().execute(fn))
      const last = await page(async (tx) => {
        const rows: { merchant_id: string; id: string; data: string }[] = await tx
          .selectFrom('events')
          .select(['merchant_id', 'id', 'data'])
          .where('type', 'in', ['refund.succeeded', 'refund.failed'])
          .where((eb) => eb.or([eb('merchant_id', '>', after.merchantId), eb.and([eb('merchant_id', '=', after.merchantId), eb('id', '>', after.id)])]))
          .orderBy('merchant_id')
          .orderBy('id')
          .limit(PAGE)
          .execute()
        for (const row of rows) {
          const data = refundEventDataInOrderShape(row.data)
          if (data !== null) await tx.updateTable('events').set({ data }).where('merchant_id', '=', row.merchant_id).where('id', '=', row.id).execute()
        }
        return rows.length < PAGE ? null : { merchantId: rows.at(-1)!.merchant_id, id: rows.at(-1)!.id }
      })
      if (last === null) return
      after = last
    }
  },
}
