// Order creation under load: the inserts that arrive in the same turn of the event loop become one multi-row
// INSERT … ON CONFLICT DO NOTHING RETURNING id. One statement is atomic by itself, so each order is still
// written whole or not at all, and each caller is answered only once the statement is durable (the write
// function's promise: a SQLite group commit, or PostgreSQL autocommit with synchronous_commit on).
import type { Kysely } from 'kysely'
import type { Order } from '../core/order.ts'
import { SqlOrderStore } from './order-store.ts'
import type { Database } from './schema.ts'

/** Runs one statement durably (Storage.writeStatement). */
export type WriteStatement = <T>(fn: (db: Kysely<Database>) => Promise<T>) => Promise<T>

interface Pending {
  order: Order
  resolve: (inserted: boolean) => void
  reject: (error: unknown) => void
}

export class OrderInsertBatcher {
  #pending: Pending[] = []
  #scheduled = false

  constructor(
    private readonly write: WriteStatement,
    /** Most rows in one statement (23 parameters each: far below either database's limit). */
    private readonly maxRows = 128,
  ) {}

  /** True when this call inserted the order; false when (merchant, mode, out_trade_no) already existed. */
  insert(order: Order): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ order, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        // After the poll phase: every request read in this turn joins the statement.
        setImmediate(() => this.#flush())
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    while (this.#pending.length > 0) void this.#insertBatch(this.#pending.splice(0, this.maxRows))
  }

  async #insertBatch(batch: Pending[]): Promise<void> {
    let inserted: Set<string>
    try {
      inserted = await this.write((db) => new SqlOrderStore(db).insertManyIfAbsent(batch.map((p) => p.order)))
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error)
      // The statement wrote nothing. One bad row must not fail the others: each goes again alone.
      for (const p of batch) void this.#insertBatch([p])
      return
    }
    for (const p of batch) p.resolve(inserted.has(p.order.id))
  }
}
