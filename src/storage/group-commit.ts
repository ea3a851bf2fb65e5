// Group commit for SQLite: the transactions that reach the database in the same turn of the event loop share
// one BEGIN … COMMIT, and so one fsync, instead of paying one each. Each still runs whole or not at all inside
// its own SAVEPOINT, and each caller is answered only after the shared COMMIT has returned: with
// synchronous=FULL that means on disk, so nothing is acknowledged before it is durable.
//
// On the threaded SQLite (sqlite-thread.ts), the one-statement units of a batch are collected without being
// run and sent to the writer thread as one message: one hop for the batch instead of one per statement.
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type Transaction,
} from 'kysely'
import { PreconditionUnmet, type BatchStatement, type ChangesResult, type RunBatch, type UnitChange } from './sqlite-thread.ts'

interface Job<DB> {
  fn: (trx: Transaction<DB>) => Promise<unknown>
  /** The unit is one statement: SQLite undoes a failed statement by itself, so it needs no savepoint. */
  single: boolean
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/** A one-statement unit for the writer thread: a function that issues it, or the statement already compiled. */
interface StatementJob<DB> extends Omit<Job<DB>, 'fn'> {
  /** The unit to run (runStatement); absent when it travels compiled, as query or changes. */
  fn?: (trx: Transaction<DB>) => Promise<unknown>
  /** A statement already compiled (runCompiled): sent as it is. */
  query?: CompiledQuery
  /** With query: a write that must change a row first, in the same commit, for query to run. */
  precondition?: CompiledQuery
  /** Instead of query: a unit of changes already compiled (runChanges), sent as it is. */
  changes?: readonly UnitChange[]
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

// Compiled once: these run twice per unit, and compiling them each time cost more than running them.
const SAVEPOINT = CompiledQuery.raw('SAVEPOINT unit')
const RELEASE = CompiledQuery.raw('RELEASE unit')
const ROLLBACK_TO = CompiledQuery.raw('ROLLBACK TO unit')

export class GroupCommit<DB> {
  #queue: Job<DB>[] = []
  #scheduled = false
  /** With runBatch: the one-statement units waiting to be sent to the writer thread. */
  #statements: StatementJob<DB>[] = []
  #statementsScheduled = false

  readonly #runBatch: RunBatch | null
  /** Most units in one commit, so one batch cannot hold the connection for long. */
  readonly #maxBatch: number
  /** With runBatch: this many waiting statements are sent at once rather than at the end of the turn. */
  readonly #eagerBatch: number

  constructor(
    private readonly db: Kysely<DB>,
    options: { runBatch?: RunBatch; maxBatch?: number; eagerBatch?: number } = {},
  ) {
    this.#runBatch = options.runBatch ?? null
    this.#maxBatch = options.maxBatch ?? 256
    this.#eagerBatch = options.eagerBatch ?? 16
  }

  run<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return this.#enqueue(fn, false)
  }

  /** For fn that issues exactly one statement: it shares the commit without the two savepoint statements. */
  runStatement<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return this.#runBatched({ fn })
  }

