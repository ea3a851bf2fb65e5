// Pay tokens now carry their order's id, encrypted (src/core/pay-tokens.ts): the checkout finds the order
// through an index on the id, which grows in time order, instead of an index on the random token, which
// put every new order on a random page (half an insert's cost on SQLite, more as the table grew). Tokens of
// the earlier, purely random shape (32 characters) stay findable through a partial index that new orders,
// with 43-character tokens, never enter.
import { sql, type Kysely, type Migration } from 'kysely'

export const m0008OrdersById: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createIndex('orders_id_ix').on('orders').column('id').execute()
    await db.schema
      .createIndex('orders_legacy_pay_token_ix')
      .on('orders')
      .column('pay_token')
      .where(sql<boolean>`length(pay_token) = 32`)
      .execute()
    await db.schema.dropIndex('orders_pay_token_ix').execute()
  },
}
