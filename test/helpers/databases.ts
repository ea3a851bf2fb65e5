// The databases every integration suite runs against: SQLite always, PostgreSQL when reachable (required
// in CI). Each test server gets its own SQLite file or PostgreSQL schema, so suites run in parallel.
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export interface TestDatabase {
  name: 'sqlite' | 'postgres'
  url: string
  pgSchema?: string
}

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

let postgresReachable: Promise<boolean> | null = null

export function postgresAvailable(): Promise<boolean> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
      return true
    } catch (err) {
      if (process.env.SCANPAY_REQUIRE_POSTGRES === '1') throw new Error(`PostgreSQL is required but unreachable at ${POSTGRES_URL}: ${err}`)
      return false
    } finally {
      await client.end().catch(() => {})
    }
  })()
  return postgresReachable
}

/** A fresh, empty database of the given kind. */
export function freshDatabase(name: TestDatabase['name']): TestDatabase {
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-test-'))
    return { name, url: `sqlite:${join(dir, 'scanpay.db')}` }
  }
  return { name, url: POSTGRES_URL, pgSchema: `t_${randomBytes(6).toString('hex')}` }
}

/** The kinds of database this run covers. */
export async function databaseKinds(): Promise<TestDatabase['name'][]> {
  return (await postgresAvailable()) ? ['sqlite', 'postgres'] : ['sqlite']
}

export async function dropSchema(db: TestDatabase): Promise<void> {
  if (!db.pgSchema) return
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS ${db.pgSchema} CASCADE`)
  await client.end()
}
