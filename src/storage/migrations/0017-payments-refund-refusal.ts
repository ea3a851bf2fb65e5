// Why the channel refused to give an unexpected payment back, kept on the payment: the operator who must act on
// it (scanpay unexpected list) reads the cause there instead of searching the server's log for it.
import type { Kysely, Migration } from 'kysely'

export const m0017PaymentsRefundRefusal: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('payments').addColumn('refund_refused_reason', 'text').execute()
  },
}
