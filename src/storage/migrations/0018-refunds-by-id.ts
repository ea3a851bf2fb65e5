// A refund found by its id alone, as an order is (0008): an operator who has only a merchant's rfd_… id
// (scanpay order show) must not make the database read every refund to find whose it is.
import type { Kysely, Migration } from 'kysely'

export const m0018RefundsById: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createIndex('refunds_id_ix').on('refunds').column('id').execute()
  },
}
