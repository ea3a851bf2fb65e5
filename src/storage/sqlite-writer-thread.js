// The SQLite writer thread (started by sqlite-thread.ts): owns the one connection that writes, so SQLite's
// work for every write (the B-tree inserts, the COMMIT's fsync, the checkpoints) runs on a second core while
// the main thread parses, validates and answers HTTP. Plain JavaScript so the thread starts without the
// TypeScript loader.
//
// Messages are answered strictly in the order they arrive; the main thread relies on that.
//   { op: 'run', sql, params }         one statement; answers { rows } or { changes, lastInsertRowid }
//   { op: 'batch', statements }        [[sql, params], …] in one transaction: each statement stands alone (a
//                                      constraint error fails only its own), anything else fails them all;
//                                      answers { results: [{ rows … } | { error }] } once committed. Batches
//                                      already waiting behind it join its transaction: one commit, one fsync.
//                                      [sql, params, preSql, preParams] runs its precondition first, and the
//                                      statement only if that changed a row; if not, it answers { unmet: true }.
//                                      { changes: [[sql, params], …] } is a unit whose statements must each change
//                                      a row (with RETURNING: return one): all are made, answered { results }, or
//                                      none, answered { unmet: i } with i the first that changed nothing (a
//                                      constraint error undoes the unit too). [sql, params, 1] may change nothing.
//   { op: 'close' }                    closes the connection and ends the thread
// A failure answers { error: { name, message, code } }.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import SQLite from 'better-sqlite3'

const { file, pragmas, counters, commitBuckets = [] } = workerData
// Shared with the main thread, which reads it for /metrics: [0] the commits made, [1] the seconds their
// commits took (the WAL write and its fsync: where a stalling disk shows), then per bound of commitBuckets the
// commits that took longer than the one before it and at most this one. Only this thread writes it, so a plain
// store suffices; a reader may be a moment behind.
const counts = counters ? new Float64Array(counters) : new Float64Array(2 + commitBuckets.length)
let db
try {
  db = new SQLite(file)
  for (const pragma of pragmas) db.pragma(pragma)
  parentPort.postMessage({ ready: true })
} catch (err) {
  parentPort.postMessage({ error: errorOf(err) })
  process.exit(1)
}

// Kysely's statements differ only in their values: one prepared statement per text. Bounded, because queries
// with variable-length IN lists make new texts; past the bound they are prepared each time.
const statements = new Map()
function prepare(sql) {
  let stmt = statements.get(sql)
  if (!stmt) {
    stmt = db.prepare(sql)
    if (statements.size < 500) statements.set(sql, stmt)
  }
  return stmt
}

const BEGIN = db.prepare('BEGIN')
const COMMIT = db.prepare('COMMIT')
const ROLLBACK = db.prepare('ROLLBACK')
const SAVEPOINT = db.prepare('SAVEPOINT changes')
const RELEASE = db.prepare('RELEASE changes')
const ROLLBACK_TO = db.prepare('ROLLBACK TO changes')

/** Counts one commit that took `ms`. */
function counted(ms) {
  counts[0]++
  counts[1] += ms / 1000
  const i = commitBuckets.findIndex((bound) => ms / 1000 <= bound)
  if (i >= 0) counts[2 + i]++
}

function run(sql, params) {
  const stmt = prepare(sql)
  if (stmt.reader) return { rows: stmt.all(params) }
  const started = performance.now()
  const { changes, lastInsertRowid } = stmt.run(params)
  // Outside a transaction once it has run: a write in autocommit, or a transaction's COMMIT (not its ROLLBACK).
  if (!db.inTransaction && sql !== 'ROLLBACK') counted(performance.now() - started)
  return { changes, lastInsertRowid }
}

/**
 * A unit of changes inside the open transaction, all or none: each statement must change a row (or return one).
 * Its own savepoint undoes the unit alone when one changes nothing or breaks a constraint.
 */
function runChanges(changes) {
  SAVEPOINT.run()
  try {
    const results = []
    for (let i = 0; i < changes.length; i++) {
      const [sql, params, mayChangeNothing] = changes[i]
      const result = run(sql, params)
      if (!mayChangeNothing && (result.rows ? result.rows.length === 0 : result.changes === 0)) {
        ROLLBACK_TO.run()
        RELEASE.run()
        return { unmet: i }
      }
      results.push(result)
    }
    RELEASE.run()
    return { results }
  } catch (err) {
    if (db.inTransaction) {
      ROLLBACK_TO.run()
      RELEASE.run()
    }
    throw err
  }
}

/** Runs one batch's statements inside the open transaction; a constraint error fails its statement alone. */
function runBatch(list) {
  const results = []
  for (const entry of list) {
    try {
      if (!Array.isArray(entry)) {
        results.push(runChanges(entry.changes))
        continue
      }
      const [sql, params, preSql, preParams] = entry
      if (preSql !== undefined && run(preSql, preParams).changes === 0) {
        results.push({ unmet: true })
        continue
      }
      results.push(run(sql, params))
    } catch (err) {
      // A constraint error undoes its statement alone and leaves the transaction open; anything else may
      // have ended it, so every batch in the transaction fails rather than guess.
      if (!isConstraintError(err)) throw err
      results.push({ error: errorOf(err) })
    }
  }
  return { results }
}

/**
 * The first batch and every batch already queued behind it (up to a bound), in one transaction. Answers each
 * in order, then handles the message that stopped the draining, if any.
 */
function batches(first) {
  const lists = [first.statements]
  let after = null
  for (let n = first.statements.length; n < 1024; ) {
    const next = receiveMessageOnPort(parentPort)
    if (!next) break
    if (next.message.op !== 'batch') {
      after = next.message
      break
    }
    lists.push(next.message.statements)
    n += next.message.statements.length
  }
  let replies
  BEGIN.run()
  try {
    replies = lists.map(runBatch)
    const committing = performance.now()
    COMMIT.run()
    counted(performance.now() - committing)
  } catch (err) {
    if (db.inTransaction) ROLLBACK.run()
    const failed = { error: errorOf(err) }
    replies = lists.map(() => failed)
  }
  for (const reply of replies) parentPort.postMessage(reply)
  if (after) handle(after)
}

function isConstraintError(err) {
  return typeof err?.code === 'string' && err.code.startsWith('SQLITE_CONSTRAINT')
}

function errorOf(err) {
  return { name: err?.name ?? 'Error', message: err?.message ?? String(err), code: err?.code }
}

function handle(msg) {
  if (msg.op === 'close') {
    db.close()
    parentPort.close()
    return
  }
  if (msg.op === 'batch') return batches(msg)
  let reply
  try {
    reply = run(msg.sql, msg.params)
  } catch (err) {
    reply = { error: errorOf(err) }
  }
  parentPort.postMessage(reply)
}

parentPort.on('message', handle)
