// Durable commits on SQLite without blocking the event loop. better-sqlite3 is synchronous: with
// synchronous=FULL every COMMIT waits for its fsync on the main thread, and under load that wait was a sixth
// of the thread's time. Instead the connection runs synchronous=NORMAL (WAL frames are written at COMMIT, and
// the checkpoints still sync) and, after every statement that leaves a write committed, fdatasyncs the WAL
// file on libuv's thread pool before that statement's caller hears of it.
//
// The connection is held (Kysely's mutex) until the sync has returned, so no other query, read or write, can
// see what is not yet durable: what FULL guarantees (acknowledged means on disk, and nothing is read before it
// is) holds all the same, while HTTP parsing, validation and cached pages go on during the sync.
import { closeSync, fdatasync, fstatSync, openSync, statSync } from 'node:fs'
import type SQLite from 'better-sqlite3'
import { SqliteDialect, SqliteDriver, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult } from 'kysely'

/** Makes the WAL's committed frames durable. */
export type SyncWal = () => Promise<void>

/** fdatasync of `<database>-wal`, opened once and again if SQLite ever replaces the file. */
export function walFileSync(databaseFile: string): { sync: SyncWal; close(): void } {
  const path = `${databaseFile}-wal`
  let fd: number | null = null
  const current = (): number | null => {
    try {
      if (fd !== null && fstatSync(fd).ino === statSync(path).ino) return fd
      if (fd !== null) closeSync(fd)
      fd = openSync(path, 'r')
      return fd
    } catch (err) {
      // No WAL file: nothing was written to sync.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }
  return {
    sync: () =>
      new Promise<void>((resolve, reject) => {
        const f = current()
        if (f === null) return resolve()
        fdatasync(f, (err) => (err ? reject(err) : resolve()))
      }),
    close() {
      if (fd !== null) closeSync(fd)
      fd = null
    },
  }
}

/** Tracks whether a committed write still waits for its sync. */
class PendingWrites {
  #pending = false

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly syncWal: SyncWal,
  ) {}

  /** Called for every statement prepared to run: one that can write marks the WAL as needing a sync. */
  prepared(statement: SQLite.Statement): void {
    if (!statement.readonly) this.#pending = true
  }

  /** After a statement: once no transaction is open, what was written is committed and must be synced. */
  async settle(): Promise<void> {
    if (!this.#pending || this.sqlite.inTransaction) return
    this.#pending = false
    await this.syncWal()
  }
}

class SyncingConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly writes: PendingWrites,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.inner.executeQuery<R>(query)
    await this.writes.settle()
    return result
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize)
  }
}

class SyncingDriver extends SqliteDriver {
  #wrapped: SyncingConnection | null = null

  constructor(
    config: ConstructorParameters<typeof SqliteDriver>[0],
    private readonly writes: PendingWrites,
  ) {
    super(config)
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection()
    return (this.#wrapped ??= new SyncingConnection(connection, this.writes))
  }
}

/**
 * A Kysely dialect over one better-sqlite3 connection (already set to synchronous=NORMAL by the caller) whose
 * committed writes are synced by syncWal before anyone hears of them. `prepare` is how statements are made
 * (a cache, say); each is shown to the tracker before it runs.
 */
export function walSyncingDialect(sqlite: SQLite.Database, prepare: (text: string) => SQLite.Statement, syncWal: SyncWal, close: () => void): SqliteDialect {
  const writes = new PendingWrites(sqlite, syncWal)
  const database = {
    prepare(text: string): SQLite.Statement {
      const statement = prepare(text)
      writes.prepared(statement)
      return statement
    },
    close,
  }
  return new (class extends SqliteDialect {
    override createDriver(): Driver {
      return new SyncingDriver({ database }, writes)
    }
  })({ database })
}
