// A snapshot of every table a request could write, to prove a rejected request changed nothing. The
// background jobs' own bookkeeping (delivery attempts and leases, reconciler check schedules) moves on its own,
// so it is left out.
import assert from 'node:assert/strict'
import type { TestServer } from './server.ts'

const TABLES = ['merchants', 'api_keys', 'orders', 'payments', 'refunds', 'idempotency_keys', 'channel_notifications'] as const
/** Columns the reconcilers update on every check, whatever a request did. */
const BOOKKEEPING = ['next_check_at', 'check_count']

export async function snapshot(ts: TestServer): Promise<Record<string, string>> {
  const db = ts.server.ctx.storage.database.db
  const out: Record<string, string> = {}
  for (const table of TABLES) {
    const rows = (await db.selectFrom(table).selectAll().execute()).map((r) => {
      const row: Record<string, unknown> = { ...r }
      for (const column of BOOKKEEPING) delete row[column]
      return JSON.stringify(row)
    })
    out[table] = rows.sort().join('\n')
  }
  out.events = JSON.stringify(await db.selectFrom('events').select(['id', 'type', 'order_id', 'data']).orderBy('id').execute())
  return out
}

/** Asserts nothing changed since `before`, naming the first table that did. */
export async function assertUnchanged(ts: TestServer, before: Record<string, string>): Promise<void> {
  const now = await snapshot(ts)
  for (const table of Object.keys(before)) {
    assert.ok(now[table] === before[table], `table ${table} changed`)
  }
}
