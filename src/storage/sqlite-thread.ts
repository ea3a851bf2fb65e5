// SQLite on two threads. A writer thread (sqlite-writer-thread.js) owns the one connection that writes, so
// the B-tree work of every write, each COMMIT's fsync and the checkpoints run beside the event loop instead
// of on it. Plain reads outside a transaction run on the main thread through a read-only connection: WAL lets
// it read beside the writer, and a point read costs less than a hop to the thread and back.
//
// Durability is FULL's: the writer runs synchronous=FULL, and SQLite publishes a commit to readers only after
// its WAL frames are synced, so nothing is acknowledged, or read, before it is on disk.
import { Worker } from 'node:worker_threads'
import SQLite from 'better-sqlite3'
import {
  CompiledQuery,
  RawNode,
  SelectQueryNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely'

/**
 * One entry's outcome in a batch: a statement's result or a unit's (ChangesResult), or the constraint error
 * that refused it alone.
 */
export type BatchOutcome = { ok: true; result: QueryResult<unknown> | ChangesResult } | { ok: false; error: Error }

/**
 * An entry of a batch: a statement, optionally with a write that must change a row first for it to run at all;
 * or a unit of changes, each of which must change a row, made all or none (ChangesResult).
 */
export type BatchStatement = { query: CompiledQuery; precondition?: CompiledQuery; changes?: undefined } | { changes: readonly UnitChange[] }

/** A statement of a unit of changes; one marked mayChangeNothing does not undo the unit by changing no row. */
export type UnitChange = CompiledQuery & { readonly mayChangeNothing?: true }

/** A unit of changes: every statement's result, or the index of the first that changed nothing (then none stands). */
export type ChangesResult = { results: QueryResult<unknown>[]; unmet?: undefined } | { unmet: number }

/** Runs statements in one transaction of their own, each standing alone; see SqliteWriter.batch. */
export type RunBatch = (statements: readonly BatchStatement[]) => Promise<BatchOutcome[]>

/** A statement's outcome when its precondition changed no row: neither wrote anything. */
export class PreconditionUnmet extends Error {
  constructor() {
    super('the precondition changed no row, so the statement did not run')
    this.name = 'PreconditionUnmet'
  }
}

type Reply = {
  rows?: unknown[]
  changes?: number
  lastInsertRowid?: number | bigint
  results?: Reply[]
  /** true: a guarded statement's precondition changed nothing; a number: which change of a unit changed nothing. */
  unmet?: true | number
  error?: WireError
}
interface WireError {
  name: string
  message: string
  code?: string
}

function toError(e: WireError): Error {
  return Object.assign(new Error(e.message), { name: e.name, ...(e.code ? { code: e.code } : {}) })
}

function toResult(reply: Reply): QueryResult<unknown> {
  if (reply.rows) return { rows: reply.rows }
  return { numAffectedRows: BigInt(reply.changes ?? 0), insertId: BigInt(reply.lastInsertRowid ?? 0), rows: [] }
}

/** Upper bounds, in seconds, of the commit-time histogram's buckets: a healthy disk commits in well under 5 ms. */
export const COMMIT_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.5, 2.5] as const

export interface WriterCounts {
  /** Transactions committed: shared batches, transactions, and writes in autocommit. */
  commits: number
  /** Seconds their commits took (writing the WAL and its fsync). */
  commitSeconds: number
  /** Per bound of COMMIT_BUCKETS, the commits that took at most that long (cumulative, as Prometheus counts). */
  commitsWithin: number[]
  /** Interactive transactions (Kysely's transaction()) that held the writer from BEGIN to their end. */
  heldTransactions: number
  /** Their time holding it, in seconds: every other write waited meanwhile. */
  heldSeconds: number
}

/** The writer thread, seen from the main thread: statements go in, answers come back in the same order. */
export class SqliteWriter {
  readonly #worker: Worker
  readonly #waiting: { resolve(reply: Reply): void; reject(error: Error): void }[] = []
  #exited: Error | null = null
  #closing = false
  readonly #endedListeners: ((error: Error) => void)[] = []

  /** The thread's counters (sqlite-writer-thread.js): commits made, their seconds, then the buckets'. */
  readonly #counts: Float64Array