  /**
   * runStatement for a statement already compiled (compiled-once.ts). On the writer thread it joins the batch
   * as it is, without a trip through Kysely's executor or the collecting Kysely.
   */
  runCompiled<R>(query: CompiledQuery<R>): Promise<QueryResult<R>> {
    // No function is made for the writer thread's path: under tsx each closure made per call is also given its
    // name (esbuild's keepNames), a property definition that cost about 1 µs a create.
    if (!this.#runBatch) return this.#enqueue((trx) => trx.executeQuery(query), true)
    return this.#runBatched({ query })
  }

  /**
   * runCompiled for a statement that must run only if `precondition` (a write) changes a row, in the same
   * commit; otherwise it rejects with PreconditionUnmet and neither has written anything. If the statement
   * itself then fails, the precondition's change stands.
   */
  runCompiledIf<R>(precondition: CompiledQuery, query: CompiledQuery<R>): Promise<QueryResult<R>> {
    // Two statements: in a shared Kysely transaction they need a unit's savepoint; on the writer thread they
    // travel as one guarded statement, which the thread runs as this unit would.
    if (!this.#runBatch) {
      return this.#enqueue(async (trx) => {
        const pre = await trx.executeQuery(precondition)
        if ((pre.numAffectedRows ?? 0n) === 0n) throw new PreconditionUnmet()
        return trx.executeQuery(query)
      }, false)
    }
    return this.#runBatched({ query, precondition })
  }

  /**
   * Makes every change (compiled statements) or none, in a shared commit: each must change a row (with RETURNING,
   * return one) unless marked mayChangeNothing, and the first that changes none undoes the unit, answered
   * { unmet: its index }. On the writer thread the unit travels as one
   * entry of a batch: no transaction is held open across turns of this thread's event loop, which under load
   * kept every other write waiting on the answers of one transaction's statements.
   */
  runChanges(changes: readonly UnitChange[]): Promise<ChangesResult> {
    if (!this.#runBatch) return applyChanges((fn) => this.#enqueue(fn, false), changes)
    return this.#runBatched({ changes })
  }

  #runBatched<T>(unit: Pick<StatementJob<DB>, 'fn' | 'query' | 'precondition' | 'changes'>): Promise<T> {
    // Only runStatement's units come here with a function; the others take their own path without the thread.
    if (!this.#runBatch) return this.#enqueue(unit.fn as (trx: Transaction<DB>) => Promise<T>, true)
    return new Promise<T>((resolve, reject) => {
      // Every job has the same fields: one shape for the objects this hot path makes.
      this.#statements.push({ fn: unit.fn, query: unit.query, precondition: unit.precondition, changes: unit.changes, single: true, resolve: resolve as (v: unknown) => void, reject })
      // Sending a few statements early keeps the writer thread busy while this thread reads more requests;
      // batches that wait for the writer meanwhile are joined into its next commit there.
      if (this.#statements.length >= this.#eagerBatch) this.#sendStatements()
      else if (!this.#statementsScheduled) {
        this.#statementsScheduled = true
        setImmediate(() => {
          this.#statementsScheduled = false
          this.#sendStatements()
        })
      }
    })
  }

  #sendStatements(): void {
    const jobs = this.#statements.splice(0)
    if (jobs.length > 0) void this.#flushStatements(jobs, this.#runBatch!)
  }

  #enqueue<T>(fn: (trx: Transaction<DB>) => Promise<T>, single: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, single, resolve: resolve as (v: unknown) => void, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        // setImmediate runs after the poll phase, so every request that arrived in this turn joins the batch.
        setImmediate(() => void this.#flush())
      }
    })
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch)
        if (batch.length === 1) {
          const job = batch[0]!
          // Alone, the transaction itself is the unit: no savepoint needed.
          await this.db.transaction().execute(job.fn).then(job.resolve, job.reject)
          continue
        }
        const outcomes: Outcome[] = []
        try {
          await this.db.transaction().execute(async (trx) => {
            for (const job of batch) {
              if (job.single) {
                try {
                  outcomes.push({ ok: true, value: await job.fn(trx) })
                } catch (error) {
                  // A constraint error undoes the statement alone and leaves the transaction open; anything else
                  // may have ended it, so the whole batch fails rather than guess.
                  if (!isConstraintError(error)) throw error
                  outcomes.push({ ok: false, error })
                }
                continue
              }
              await trx.executeQuery(SAVEPOINT)
              try {
                const value = await job.fn(trx)
                await trx.executeQuery(RELEASE)
                outcomes.push({ ok: true, value })
              } catch (error) {
                // Only this unit's writes are undone; the others in the batch stand.
                await trx.executeQuery(ROLLBACK_TO)
                await trx.executeQuery(RELEASE)
                outcomes.push({ ok: false, error })
              }
            }
          })
        } catch (error) {
          // The COMMIT (or the savepoint machinery) failed: nothing of the batch is durable, so all hear it.
          for (const job of batch) job.reject(error)
          continue
        }
        batch.forEach((job, i) => {
          const o = outcomes[i]!
          if (o.ok) job.resolve(o.value)
          else job.reject(o.error)
        })
      }
    } finally {
      this.#scheduled = false
    }
  }

  /** Runs one-statement units as one batch: each unit's statement is collected, then all are sent at once. */
  async #flushStatements(jobs: StatementJob<DB>[], runBatch: RunBatch): Promise<void> {
    const collected: Collected[] = []
    const units: Job<DB>[] = []
    for (const job of jobs) {
      if (job.changes) collected.push({ changes: job.changes, resolve: job.resolve, reject: job.reject })
      else if (job.query) collected.push({ query: job.query, precondition: job.precondition, resolve: job.resolve, reject: job.reject })
      else units.push({ fn: job.fn!, single: true, resolve: job.resolve, reject: job.reject })
    }
    // The units' statements are collected first, so that the batch holds them all.
    const unitsRunning = units.length > 0 ? await this.#collect(units, collected) : null
    if (collected.length > 0) {
      try {
        const outcomes = await runBatch(collected)
        outcomes.forEach((o, i) => (o.ok ? collected[i]!.resolve(o.result) : collected[i]!.reject(o.error)))
      } catch (error) {
        for (const c of collected) c.reject(error)
      }
    }
    if (!unitsRunning) return
    const outcomes = await unitsRunning.outcomes
    outcomes.forEach((o, i) => (o.ok ? units[i]!.resolve(o.value) : units[i]!.reject(o.error)))
  }

  /**
   * Runs the units against a Kysely that collects their statements into `collected` instead of running them.
   * Returns once every unit has issued its statement or settled without one (Kysely hands a query to its
   * connection within a few microtasks), or at the next turn of the loop at the latest, with a promise of the
   * units' outcomes.
   */
  async #collect(units: Job<DB>[], collected: Collected[]): Promise<{ outcomes: Promise<Outcome[]> }> {
    let collecting = true
    let waiting = units.length
    let allIn!: () => void
    const complete = new Promise<void>((resolve) => (allIn = resolve))
    const arrived = () => {
      if (--waiting === 0) allIn()
    }
    const db = collectingKysely<DB>((c) => {
      if (!collecting) return c.reject(new Error('a runStatement unit must issue exactly one statement, at once'))
      collected.push(c)
      arrived()
    })
    // Settled into outcomes at once: a unit that fails before the batch is sent must not go unhandled.
    const running = units.map((job) =>
      new Promise((resolve) => resolve(job.fn(db as Transaction<DB>))).then(
        (value): Outcome => {
          if (collecting) arrived()
          return { ok: true, value }
        },
        (error): Outcome => {
          if (collecting) arrived()
          return { ok: false, error }
        },
      ),
    )
    const timer = setImmediate(allIn)
    await complete
    clearImmediate(timer)
    collecting = false
    return { outcomes: Promise.all(running) }
  }
}

