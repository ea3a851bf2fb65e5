// Introspection (the migrator's "do my tables exist?") stays in the connection's own schema, so other clients
// dropping their schemas meanwhile cannot fail a migration.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import pg from 'pg'
import { dropSchema, freshDatabase, postgresAvailable, POSTGRES_URL } from '../../test/helpers/databases.ts'
import { migrate, openDatabase } from './database.ts'

const postgres = await postgresAvailable()

it('lists only its own schema, and migrates while other schemas come and go', { skip: !postgres && 'PostgreSQL unreachable' }, async () => {
  const target = freshDatabase('postgres')
  const other = freshDatabase('postgres')
  const database = await openDatabase(target.url, { pgSchema: target.pgSchema })
  const churn = new pg.Client({ connectionString: POSTGRES_URL })
  await churn.connect()
  let churning = true
  try {
    await churn.query(`CREATE SCHEMA ${other.pgSchema}; CREATE TABLE ${other.pgSchema}.kysely_migration (name text)`)
    await migrate(database.db)
    const tables = await database.db.introspection.getTables({ withInternalKyselyTables: true })
    assert.ok(tables.length > 0 && tables.every((t) => t.schema === target.pgSchema), JSON.stringify(tables.map((t) => `${t.schema}.${t.name}`)))
    assert.ok(tables.some((t) => t.name === 'orders'))
    // Schemas with tables created and dropped as fast as one client can, while this one introspects.
    const loop = (async () => {
      for (let i = 0; churning; i++) {
        const name = `${other.pgSchema}_${i}`
        await churn.query(`CREATE SCHEMA ${name}; CREATE TABLE ${name}.t (id serial primary key); DROP SCHEMA ${name} CASCADE`)
      }
    })()
    for (let i = 0; i < 100; i++) await database.db.introspection.getTables({ withInternalKyselyTables: true })
    churning = false
    await loop
  } finally {
    churning = false
    await churn.end()
    await database.close()
    await dropSchema(target)
    await dropSchema(other)
  }
})