  private constructor(worker: Worker, counts: Float64Array) {
    this.#worker = worker
    this.#counts = counts
    worker.on('message', (reply: Reply) => {
      const next = this.#waiting.shift()
      // Idle, the thread must not keep the process alive; busy, it must (an awaited write is work to finish).
      if (this.#waiting.length === 0) worker.unref()
      if (!next) return
      if (reply.error) next.reject(toError(reply.error))
      else next.resolve(reply)
    })
    const fail = (error: Error) => {
      const first = this.#exited === null
      this.#exited ??= error
      for (const w of this.#waiting.splice(0)) w.reject(error)
      if (first && !this.#closing) for (const listener of this.#endedListeners) listener(error)
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`the SQLite writer thread ended (exit code ${code})`)))
  }

  static start(file: string, pragmas: readonly string[]): Promise<SqliteWriter> {
    const counters = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * (2 + COMMIT_BUCKETS.length))
    const worker = new Worker(new URL('./sqlite-writer-thread.js', import.meta.url), {
      workerData: { file, pragmas, counters, commitBuckets: COMMIT_BUCKETS },
    })
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err)
      worker.once('error', onError)
      worker.once('message', (first: Reply) => {
        worker.off('error', onError)
        if (first.error) return reject(toError(first.error))
        worker.unref()
        resolve(new SqliteWriter(worker, new Float64Array(counters)))
      })
    })
  }

  #send(message: object): Promise<Reply> {
    if (this.#exited) return Promise.reject(this.#exited)
    return new Promise<Reply>((resolve, reject) => {
      if (this.#waiting.length === 0) this.#worker.ref()
      this.#waiting.push({ resolve, reject })
      this.#worker.postMessage(message)
    })
  }

  /** What the thread has done since it started; commits against requests tell how well commits are shared. */
  counts(): Pick<WriterCounts, 'commits' | 'commitSeconds' | 'commitsWithin'> {
    let within = 0
    const commitsWithin = COMMIT_BUCKETS.map((_, i) => (within += this.#counts[2 + i]!))
    return { commits: this.#counts[0]!, commitSeconds: this.#counts[1]!, commitsWithin }
  }

  async run(query: CompiledQuery): Promise<QueryResult<unknown>> {
    return toResult(await this.#send({ op: 'run', sql: query.sql, params: query.parameters }))
  }

  /**
   * The statements in one transaction of their own, committed (and synced) before this returns. A statement a
   * constraint refuses fails alone, as SQLite undoes just that statement; any other error fails them all. A
   * statement with a precondition runs only if the precondition changed a row (else PreconditionUnmet); the
   * precondition's change stands even if the statement then fails. A unit of changes stands or falls whole.
   */
  async batch(statements: readonly BatchStatement[]): Promise<BatchOutcome[]> {
    const wire = statements.map((s) =>
      s.changes
        ? { changes: s.changes.map((c) => (c.mayChangeNothing ? [c.sql, c.parameters, 1] : [c.sql, c.parameters])) }
        : s.precondition
          ? [s.query.sql, s.query.parameters, s.precondition.sql, s.precondition.parameters]
          : [s.query.sql, s.query.parameters],
    )
    const reply = await this.#send({ op: 'batch', statements: wire })
    return reply.results!.map((r, i): BatchOutcome => {
      if (r.error) return { ok: false, error: toError(r.error) }
      if (statements[i]!.changes) return { ok: true, result: typeof r.unmet === 'number' ? { unmet: r.unmet } : { results: r.results!.map(toResult) } }
      return r.unmet ? { ok: false, error: new PreconditionUnmet() } : { ok: true, result: toResult(r) }
    })
  }

  /**
   * Told once if the thread ends other than by close(): no write can succeed after it (the thread is not
   * started again), so the server stops and exits for its supervisor to start it afresh.
   */
  onEnded(listener: (error: Error) => void): void {
    this.#endedListeners.push(listener)
  }

  /** Ends the thread at once, as a crash would (what onEnded is for). */
  async kill(): Promise<void> {
    await this.#worker.terminate()
  }

  async close(): Promise<void> {
    if (this.#exited) return
    this.#closing = true
    const exited = new Promise((resolve) => this.#worker.once('exit', resolve))
    this.#worker.ref()
    this.#worker.postMessage({ op: 'close' })
    await exited
  }
}

/**
 * Keeps other writes out of an open transaction. A transaction holds the gate from BEGIN to its end; a lone
 * write or a batch is one message, so it only waits for the gate to be free when it is sent: the thread runs
 * messages in order, so it lands wholly before or after any transaction. Whoever waits checks the gate again in
 * the same turn as it acts (sends, or takes the gate): between a waiter waking and acting, another may have
 * taken it.
 */
class TransactionGate {
  #held: Promise<void> | null = null
  /** Transactions that held the gate, and their time holding it (ms), for /metrics. */
  holds = 0
  heldMs = 0

  get busy(): boolean {
    return this.#held !== null
  }

  /** Settles when the transaction holding the gate ends (at once when none does). */
  released(): Promise<void> {
    return this.#held ?? Promise.resolve()
  }

  async hold(): Promise<() => void> {
    while (this.#held) await this.#held
    let release!: () => void
    this.#held = new Promise<void>((resolve) => (release = resolve))
    const since = performance.now()
    return () => {
      this.holds++
      this.heldMs += performance.now() - since
      this.#held = null
      release()
    }
  }
}

/** A plain read: a SELECT built by Kysely, or raw SQL that starts with SELECT (the reader refuses writes). */
function isRead(query: CompiledQuery): boolean {
  if (SelectQueryNode.is(query.query)) return true
  return RawNode.is(query.query) && /^\s*select\b/i.test(query.sql)
}

class ThreadConnection implements DatabaseConnection {
  /** Set while this connection holds the writer for a transaction. */
  release: (() => void) | null = null

  constructor(private readonly driver: SqliteThreadDriver) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // In a transaction every statement goes to the writer: it must see the transaction's own writes.
    if (this.release) return (await this.driver.writer.run(query)) as QueryResult<R>
    if (isRead(query)) return this.driver.read<R>(query)
    while (this.driver.gate.busy) await this.driver.gate.released()
    return (await this.driver.writer.run(query)) as QueryResult<R>
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (this.release || !isRead(query)) throw new Error('SQLite streams only plain reads outside a transaction')
    for (const row of this.driver.reader.prepare(query.sql).iterate(query.parameters as unknown[])) yield { rows: [row as R] }
  }
}

/**
 * Kysely prepares every query afresh; preparing costs more than running a small statement. The same SQL text
 * (Kysely's queries differ only in their parameters) reuses one prepared statement. Bounded: queries with
 * variable-length IN lists make new texts, and past the bound they are prepared each time as before. (The
 * writer thread keeps its own, in plain JavaScript.)
 */
export function withStatementCache(sqlite: SQLite.Database, max = 500) {
  const statements = new Map<string, SQLite.Statement>()
  return {
    prepare(text: string): SQLite.Statement {
      let stmt = statements.get(text)
      if (!stmt) {
        stmt = sqlite.prepare(text)
        if (statements.size < max) statements.set(text, stmt)
      }
      return stmt
    },
    close(): void {
      statements.clear()
      sqlite.close()
    },
  }
}

class SqliteThreadDriver implements Driver {
  readonly gate = new TransactionGate()
  readonly reader: ReturnType<typeof withStatementCache>

  constructor(
    readonly writer: SqliteWriter,
    reader: SQLite.Database,
  ) {
    this.reader = withStatementCache(reader)
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new ThreadConnection(this)
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as ThreadConnection
    const release = await this.gate.hold()
    try {
      await this.writer.run(CompiledQuery.raw('BEGIN'))
    } catch (error) {
      release()
      throw error
    }
    c.release = release
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    // A failed COMMIT leaves the transaction open; Kysely then calls rollbackTransaction, which releases.
    await this.writer.run(CompiledQuery.raw('COMMIT'))
    this.#end(connection as ThreadConnection)
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.writer.run(CompiledQuery.raw('ROLLBACK'))
    } finally {
      this.#end(connection as ThreadConnection)
    }
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`SAVEPOINT ${quoteName(name)}`))
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`ROLLBACK TO ${quoteName(name)}`))
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`RELEASE ${quoteName(name)}`))
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    this.reader.close()
    await this.writer.close()
  }

  async read<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return { rows: this.reader.prepare(query.sql).all(query.parameters as unknown[]) as R[] }
  }

  runBatch: RunBatch = async (statements) => {
    while (this.gate.busy) await this.gate.released()
    return this.writer.batch(statements)
  }

  #end(connection: ThreadConnection): void {
    const release = connection.release
    connection.release = null
    release?.()
  }
}

function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

export interface ThreadedSqlite {
  dialect: Dialect
  runBatch: RunBatch
  writer: SqliteWriter
  counts(): WriterCounts
}

/**
 * Starts the writer thread on `file` with `pragmas` (journal_mode=WAL among them), then opens the main
 * thread's reader. The reader is query_only: a statement routed to it by mistake fails instead of writing
 * outside the writer's order.
 */
export async function threadedSqlite(file: string, writerPragmas: readonly string[], readerPragmas: readonly string[]): Promise<ThreadedSqlite> {
  const writer = await SqliteWriter.start(file, writerPragmas)
  let reader: SQLite.Database
  try {
    reader = new SQLite(file)
    for (const p of readerPragmas) reader.pragma(p)
    reader.pragma('query_only = ON')
  } catch (error) {
    await writer.close()
    throw error
  }
  const driver = new SqliteThreadDriver(writer, reader)
  const dialect: Dialect = {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => driver,
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (db: Kysely<any>) => new SqliteIntrospector(db),
  }
  const counts = (): WriterCounts => ({ ...writer.counts(), heldTransactions: driver.gate.holds, heldSeconds: driver.gate.heldMs / 1000 })
  return { dialect, runBatch: driver.runBatch, writer, counts }
}
