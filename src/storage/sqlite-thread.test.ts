// SQLite on two threads: what each thread sees, the order writes land in, errors that keep their codes, and a
// process that can still end by itself.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CompiledQuery, Kysely, sql, type QueryResult } from 'kysely'
import { COMMIT_BUCKETS, PreconditionUnmet, threadedSqlite, type RunBatch, type SqliteWriter, type WriterCounts } from './sqlite-thread.ts'

interface Db {
  t: { v: number }
}

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'scanpay-thread-')), 'x.db')

const rowsOf = (result: unknown) => (result as QueryResult<unknown>).rows

describe('threadedSqlite', () => {
  let file: string
  let db: Kysely<Db>
  let runBatch: RunBatch
  let writer: SqliteWriter
  let counts: () => WriterCounts

  before(async () => {
    file = tempFile()
    const threaded = await threadedSqlite(file, ['journal_mode = WAL', 'synchronous = FULL'], ['busy_timeout = 5000'])
    db = new Kysely<Db>({ dialect: threaded.dialect })
    runBatch = threaded.runBatch
    writer = threaded.writer
    counts = threaded.counts
    await sql`CREATE TABLE t (v INTEGER PRIMARY KEY)`.execute(db)
  })
  after(() => db.destroy())

  const values = async () => (await db.selectFrom('t').select('v').orderBy('v').execute()).map((r) => r.v)

  it('reads on the main thread what the writer committed', async () => {
    await db.insertInto('t').values({ v: 1 }).execute()
    assert.deepEqual(await values(), [1])
  })

  it('shows a transaction its own writes, and no one else until it commits', async () => {
    let outside: number[] = []
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ v: 2 }).execute()
      const inside = (await trx.selectFrom('t').select('v').orderBy('v').execute()).map((r) => r.v)
      assert.deepEqual(inside, [1, 2])
      outside = await values()
    })
    assert.deepEqual(outside, [1])
    assert.deepEqual(await values(), [1, 2])
  })

  it('keeps a lone write out of an open transaction, so a rollback cannot take it along', async () => {
    let lone: Promise<unknown> | null = null
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ v: 3 }).execute()
        lone = db.insertInto('t').values({ v: 4 }).execute()
        await new Promise((r) => setTimeout(r, 20))
        throw new Error('changed my mind')
      }),
      /changed my mind/,
    )
    await lone
    assert.deepEqual(await values(), [1, 2, 4])
  })

  it('never lets a write that waited for one transaction land in the next, nor two transactions overlap', async () => {
    // When a transaction ends, a waiting write and a waiting transaction wake together, in either order; the
    // write must be sent before the next BEGIN or after its end, never inside it (its rollback would take it).
    for (let round = 0; round < 20; round++) {
      const base = 1000 + round * 10
      let release!: () => void
      const held = new Promise<void>((r) => (release = r))
      const first = db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ v: base }).execute()
        await held
      })
      await new Promise((r) => setTimeout(r, 5))
      const waiters: Promise<unknown>[] = []
      const rollback = () =>
        db
          .transaction()
          .execute(async (trx) => {
            await trx.insertInto('t').values({ v: base + 9 }).execute()
            throw new Error('roll back')
          })
          .catch(() => {})
      const lone = () => db.insertInto('t').values({ v: base + 1 }).execute()
      const batch = () => runBatch([{ query: CompiledQuery.raw('INSERT INTO t (v) VALUES (?)', [base + 2]) }])
      const another = () => db.transaction().execute((trx) => trx.insertInto('t').values({ v: base + 3 }).execute())
      const order = round % 2 ? [rollback, another, lone, batch] : [lone, batch, another, rollback]
      for (const start of order) waiters.push(start())
      release()
      await first
      await Promise.all(waiters)
      const got = (await db.selectFrom('t').select('v').where('v', '>=', base).where('v', '<', base + 10).orderBy('v').execute()).map((r) => r.v)
      assert.deepEqual(got, [base, base + 1, base + 2, base + 3], `round ${round}`)
    }
    await db.deleteFrom('t').where('v', '>=', 1000).execute()
  })

  it('passes errors on with their SQLite codes', async () => {
    await assert.rejects(db.insertInto('t').values({ v: 1 }).execute(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SQLITE_CONSTRAINT_PRIMARYKEY')
      return true
    })
  })

  it('runs a batch in one commit: a constraint error fails its statement alone', async () => {
    const insert = (v: number) => ({ query: CompiledQuery.raw('INSERT INTO t (v) VALUES (?) RETURNING v', [v]) })
    const outcomes = await runBatch([insert(5), insert(1), insert(6)])
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? rowsOf(o.result) : (o.error as Error & { code?: string }).code)),
      [[{ v: 5 }], 'SQLITE_CONSTRAINT_PRIMARYKEY', [{ v: 6 }]],
    )
    assert.deepEqual(await values(), [1, 2, 4, 5, 6])
  })

  it('fails a whole batch on any other error', async () => {
    await assert.rejects(
      runBatch([{ query: CompiledQuery.raw('INSERT INTO t (v) VALUES (7)') }, { query: CompiledQuery.raw('INSERT INTO nowhere VALUES (1)') }]),
      /no such table/,
    )
    assert.deepEqual(await values(), [1, 2, 4, 5, 6])
  })

  it('runs a statement with a precondition only when the precondition changed a row', async () => {
    const insert = (v: number) => CompiledQuery.raw('INSERT INTO t (v) VALUES (?) RETURNING v', [v])
    // The precondition "claims" v=20 once: a second claim of it changes nothing.
    const claim = (v: number) => CompiledQuery.raw('INSERT INTO t (v) VALUES (?) ON CONFLICT DO NOTHING', [v])
    const outcomes = await runBatch([
      { query: insert(21), precondition: claim(20) },
      { query: insert(23), precondition: claim(20) },
      { query: insert(5), precondition: claim(22) },
    ])
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? rowsOf(o.result) : o.error instanceof PreconditionUnmet ? 'unmet' : (o.error as Error & { code?: string }).code)),
      // The third's precondition stands although its own statement was refused.
      [[{ v: 21 }], 'unmet', 'SQLITE_CONSTRAINT_PRIMARYKEY'],
    )
    assert.deepEqual(await values(), [1, 2, 4, 5, 6, 20, 21, 22])
    await db.deleteFrom('t').where('v', '>=', 20).execute()
  })

  it('makes a unit of changes whole or not at all', async () => {
    const insert = (v: number) => CompiledQuery.raw('INSERT INTO t (v) VALUES (?)', [v])
    const move = (from: number, to: number) => CompiledQuery.raw('UPDATE t SET v = ? WHERE v = ?', [to, from])
    const outcomes = await runBatch([
      { changes: [insert(40), move(40, 41), CompiledQuery.raw('SELECT v FROM t WHERE v = 41')] },
      // The move finds no row 99: the insert before it is undone too.
      { changes: [insert(42), move(99, 43)] },
      // A constraint error undoes the unit alone; the entries around it stand.
      { changes: [insert(44), insert(1)] },
      { query: insert(45) },
    ])
    const first = outcomes[0]!.ok ? (outcomes[0]!.result as { results: QueryResult<unknown>[] }).results : []
    assert.deepEqual(first.map((r) => r.numAffectedRows ?? r.rows), [1n, 1n, [{ v: 41 }]])
    assert.deepEqual(outcomes[1], { ok: true, result: { unmet: 1 } })
    assert.equal(outcomes[2]!.ok ? 'ok' : (outcomes[2]!.error as Error & { code?: string }).code, 'SQLITE_CONSTRAINT_PRIMARYKEY')
    assert.equal(outcomes[3]!.ok, true)
    assert.deepEqual(await values(), [1, 2, 4, 5, 6, 41, 45])
    await db.deleteFrom('t').where('v', '>=', 40).execute()
  })

  it('counts its commits: one per batch, per transaction and per lone write, none for reads', async () => {
    const before = writer.counts().commits
    await runBatch([{ query: CompiledQuery.raw('INSERT INTO t (v) VALUES (30)') }, { query: CompiledQuery.raw('INSERT INTO t (v) VALUES (31)') }])
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ v: 32 }).execute()
      await trx.insertInto('t').values({ v: 33 }).execute()
    })
    await db.insertInto('t').values({ v: 34 }).execute()
    await db.selectFrom('t').selectAll().execute()
    // A transaction rolled back commits nothing.
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ v: 35 }).execute()
        throw new Error('changed my mind')
      }),
      /changed my mind/,
    )
    assert.equal(writer.counts().commits - before, 3)
    await db.deleteFrom('t').where('v', '>=', 30).execute()
  })

  it('times its commits into cumulative buckets that end with every commit', async () => {
    const before = writer.counts()
    await runBatch([{ query: CompiledQuery.raw('INSERT INTO t (v) VALUES (37)') }])
    await db.insertInto('t').values({ v: 38 }).execute()
    const after = writer.counts()
    assert.equal(after.commits - before.commits, 2)
    assert.ok(after.commitSeconds > before.commitSeconds, 'the commits took some time')
    assert.equal(after.commitsWithin.length, COMMIT_BUCKETS.length)
    // Cumulative: each bucket holds the ones below it; on a test's disk the last bound (2.5 s) holds them all.
    for (let i = 1; i < after.commitsWithin.length; i++) assert.ok(after.commitsWithin[i]! >= after.commitsWithin[i - 1]!)
    assert.equal(after.commitsWithin.at(-1)! - before.commitsWithin.at(-1)!, 2)
    await db.deleteFrom('t').where('v', '>=', 37).execute()
  })

  it('counts the transactions that held the writer and for how long, not the batches', async () => {
    const before = counts()
    await runBatch([{ changes: [CompiledQuery.raw('INSERT INTO t (v) VALUES (35)')] }])
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ v: 36 }).execute()
      await new Promise((resolve) => setTimeout(resolve, 20))
    })
    const after = counts()
    assert.equal(after.heldTransactions - before.heldTransactions, 1)
    assert.ok(after.heldSeconds - before.heldSeconds >= 0.019, `held ${after.heldSeconds - before.heldSeconds} s`)
    await db.deleteFrom('t').where('v', '>=', 35).execute()
  })

  it('fails writes, not reads, once the writer thread has ended', async () => {
    const other = await threadedSqlite(tempFile(), ['journal_mode = WAL'], [])
    const odb = new Kysely<Db>({ dialect: other.dialect })
    await sql`CREATE TABLE t (v INTEGER)`.execute(odb)
    await other.writer.close()
    await assert.rejects(odb.insertInto('t').values({ v: 1 }).execute(), /writer thread ended/)
    await assert.rejects(sql`PRAGMA user_version`.execute(odb), /writer thread ended/)
    assert.deepEqual(await odb.selectFrom('t').selectAll().execute(), [])
    await odb.destroy()
  })

  it('tells onEnded when the thread ends by itself, and not when it is closed', async () => {
    const crashing = await threadedSqlite(tempFile(), ['journal_mode = WAL'], [])
    const ended: Error[] = []
    crashing.writer.onEnded((err) => ended.push(err))
    await crashing.writer.kill()
    await new Promise((r) => setImmediate(r))
    assert.equal(ended.length, 1)
    assert.match(ended[0]!.message, /writer thread ended/)

    const closed = await threadedSqlite(tempFile(), ['journal_mode = WAL'], [])
    let told = false
    closed.writer.onEnded(() => (told = true))
    await closed.writer.close()
    await new Promise((r) => setImmediate(r))
    assert.equal(told, false)
  })

  it('lets the process end without close once no write is waiting', () => {
    const script = `
      import { threadedSqlite } from ${JSON.stringify(fileURLToPath(new URL('./sqlite-thread.ts', import.meta.url)))}
      import { Kysely, sql } from ${JSON.stringify(import.meta.resolve('kysely'))}
      const t = await threadedSqlite(${JSON.stringify(tempFile())}, ['journal_mode = WAL'], [])
      const db = new Kysely({ dialect: t.dialect })
      await sql\`CREATE TABLE t (v INTEGER)\`.execute(db)
      console.log('written')`
    const path = join(mkdtempSync(join(tmpdir(), 'scanpay-thread-')), 'script.mts')
    writeFileSync(path, script)
    const out = execFileSync(process.execPath, ['--import', 'tsx', path], { timeout: 20_000, encoding: 'utf8' })
    assert.match(out, /written/)
  })
})
