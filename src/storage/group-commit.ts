// Group commit for SQLite: the transactions that reach the database in the same turn of the event loop share
// one BEGIN … COMMIT, and so one fsync, instead of paying one each. Each still runs whole or not at all inside
// its own SAVEPOINT, and each caller is answered only after the shared COMMIT has returned: with
// synchronous=FULL that means on disk, so nothing is acknowledged before it is durable.
import { CompiledQuery, type Kysely, type Transaction } from 'kysely'

interface Job<DB> {
  fn: (trx: Transaction<DB>) => Promise<unknown>
  /** The unit is one statement: SQLite undoes a failed statement by itself, so it needs no savepoint. */
  single: boolean
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

// Compiled once: these run twice per unit, and compiling them each time cost more than running them.
const SAVEPOINT = CompiledQuery.raw('SAVEPOINT unit')
const RELEASE = CompiledQuery.raw('RELEASE unit')
const ROLLBACK_TO = CompiledQuery.raw('ROLLBACK TO unit')

export class GroupCommit<DB> {
  #queue: Job<DB>[] = []
  #scheduled = false

  constructor(
    private readonly db: Kysely<DB>,
    /** Most units in one commit, so one batch cannot hold the connection for long. */
    private readonly maxBatch = 256,
  ) {}

  run<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return this.#enqueue(fn, false)
  }

  /** For fn that issues exactly one statement: it shares the commit without the two savepoint statements. */
  runStatement<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return this.#enqueue(fn, true)
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
        const batch = this.#queue.splice(0, this.maxBatch)
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
}

function isConstraintError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')
}
