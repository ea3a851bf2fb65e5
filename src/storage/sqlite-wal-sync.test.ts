// The WAL-syncing dialect: a committed write is answered only after its sync, nothing reads it before, and
// reads alone never sync.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import SQLite from 'better-sqlite3'
import { Kysely, sql } from 'kysely'
import { walFileSync, walSyncingDialect } from './sqlite-wal-sync.ts'

interface Db {
  t: { v: number }
}

describe('walSyncingDialect', () => {
  let file: string
  let db: Kysely<Db>
  let syncs = 0
  /** The next sync waits for this to be called; null: syncs return at once. */
  let hold: Promise<void> | null = null

  before(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'scanpay-walsync-')), 'x.db')
    const sqlite = new SQLite(file)
    sqlite.pragma('journal_mode = WAL')
    sqlite.pragma('synchronous = NORMAL')
    const wal = walFileSync(file)
    const sync = async () => {
      syncs++
      if (hold) await hold
      await wal.sync()
    }
    db = new Kysely<Db>({ dialect: walSyncingDialect(sqlite, (text) => sqlite.prepare(text), sync, () => sqlite.close()) })
    await sql`CREATE TABLE t (v INTEGER)`.execute(db)
  })
  after(() => db.destroy())

  it('answers a transaction only after its sync, and holds every other query until then', async () => {
    let release!: () => void
    hold = new Promise((r) => (release = r))
    const before = syncs
    const events: string[] = [] as string[]
    const write = db
      .transaction()
      .execute((trx) => trx.insertInto('t').values({ v: 1 }).execute())
      .then(() => events.push('write answered'))
    await new Promise((r) => setTimeout(r, 20))
    const read = db
      .selectFrom('t')
      .selectAll()
      .execute()
      .then((rows) => events.push(`read ${rows.length}`))
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(events.length, 0, "nothing answered while the sync is under way")
    assert.equal(syncs, before + 1)
    events.push('synced')
    hold = null
    release()
    await Promise.all([write, read])
    assert.deepEqual(events, ['synced', 'write answered', 'read 1'])
  })

  it('syncs once per transaction and after an autocommit write, never after a read', async () => {
    const before = syncs
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ v: 2 }).execute()
      await trx.insertInto('t').values({ v: 3 }).execute()
    })
    assert.equal(syncs, before + 1)
    await db.selectFrom('t').selectAll().execute()
    assert.equal(syncs, before + 1)
    await db.insertInto('t').values({ v: 4 }).execute()
    assert.equal(syncs, before + 2)
  })

  it('keeps what it acknowledged: another connection reads it after a reopen', async () => {
    const other = new SQLite(file, { readonly: true })
    try {
      assert.deepEqual(other.prepare('SELECT v FROM t ORDER BY v').pluck().all(), [1, 2, 3, 4])
    } finally {
      other.close()
    }
  })
})
