// A channel notification is a duplicate only of one for the same merchant: the dedupe key becomes (channel,
// merchant, notification id). Under (channel, notification id) alone, whoever held one merchant's channel keys
// could post a verified notification under an id another merchant's genuine notification will later carry, and
// that one would be taken for a duplicate (its payment then waiting for the reconciler).
//
// The merchant goes into a new NOT NULL column, merchant_key: a notification that names no merchant has '' there,
// since a unique constraint treats NULLs as distinct and would never call two such notifications duplicates.
// merchant_id keeps its meaning (NULL when there is no merchant). Existing rows were unique on the narrower key,
// so they are unique on this one too.
import { sql, type Kysely, type Migration } from 'kysely'

/** Whether db speaks PostgreSQL: its compiler numbers parameters ($1), SQLite's marks them (?). */
const isPostgres = (db: Kysely<any>) => sql`select ${1}`.compile(db).sql.includes('$1')

const COLUMNS = ['id', 'channel', 'notification_id', 'merchant_id', 'payment_id', 'received_at', 'outcome', 'raw_body'] as const

export const m0014ChannelNotificationsPerMerchant: Migration = {
  async up(db: Kysely<any>) {
    if (isPostgres(db)) {
      // The migrator runs this in a transaction on PostgreSQL.
      await db.schema.alterTable('channel_notifications').addColumn('merchant_key', 'varchar(40)', (c) => c.notNull().defaultTo('')).execute()
      await sql`UPDATE channel_notifications SET merchant_key = merchant_id WHERE merchant_id IS NOT NULL`.execute(db)
      // Every insert names the key, as on SQLite, where the column has no default.
      await db.schema.alterTable('channel_notifications').alterColumn('merchant_key', (c) => c.dropDefault()).execute()
      await db.schema.alterTable('channel_notifications').dropConstraint('channel_notifications_uq').execute()
      await db.schema
        .alterTable('channel_notifications')
        .addUniqueConstraint('channel_notifications_merchant_uq', ['channel', 'merchant_key', 'notification_id'])
        .execute()
      return
    }
    // SQLite cannot drop the old constraint (it is part of the table), so the table is rebuilt, in one transaction
    // of its own: the migrator gives SQLite none, and a rebuild stopped halfway must leave the old table as it was.
    await db.transaction().execute(async (trx) => {
      await trx.schema
        .createTable('channel_notifications_0014')
        .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
        .addColumn('channel', 'varchar(24)', (c) => c.notNull())
        .addColumn('notification_id', 'varchar(128)', (c) => c.notNull())
        .addColumn('merchant_id', 'varchar(40)')
        .addColumn('payment_id', 'varchar(40)')
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('outcome', 'varchar(40)', (c) => c.notNull())
        .addColumn('raw_body', 'text', (c) => c.notNull())
        // Last, where PostgreSQL's ADD COLUMN puts it, so both databases list the columns alike.
        .addColumn('merchant_key', 'varchar(40)', (c) => c.notNull())
        .addUniqueConstraint('channel_notifications_merchant_uq', ['channel', 'merchant_key', 'notification_id'])
        .execute()
      await trx
        .insertInto('channel_notifications_0014')
        .columns([...COLUMNS, 'merchant_key'])
        .expression((eb) => eb.selectFrom('channel_notifications').select([...COLUMNS, sql<string>`coalesce(merchant_id, '')`.as('merchant_key')]))
        .execute()
      await trx.schema.dropTable('channel_notifications').execute()
      await trx.schema.alterTable('channel_notifications_0014').renameTo('channel_notifications').execute()
    })
  },
}
