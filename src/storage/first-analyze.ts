// PostgreSQL plans from statistics that a table has none of until its first ANALYZE, and autovacuum looks
// only once a minute: a fresh deployment's first minute of orders ran on guesses, and some of them walked a
// merchant's whole list index to find one row (docs/performance.md, the thirteenth and fourteenth rounds).
// This analyzes a table of ours once it has filled enough to matter and was never analyzed; after that,
// autovacuum keeps its statistics. The check is one read of pg_stat_user_tables every few seconds, and stops
// once no table of ours is left unanalyzed.
import { sql, type Kysely } from 'kysely'
import type { Database } from './schema.ts'

/** Rows written to a never-analyzed table before it is worth analyzing (autovacuum's own bar is 50). */
export const FIRST_ANALYZE_ROWS = 1_000

export class FirstAnalyze {
  #done = false

  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Analyzes this schema's tables that were never analyzed and have had FIRST_ANALYZE_ROWS rows written;
   * answers their names. Once no table of ours is left unanalyzed (by this or by autovacuum), it stops looking.
   */
  async run(): Promise<string[]> {
    if (this.#done) return []
    const tables = await sql<{ name: string; changed: number }>`
      SELECT relname AS name, n_mod_since_analyze AS changed FROM pg_stat_user_tables
      WHERE schemaname = current_schema() AND last_analyze IS NULL AND last_autoanalyze IS NULL`.execute(this.db)
    if (tables.rows.length === 0) {
      this.#done = true
      return []
    }
    const due = tables.rows.filter((t) => Number(t.changed) >= FIRST_ANALYZE_ROWS).map((t) => t.name)
    // SKIP_LOCKED: another node (or autovacuum) analyzing it meanwhile is as good.
    for (const name of due) await sql`ANALYZE (SKIP_LOCKED) ${sql.table(name)}`.execute(this.db)
    return due
  }
}
