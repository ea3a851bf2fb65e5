// Refund events written before the thirtieth session held the refund as `data`, with the order under
// `data.order`; the contract's `data` is the order for every event. Their stored data is rewritten to the
// contract's shape (the order, with the refund as `data.refund`), so an event delivered or listed after the
// upgrade, a retry included, reads as every newer one does. Event data is frozen JSON text, so this is done
// row by row, in pages, rather than by each database's own JSON functions.
import type { Kysely, Migration } from 'kysely'

const PAGE = 500

/** The contract's shape of a refund event's data, from the old one; null when the data is not the old shape. */
export function refundEventDataInOrderShape(data: string): string | null {
  const old = JSON.parse(data) as { object?: unknown; order?: unknown }
  if (old.object !== 'refund' || typeof old.order !== 'object' || old.order === null) return null
  const { order, ...refund } = old
  return JSON.stringify({ ...(order as Record<string, unknown>), refund })
}

export const m0019RefundEventsOrderData: Migration = {
  async up(db: Kysely<any>) {
    let after = { merchantId: '', id: '' }
    for (;;) {
      const rows: { merchant_id: string; id: string; data: string }[] = await db
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
        if (data !== null) await db.updateTable('events').set({ data }).where('merchant_id', '=', row.merchant_id).where('id', '=', row.id).execute()
      }
      if (rows.length < PAGE) return
      after = { merchantId: rows.at(-1)!.merchant_id, id: rows.at(-1)!.id }
    }
  },
}
