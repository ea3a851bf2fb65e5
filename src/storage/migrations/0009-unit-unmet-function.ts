// PostgreSQL only: the function a unit of changes sent as one statement calls when one of its changes changed no
// row (pg-unit-statement.ts). Raising undoes the whole statement, as a transaction's rollback would, and the
// error's DETAIL names the change. SQLite runs units on its writer thread and needs nothing here.
import { sql, type Kysely, type Migration } from 'kysely'

/** Whether db speaks PostgreSQL: its compiler numbers parameters ($1), SQLite's marks them (?). */
const isPostgres = (db: Kysely<any>) => sql`select ${1}`.compile(db).sql.includes('$1')

export const m0009UnitUnmetFunction: Migration = {
  async up(db: Kysely<any>) {
    if (!isPostgres(db)) return
    await sql`
      create function scanpay_unmet(change integer) returns integer language plpgsql as $fn$
      begin
        raise exception 'change % of a unit of changes changed no row', change
          using errcode = 'SPU01', detail = change::text;
      end
      $fn$`.execute(db)
  },
}
