// Opens the database a URL names: SQLite (better-sqlite3, WAL) by default, PostgreSQL for postgres:// URLs.
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, Migrator, SqliteDialect, type MigrationProvider } from 'kysely'
import pg from 'pg'
import { MIGRATIONS } from './migrations/index.ts'
import type { Database } from './schema.ts'
import { OwnSchemaPostgresDialect } from './pg-introspector.ts'
import { prepareStatements } from './pg-prepared.ts'
import { threadedSqlite, withStatementCache, type RunBatch, type WriterCounts } from './sqlite-thread.ts'

export type Dialect = 'sqlite' | 'postgres'

export interface OpenDatabase {
  db: Kysely<Database>
  dialect: Dialect
  /** Human-readable location, without credentials. */
  description: string
  /** SQLite on a file: runs one-statement units as one batch on the writer thread (group-commit.ts). */
  runBatch?: RunBatch
  /** SQLite on a file: told if the writer thread ends unexpectedly, after which nothing can be written. */
  onWriterEnded?(listener: (error: Error) => void): void
  /** SQLite on a file: the writer thread's commits so far (for /metrics). */
  writerCounts?(): WriterCounts
  close(): Promise<void>
}

function defaultPoolError(err: Error): void {
  process.emitWarning(`PostgreSQL connection lost: ${err.message}`)
}

export interface OpenOptions {
  /** Told when an idle PostgreSQL connection fails (the pool recovers by itself). */
  onPoolError?: (err: Error) => void
  /** PostgreSQL schema to use (tests isolate themselves in one); created when missing. */
  pgSchema?: string
  poolSize?: number
  /**
   * PostgreSQL: each connection parses and plans a repeated statement once (pg-prepared.ts); default on. Off
   * for a pooler in transaction mode that does not carry prepared statements between server connections.
   */
  preparedStatements?: boolean
}

// int8 (bigint) columns hold millisecond times and minor-unit amounts, all below 2^53: read them as numbers.
pg.types.setTypeParser(20, (value: string) => Number(value))

/** The file a sqlite: URL names (sqlite:./x.db, sqlite:///abs/x.db), or ':memory:' / '' for none. */
export function sqlitePathOf(url: string): string {
  return url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
}

/** Whether the database is there already: a SQLite file that exists (PostgreSQL's is made by its operator). */
export function databaseExists(url: string): boolean {
  if (dialectOf(url) === 'postgres') return true
  const path = sqlitePathOf(url)
  return path === ':memory:' || path === '' || existsSync(resolve(path))
}

export function dialectOf(url: string): Dialect {
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres'
  if (url.startsWith('sqlite:')) return 'sqlite'
  throw new Error(`DATABASE_URL must start with sqlite: or postgres://, got ${JSON.stringify(withoutPassword(url))}`)
}

/** The URL without its password, for messages and logs; a URL that does not parse has it cut out by hand. */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url)
    if (!u.password) return url
    u.password = ''
    return u.toString()
  } catch {
    // Up to the authority's last @: a password may hold an @ of its own.
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^/]*@/i, '$1@')
  }
}

/**
 * Opens the database, or throws an error that says it was the database, which one (without its password), and
 * the driver's reason: a bare "connect ECONNREFUSED 127.0.0.1:5499" or "Invalid URL" leaves an operator guessing.
 */
export async function openDatabase(url: string, options: OpenOptions = {}): Promise<OpenDatabase> {
  try {
    return await openDatabaseAs(url, options)
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new Error(`cannot open the database ${withoutPassword(url)}: ${reason}`, { cause: err })
  }
}

