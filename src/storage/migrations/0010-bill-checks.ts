// The daily bill checks: one row per merchant, channel and Beijing day, written by whichever node claimed the
// check (a lease), then holding its outcome: matched, discrepancies (listed), or failed with its next retry.
import { type Kysely, type Migration } from 'kysely'

const BIG = 'bigint' as const

export const m0010BillChecks: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('bill_checks')
      .addColumn('merchant_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('channel', 'varchar(24)', (c) => c.notNull())
      .addColumn('bill_date', 'varchar(10)', (c) => c.notNull())
      // running | matched | discrepancies | failed
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('lines', 'integer')
      .addColumn('discrepancies', 'integer')
      // JSON: the first discrepancies found (bill-checks.ts bounds how many).
      .addColumn('details', 'text')
      .addColumn('last_error', 'text')
      // A running check's lease: after it, another node may take a check whose node stopped.
      .addColumn('lease_until', BIG, (c) => c.notNull())
      .addColumn('next_attempt_at', BIG, (c) => c.notNull())
      .addColumn('created_at', BIG, (c) => c.notNull())
      .addColumn('updated_at', BIG, (c) => c.notNull())
      // merchant_id first: the distribution column on Citus (docs/scaling.md).
      .addPrimaryKeyConstraint('bill_checks_pk', ['merchant_id', 'channel', 'bill_date'])
      .execute()
    await db.schema.createIndex('bill_checks_date_ix').on('bill_checks').columns(['channel', 'bill_date']).execute()
  },
}
