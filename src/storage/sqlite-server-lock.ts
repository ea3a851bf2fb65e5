// One server process per SQLite database. Two would contend for the write lock, and each would trust its
// checkout reads for 10 s as the database's sole writer (checkout-cache.ts) while the other changes them.
// The guard is an exclusive SQLite lock on a small file beside the database: the operating system lets it go when
// the process ends in any way (kill -9, a crash, a container stopped), so a restart never waits for a stale lease
// and no pid has to be trusted.
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import SQLite from 'better-sqlite3'
import { sqlitePathOf } from './database.ts'
import { realDatabaseFile } from './real-database-file.ts'

export interface ServerLock {
  /** The lock file, for messages. */
  readonly path: string
  /** Said to the operator at start when the database file has other names (hard links), which no lock sees. */
  readonly warning: string | null
  release(): void
}

/** The lock file of a SQLite database file: beside it, named after it. */
export function serverLockPath(databaseFile: string): string {
  return `${realDatabaseFile(databaseFile)}-server.lock`
}

/** Hard links to the file are names of it the lock cannot follow (as SQLite's own write-ahead log cannot). */
function hardLinkWarning(file: string): string | null {
  let links: number
  try {
    links = statSync(file).nlink
  } catch {
    return null
  }
  return links > 1
    ? `${file} has ${links} names (hard links): a server started by another name would not be refused, and SQLite ` +
        'keeps its write-ahead log beside the name it was opened by, so two such servers could corrupt the database. ' +
        'Open it by this name only'
    : null
}

export class DatabaseInUseError extends Error {
  constructor(databaseFile: string, lockPath: string) {
    super(
      `another ScanPay server is running on ${resolve(databaseFile)} (it holds ${lockPath}): stop it first, or give ` +
        'this one its own --db. One server process serves a SQLite database; to run several, use PostgreSQL',
    )
    this.name = 'DatabaseInUseError'
  }
}

/**
 * Takes the server lock of the SQLite database a URL names, or throws DatabaseInUseError if another server
 * holds it. No lock (null) for PostgreSQL or an in-memory database, which no other process can open.
 */
export function holdServerLock(databaseUrl: string): ServerLock | null {
  if (!databaseUrl.startsWith('sqlite:')) return null
  const file = sqlitePathOf(databaseUrl)
  if (file === '' || file === ':memory:') return null
  const real = realDatabaseFile(file)
  const path = serverLockPath(real)
  const lock = new SQLite(path)
  try {
    // In exclusive locking mode a connection keeps the lock of its first write until it closes. No waiting: the
    // other holder is a running server, which does not let go.
    lock.pragma('busy_timeout = 0')
    // Its one row need not survive a crash: no journal file beside it.
    lock.pragma('journal_mode = MEMORY')
    lock.pragma('locking_mode = EXCLUSIVE')
    lock.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS server (pid INTEGER, started_at INTEGER); DELETE FROM server;')
    lock.prepare('INSERT INTO server (pid, started_at) VALUES (?, ?)').run(process.pid, Date.now())
    lock.exec('COMMIT')
  } catch (err) {
    lock.close()
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DatabaseInUseError(real, path)
    throw err
  }
  return {
    path,
    warning: hardLinkWarning(real),
    release: () => {
      if (lock.open) lock.close()
    },
  }
}
