// Group commit on SQLite: units that share a commit stay atomic one by one, and each caller hears its own outcome.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CompiledQuery, sql } from 'kysely'
import { migrate, openDatabase, type OpenDatabase } from './database.ts'
import { GroupCommit } from './group-commit.ts'
import { PreconditionUnmet } from './sqlite-thread.ts'
import type { Database } from './schema.ts'

// Both ways a batch can reach the database: one Kysely transaction, or one message to the writer thread.
for (const mode of ['transaction', 'writer batch'] as const) describe(`GroupCommit (${mode})`, () => {
  let database: OpenDatabase
  let group: GroupCommit<Database>
  const options = () => (mode === 'writer batch' ? { runBatch: database.runBatch! } : {})

  before(async () => {
    database = await openDatabase(`sqlite:${join(mkdtempSync(join(tmpdir(), 'scanpay-gc-')), 'x.db')}`)
    await migrate(database.db)
    group = new GroupCommit(database.db, options())
  })
  after(() => database.close())

  const nonce = (trx: Parameters<Parameters<GroupCommit<Database>['run']>[0]>[0], n: string) =>
    trx.insertInto('nonces').values({ key_id: 'k', nonce: n, expires_at: 1 }).execute()

  it('answers each unit that shared a commit with its own result, once its writes are committed', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        group.run(async (trx) => {
          await nonce(trx, `a${i}`)
          return i
        }),
      ),
    )
    assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i))
    // Read through a second connection: what was answered is committed, not merely visible to the writer.
    const reader = await openDatabase(database.description)
    try {
      const rows = await reader.db.selectFrom('nonces').select('nonce').where('nonce', 'like', 'a%').execute()
      assert.equal(rows.length, 50)
    } finally {
      await reader.close()
    }
  })

  it('rolls back only the unit that failed: its writes vanish, the others in the batch stand', async () => {
    const outcomes = await Promise.allSettled([
      group.run((trx) => nonce(trx, 'b1')),
      group.run(async (trx) => {
        await nonce(trx, 'b2')
        await nonce(trx, 'b3')
        throw new Error('changed my mind')
      }),
      group.run(async (trx) => {
        await nonce(trx, 'b4')
        // A constraint error in the middle of a unit: b5 must not survive either.
        await nonce(trx, 'b5')
        await nonce(trx, 'b1')
      }),
      group.run((trx) => nonce(trx, 'b6')),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    )
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /changed my mind/)
    const rows = await database.db.selectFrom('nonces').select('nonce').where('nonce', 'like', 'b%').orderBy('nonce').execute()
    assert.deepEqual(rows.map((r) => r.nonce), ['b1', 'b6'])
  })

  it('batches: many concurrent units need far fewer transactions than units', async () => {
    const spy = new GroupCommit<Database>(database.db, { ...options(), maxBatch: 256 })
    const original = database.db.transaction.bind(database.db)
    let transactions = 0
    ;(database.db as { transaction: typeof original }).transaction = () => {
      transactions++
      return original()
    }
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => spy.run((trx) => nonce(trx, `c${i}`))))
    } finally {
      ;(database.db as { transaction: typeof original }).transaction = original
    }
    assert.ok(transactions <= 2, `200 units arriving together took ${transactions} transactions`)
    const n = await sql<{ n: number }>`SELECT count(*) AS n FROM nonces WHERE nonce LIKE 'c%'`.execute(database.db)
    assert.equal(Number(n.rows[0]!.n), 200)
  })

  it('runs single-statement units without a savepoint: a constraint error fails that unit alone', async () => {
    await group.run((trx) => nonce(trx, 'd1'))
    const outcomes = await Promise.allSettled([
      group.runStatement((trx) => nonce(trx, 'd2')),
      group.runStatement((trx) => nonce(trx, 'd1')),
      group.run((trx) => nonce(trx, 'd3')),
      group.runStatement((trx) => nonce(trx, 'd4')),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    )
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /UNIQUE/)
    const rows = await database.db.selectFrom('nonces').select('nonce').where('nonce', 'like', 'd%').orderBy('nonce').execute()
    assert.deepEqual(rows.map((r) => r.nonce), ['d1', 'd2', 'd3', 'd4'])
  })

  it('fails the whole batch when a single-statement unit fails for another reason than a constraint', async () => {
    const outcomes = await Promise.allSettled([
      group.runStatement((trx) => nonce(trx, 'e1')),
      group.runStatement((trx) => sql`INSERT INTO no_such_table VALUES (1)`.execute(trx)),
      group.run((trx) => nonce(trx, 'e2')),
    ])
    const rows = await database.db.selectFrom('nonces').select('nonce').where('nonce', 'like', 'e%').execute()
    if (mode === 'transaction') {
      assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected'])
      assert.deepEqual(rows, [])
    } else {
      // The writer commits the one-statement units apart from the others: they fail together, e2 stands.
      assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'fulfilled'])
      assert.deepEqual(rows, [{ nonce: 'e2' }])
    }
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /no such table/)
  })

  it('runs compiled statements beside units in one batch, each answered with its own result', async () => {
    const claim = (n: string) => CompiledQuery.raw("INSERT INTO nonces (key_id, nonce, expires_at) VALUES ('k', ?, 1) RETURNING nonce", [n])
    await group.runCompiled(claim('h1'))
    const outcomes = await Promise.allSettled([
      group.runCompiled(claim('h2')),
      group.runStatement((trx) => nonce(trx, 'h3')),
      group.runCompiled(claim('h1')),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected'],
    )
    assert.deepEqual((outcomes[0] as PromiseFulfilledResult<{ rows: unknown[] }>).value.rows, [{ nonce: 'h2' }])
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /UNIQUE/)
    const rows = await database.db.selectFrom('nonces').select('nonce').where('nonce', 'like', 'h%').orderBy('nonce').execute()
    assert.deepEqual(rows.map((r) => r.nonce), ['h1', 'h2', 'h3'])
  })

  it('runs a guarded statement in the same commit only when its precondition changed a row', async () => {
    const claim = (n: string) => CompiledQuery.raw("INSERT INTO nonces (key_id, nonce, expires_at) VALUES ('k', ?, 1) ON CONFLICT DO NOTHING", [n])
    const record = (n: string) => CompiledQuery.raw("INSERT INTO nonces (key_id, nonce, expires_at) VALUES ('k', ?, 1) RETURNING nonce", [n])
    const outcomes = await Promise.allSettled([
      group.runCompiledIf(claim('p1'), record('p2')),
      // The same claim again, in the same batch: it changes nothing, so its statement must not run.
      group.runCompiledIf(claim('p1'), record('p3')),
      group.runCompiled(record('p4')),
    ])
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled'])
    assert.deepEqual((outcomes[0] as PromiseFulfilledResult<{ rows: unknown[] }>).value.rows, [{ nonce: 'p2' }])
    assert.ok((outcomes[1] as PromiseRejectedResult).reason instanceof PreconditionUnmet)
    const rows = await database.db.selectFrom('nonces').select('nonce').where('nonce', 'like', 'p%').orderBy('nonce').execute()
    assert.deepEqual(rows.map((r) => r.nonce), ['p1', 'p2', 'p4'])
  })

  it('makes a unit of changes whole or not at all, beside other units in the same commit', async () => {
    const add = (n: string) => CompiledQuery.raw("INSERT INTO nonces (key_id, nonce, expires_at) VALUES ('k', ?, 1)", [n])
    const renew = (n: string) => CompiledQuery.raw("UPDATE nonces SET expires_at = 2 WHERE key_id = 'k' AND nonce = ?", [n])
    const outcomes = await Promise.allSettled([
      group.runChanges([add('u1'), renew('u1')]),
      // The second change finds no row u9: the first is undone with it.
      group.runChanges([add('u2'), renew('u9')]),
      // A constraint error (u1 again) undoes its unit alone.
      group.runChanges([add('u3'), add('u1')]),
      group.runCompiled(add('u4')),
    ])
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    const applied = (outcomes[0] as PromiseFulfilledResult<{ results: { numAffectedRows?: bigint }[] }>).value
    assert.deepEqual(applied.results.map((r) => r.numAffectedRows), [1n, 1n])
    assert.deepEqual((outcomes[1] as PromiseFulfilledResult<unknown>).value, { unmet: 1 })
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /UNIQUE/)
    const rows = await database.db.selectFrom('nonces').select(['nonce', 'expires_at']).where('nonce', 'like', 'u%').orderBy('nonce').execute()
    assert.deepEqual(rows, [{ nonce: 'u1', expires_at: 2 }, { nonce: 'u4', expires_at: 1 }])
  })

  it('fails only its own unit when a single-statement unit throws before reaching the database', async () => {
    const outcomes = await Promise.allSettled([
      group.runStatement((trx) => nonce(trx, 'f1')),
      group.runStatement(() => Promise.reject(new Error('bad input'))),
    ])
    assert.equal(outcomes[1]!.status, 'rejected')
    const rows = await database.db.selectFrom('nonces').select('nonce').where('nonce', 'like', 'f%').execute()
    // In one Kysely transaction any failure ends it; on the writer only a database error fails the batch.
    assert.deepEqual(outcomes[0]!.status, mode === 'transaction' ? 'rejected' : 'fulfilled')
    assert.deepEqual(rows, mode === 'transaction' ? [] : [{ nonce: 'f1' }])
  })

  if (mode === 'writer batch') {
    it('refuses a second statement from a unit that promised one', async () => {
      const outcome = await group
        .runStatement(async (trx) => {
          await nonce(trx, 'g1')
          await nonce(trx, 'g2')
        })
        .then(() => 'fulfilled', (e: Error) => e.message)
      assert.match(outcome, /exactly one statement/)
    })
  }
})