type Collected = BatchStatement & {
  resolve(result: QueryResult<unknown> | ChangesResult): void
  reject(error: unknown): void
}

class ChangeUnmet extends Error {
  constructor(readonly index: number) {
    super(`change ${index} of the unit changed no row`)
  }
}

/**
 * GroupCommit.runChanges inside a transaction already open: each statement in turn; the first that changes no
 * row (with RETURNING: returns none) throws, so that the caller's transaction or savepoint undoes the unit.
 */
async function runEachChange(trx: Kysely<any>, changes: readonly UnitChange[]): Promise<QueryResult<unknown>[]> {
  const results: QueryResult<unknown>[] = []
  for (const [i, change] of changes.entries()) {
    const r = await trx.executeQuery(change)
    const none = r.numAffectedRows !== undefined ? r.numAffectedRows === 0n : r.rows.length === 0
    if (none && !change.mayChangeNothing) throw new ChangeUnmet(i)
    results.push(r)
  }
  return results
}

/** Runs the changes in a transaction (or savepoint) whose failure undoes them: ChangeUnmet becomes { unmet }. */
export async function applyChanges(
  transact: <T>(fn: (trx: Kysely<any>) => Promise<T>) => Promise<T>,
  changes: readonly UnitChange[],
): Promise<ChangesResult> {
  try {
    return { results: await transact((trx) => runEachChange(trx, changes)) }
  } catch (error) {
    if (error instanceof ChangeUnmet) return { unmet: error.index }
    throw error
  }
}

// Shared by every collecting Kysely, so statements compiled once per adapter (compiled-once.ts) stay compiled.
const adapter = new SqliteAdapter()

/** A Kysely whose queries are handed to `collect` instead of run; each caller waits for its own result. */
function collectingKysely<DB>(collect: (c: Collected) => void): Kysely<DB> {
  const connection: DatabaseConnection = {
    executeQuery: <R>(query: CompiledQuery) =>
      new Promise<QueryResult<R>>((resolve, reject) => collect({ query, resolve: resolve as Collected['resolve'], reject })),
    streamQuery: () => {
      throw new Error('a runStatement unit cannot stream')
    },
  }
  const refuse = async () => {
    throw new Error('a runStatement unit cannot open a transaction')
  }
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: refuse,
    commitTransaction: refuse,
    rollbackTransaction: refuse,
    releaseConnection: async () => {},
    destroy: async () => {},
  }
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => adapter,
      createDriver: () => driver,
      createQueryCompiler: () => new SqliteQueryCompiler(),
      createIntrospector: (db) => new SqliteIntrospector(db),
    },
  })
}

function isConstraintError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')
}
