// scanpay backup --to FILE: a consistent copy of the embedded SQLite database, taken while ScanPay runs. A copy
// of the file alone can miss what is still in its write-ahead log; VACUUM INTO reads one snapshot in one read
// transaction, so writers go on meanwhile and the copy is whole. PostgreSQL has its own tools (pg_dump).
import { existsSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import SQLite from 'better-sqlite3'
import { dialectOf, sqlitePathOf } from '../../storage/database.ts'

export function runBackup(databaseUrl: string, opts: { to?: string }): number {
  if (!opts.to) {
    console.error('usage: scanpay backup --to FILE [--db sqlite:…]')
    return 2
  }
  if (dialectOf(databaseUrl) === 'postgres') {
    console.error('scanpay backup copies the embedded SQLite database; back PostgreSQL up with pg_dump or your provider\'s snapshots')
    return 2
  }
  const source = sqlitePathOf(databaseUrl)
  if (source === ':memory:' || !existsSync(source)) {
    console.error(`no database file at ${source}`)
    return 2
  }
  const target = resolve(opts.to)
  if (existsSync(target)) {
    console.error(`${target} exists: name a new file`)
    return 2
  }
  if (!existsSync(dirname(target))) {
    console.error(`no folder ${dirname(target)} to write ${basename(target)} in: make it first, or name another`)
    return 2
  }
  const db = new SQLite(source, { readonly: true, fileMustExist: true })
  try {
    // Waits for a writer's commit under way rather than failing at once.
    db.pragma('busy_timeout = 10000')
    db.prepare('VACUUM INTO ?').run(target)
  } finally {
    db.close()
  }
  console.log(`backed up ${resolve(source)} to ${target}`)
  console.log('the master key is not in it: keep SCANPAY_MASTER_KEY (in development, master.key beside the database) with it')
  return 0
}