async function openDatabaseAs(url: string, options: OpenOptions): Promise<OpenDatabase> {
  if (dialectOf(url) === 'postgres') {
    const schema = options.pgSchema
    if (schema && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`)
    if (schema) {
      const setup = new pg.Client({ connectionString: url })
      try {
        await setup.connect()
        await setup.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      } finally {
        await setup.end().catch(() => {})
      }
    }
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      // A stuck database must fail requests and jobs, not hang them forever.
      connectionTimeoutMillis: 10_000,
      statement_timeout: 30_000,
      application_name: schema ? `scanpay-${schema}` : 'scanpay',
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    })
    // An idle connection dropped by the server (restart, failover) must not crash the process; the pool
    // replaces it on the next checkout.
    const onError = (err: Error) => (options.onPoolError ?? defaultPoolError)(err)
    pool.on('error', onError)
    // A connection checked out (e.g. mid-transaction) has no listener of the pool's; its query fails on its
    // own, and this keeps the same error from also surfacing as an uncaught exception.
    pool.on('connect', (client) => {
      client.on('error', onError)
      if (options.preparedStatements ?? true) prepareStatements(client)
    })
    // One connection now, so an unreachable server or a refused role fails here, named, not at the first query.
    try {
      ;(await pool.connect()).release()
    } catch (err) {
      await pool.end().catch(() => {})
      throw err
    }
    const db = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool }) })
    if (schema) migrationSchemas.set(db, schema)
    const u = new URL(url)
    return {
      db,
      dialect: 'postgres',
      description: `postgres://${u.host}${u.pathname}${schema ? ` (schema ${schema})` : ''}`,
      close: () => db.destroy(),
    }
  }
  const path = sqlitePathOf(url)
  const memory = path === ':memory:' || path === ''
  const file = memory ? ':memory:' : resolve(path)
  if (memory) {
    // One connection on the main thread: a second thread could not see this database.
    const sqlite = new SQLite(file)
    for (const pragma of [...WRITER_PRAGMAS, ...READER_PRAGMAS]) sqlite.pragma(pragma)
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) })
    return { db, dialect: 'sqlite', description: 'sqlite::memory:', close: () => db.destroy() }
  }
  mkdirSync(dirname(file), { recursive: true })
  const threaded = await threadedSqlite(file, [...WRITER_PRAGMAS, ...READER_PRAGMAS], READER_PRAGMAS)
  const db = new Kysely<Database>({ dialect: threaded.dialect })
  return {
    db,
    dialect: 'sqlite',
    description: `sqlite:${file}`,
    runBatch: threaded.runBatch,
    onWriterEnded: (listener) => threaded.writer.onEnded(listener),
    writerCounts: () => threaded.counts(),
    close: () => db.destroy(),
  }
}

// WAL lets readers run beside the writer. FULL syncs the WAL at every commit, so every acknowledged commit
// survives power loss; the writer thread waits for it, not the event loop (sqlite-thread.ts).
const WRITER_PRAGMAS = [
  'journal_mode = WAL',
  'synchronous = FULL',
  // Checkpoint every ~40 MB of WAL instead of every 4 MB: each checkpoint fsyncs the database file, and a page
  // written by many commits is copied once. Commits still sync the WAL, so durability is unchanged.
  'wal_autocheckpoint = 10000',
  'foreign_keys = ON',
]
const READER_PRAGMAS = [
  // 32 MB of page cache (the default is 2 MB) keeps the hot parts of the order indexes in memory.
  'cache_size = -32768',
  'busy_timeout = 5000',
]

class StaticMigrations implements MigrationProvider {
  async getMigrations() {
    return MIGRATIONS
  }
}

/**
 * The PostgreSQL schema a database handle was opened in. Kysely's migrator looks for its own tables in every
 * schema unless told which one, so two schemas migrating at once (parallel test suites) would each see the
 * other's lock table and fail with 'relation "kysely_migration_lock" does not exist'.
 */
const migrationSchemas = new WeakMap<Kysely<Database>, string>()

/** Brings the schema up to date; returns the names of the migrations it applied. */
export async function migrate(db: Kysely<Database>): Promise<string[]> {
  const schema = migrationSchemas.get(db)
  const migrator = new Migrator({ db, provider: new StaticMigrations(), ...(schema ? { migrationTableSchema: schema } : {}) })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(String(error))
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
