// Named prepared statements on PostgreSQL: a repeated statement is parsed once per connection and then run by
// name; statements whose result is `*` stay unnamed, so a migration that adds a column breaks nothing that runs.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { dropSchema, freshDatabase, postgresAvailable, type TestDatabase } from '../../test/helpers/databases.ts'
import { openDatabase, type OpenDatabase } from './database.ts'

const postgres = await postgresAvailable()

describe('PostgreSQL prepared statements', { skip: !postgres && 'PostgreSQL unreachable' }, () => {
  let target: TestDatabase
  const opened: OpenDatabase[] = []

  /** One connection, so that the statements it prepared are the ones pg_prepared_statements shows. */
  async function open(preparedStatements?: boolean): Promise<Kysely<any>> {
    const database = await openDatabase(target.url, { pgSchema: target.pgSchema, poolSize: 1, preparedStatements })
    opened.push(database)
    const db = database.db as Kysely<any>
    await sql`CREATE TABLE IF NOT EXISTS shelf (id text PRIMARY KEY, amount bigint NOT NULL)`.execute(db)
    return db
  }
  const prepared = async (db: Kysely<any>) =>
    (await sql<{ name: string; statement: string }>`SELECT name, statement FROM pg_prepared_statements`.execute(db)).rows

  before(() => {
    target = freshDatabase('postgres')
  })
  after(async () => {
    for (const database of opened) await database.close()
    await dropSchema(target)
  })

  it('runs a repeated statement by name, and leaves `*` results, statements without parameters and multi-row inserts unnamed', async () => {
    const db = await open()
    const insert = (id: string) => db.insertInto('shelf').values({ id, amount: 5 })
    for (const id of ['a', 'b']) await insert(id).execute()
    const byId = (id: string) => db.selectFrom('shelf').select(['id', 'amount']).where('id', '=', id)
    assert.deepEqual(await byId('b').execute(), [{ id: 'b', amount: 5 }])
    await db.selectFrom('shelf').selectAll().where('id', '=', 'a').execute()
    // A multi-row insert of 40 parameters: prepared, it would hold memory in proportion to its rows.
    const many = Array.from({ length: 20 }, (_, i) => ({ id: `many${i}`, amount: i }))
    await db.insertInto('shelf').values(many).execute()
    const statements = await prepared(db)
    const texts = statements.map((s) => s.statement)
    assert.ok(texts.includes(insert('x').compile().sql), texts.join('\n'))
    assert.ok(texts.includes(byId('x').compile().sql), texts.join('\n'))
    assert.ok(statements.every((s) => s.name.startsWith('scanpay_') && !s.statement.includes('*')), texts.join('\n'))
    assert.ok(!texts.includes(db.insertInto('shelf').values(many).compile().sql), 'the 20-row insert is not prepared')
  })

  it('keeps answering after a migration adds a column to a table its statements read', async () => {
    const db = await open()
    const byId = (id: string) => db.selectFrom('shelf').select(['id', 'amount']).where('id', '=', id).execute()
    const whole = (id: string) => db.selectFrom('shelf').selectAll().where('id', '=', id).execute()
    await db.insertInto('shelf').values({ id: 'm1', amount: 7 }).execute()
    assert.equal((await byId('m1')).length, 1)
    assert.equal((await whole('m1')).length, 1)
    // Another node's migration, while this connection holds its prepared statements.
    await sql`ALTER TABLE shelf ADD COLUMN note text`.execute(db)
    await db.insertInto('shelf').values({ id: 'm2', amount: 8 }).execute()
    assert.deepEqual(await byId('m2'), [{ id: 'm2', amount: 8 }])
    assert.deepEqual(await whole('m2'), [{ id: 'm2', amount: 8, note: null }])
  })

  it('prepares nothing when turned off', async () => {
    const db = await open(false)
    await db.insertInto('shelf').values({ id: 'off1', amount: 1 }).execute()
    await db.insertInto('shelf').values({ id: 'off2', amount: 1 }).execute()
    assert.deepEqual(await prepared(db), [])
  })
})
