// The storage facade the composition root hands out: every store over one database, and transactions.
import { EVENT_TYPES } from '../core/events.ts'
import { sql, type CompiledQuery, type Kysely, type QueryResult } from 'kysely'
import type { Order } from '../core/order.ts'
import type { Change, Changes, Transactor, UnitOfWork, WriteGuard } from '../core/ports.ts'
import { SqlBillCheckStore } from './bill-check-store.ts'
import type { OpenDatabase } from './database.ts'
import { SqlDeliveryQueue } from './delivery-queue.ts'
import { SqlEventStore } from './event-store.ts'
import { applyChanges, GroupCommit } from './group-commit.ts'
import { OrderInsertBatcher } from './order-insert-batcher.ts'
import { SqlIdempotencyStore } from './idempotency-store.ts'
import { SqlMerchantStore } from './merchant-store.ts'
import { FirstAnalyze } from './first-analyze.ts'
import { SqlNonceStore } from './nonce-store.ts'
import { SqlOrderStore, type LocateToken } from './order-store.ts'
import { SqlPaymentStore } from './payment-store.ts'
import { SqlRefundStore } from './refund-store.ts'
import { unitStatement, unmetChange, undoneByConflict } from './pg-unit-statement.ts'
import { PreconditionUnmet, type UnitChange } from './sqlite-thread.ts'
import type { Database } from './schema.ts'

/** A compiled statement handed to the core as an opaque Change (ports.ts). */
const change = (query: UnitChange): Change => query as unknown as Change

function unitOfWork(db: Kysely<Database>, locate?: LocateToken): UnitOfWork {
  return {
    orders: new SqlOrderStore(db, locate),
    payments: new SqlPaymentStore(db),
    events: new SqlEventStore(db),
    refunds: new SqlRefundStore(db),
  }
}

export class Storage implements Transactor {
  readonly orders: SqlOrderStore
  readonly events: SqlEventStore
  readonly refunds: SqlRefundStore
  readonly merchants: SqlMerchantStore
  readonly nonces: SqlNonceStore
  readonly idempotency: SqlIdempotencyStore
  readonly billChecks: SqlBillCheckStore
  readonly deliveries: SqlDeliveryQueue
  /** PostgreSQL: analyzes a table's first thousand rows rather than wait for autovacuum (first-analyze.ts). */
  readonly firstAnalyze: FirstAnalyze | null
  readonly #payments: SqlPaymentStore
  /** Reads of payments that need no unit of work (on SQLite, the main thread's reader, not the writer thread). */
  readonly payments: Pick<SqlPaymentStore, 'unexpectedOf' | 'ofOrder' | 'unrefundedSummary'>
  /** SQLite: concurrent transactions share one fsync (see group-commit.ts). PostgreSQL groups commits itself. */
  readonly #group: GroupCommit<Database> | null
  /**
   * PostgreSQL: concurrent order creations share one INSERT statement (order-insert-batcher.ts), which halved
   * the CPU of an order. On SQLite the group commit already shares the commit, and batching rows measured slower.
   */
  readonly #orderInserts: OrderInsertBatcher | null
  /** The event type of each insertEvent change, counted in eventsCommitted once its unit commits. */
  readonly #eventTypes = new WeakMap<object, string>()
  /**
   * Events this process has committed, by type (order.paid, refund.succeeded, …): every change of an order's state
   * commits one, so this counts them without the scan that counting stored orders by status costs (/metrics).
   */
  readonly eventsCommitted = new Map<string, number>(EVENT_TYPES.map((type) => [type, 0]))

  constructor(
    readonly database: OpenDatabase,
    /** How pay tokens name their orders (PayTokens.orderIdOf); without it only legacy tokens are found. */
    private readonly locate?: LocateToken,
  ) {
    const db = database.db
    this.#group = database.dialect === 'sqlite' ? new GroupCommit(db, database.runBatch ? { runBatch: database.runBatch } : {}) : null
    const write = <T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> => this.write(fn)
    this.orders = new SqlOrderStore(db, locate)
    this.events = new SqlEventStore(db)
    this.refunds = new SqlRefundStore(db)
    this.#payments = new SqlPaymentStore(db)
    this.payments = this.#payments
    this.merchants = new SqlMerchantStore(db)
    this.nonces = new SqlNonceStore(db, (query) => this.writeCompiled(query))
    this.billChecks = new SqlBillCheckStore(db)
    this.idempotency = new SqlIdempotencyStore(db, (query) => this.writeCompiled(query))
    const group = this.#group
    this.deliveries = new SqlDeliveryQueue(
      db,
      database.dialect,
      write,
      group ? { changes: (queries) => group.runChanges(queries), statement: (query) => group.runCompiled(query) } : undefined,
    )
    this.#orderInserts = this.#group ? null : new OrderInsertBatcher((fn) => this.writeStatement(fn))
    this.firstAnalyze = database.dialect === 'postgres' ? new FirstAnalyze(db) : null
  }

  insertOrder(order: Order, guard?: WriteGuard): Promise<boolean> {
    const precondition = guard?.take() as CompiledQuery | undefined
    if (this.#orderInserts) return precondition ? this.#guardedPostgresInsert(order, precondition, guard!) : this.#orderInserts.insert(order)
    // Compiled here and sent as it is: the group commit's statement path, without a unit run through Kysely.
    const insert = this.orders.insertOneStatement(order)
    if (!precondition) return this.writeCompiled(insert).then((r) => (r.numAffectedRows ?? 0n) > 0n)
    // The guard and the insert go to the writer together: one commit for both, not one each.
    return this.#group!.runCompiledIf(precondition, insert).then(
      (r) => (r.numAffectedRows ?? 0n) > 0n,
      (error) => Promise.reject(error instanceof PreconditionUnmet ? guard!.refused() : error),
    )
  }

  /** PostgreSQL commits each statement itself: the guard first, durable, then the shared insert. */
  async #guardedPostgresInsert(order: Order, precondition: CompiledQuery, guard: WriteGuard): Promise<boolean> {
    const r = await this.database.db.executeQuery(precondition)
    if ((r.numAffectedRows ?? 0n) === 0n) throw guard.refused()
    return this.#orderInserts!.insert(order)
  }

  transaction<T>(fn: (work: UnitOfWork) => Promise<T>): Promise<T> {
    return this.write((trx) => fn(unitOfWork(trx, this.locate)))
  }

  readonly changes: Changes = {
    markPaid: (order, channel, channelTradeNo, now) => change(this.orders.markPaidChange(order, channel, channelTradeNo, now)),
    markClosed: (order, now) => change(this.orders.markClosedChange(order, now)),
    markExpired: (order, now) => change(this.orders.markExpiredChange(order, now)),
    paymentsDueNow: (order, now) => change({ ...this.#payments.dueNowChange(order.merchantId, order.id, now), mayChangeNothing: true }),
    succeededPayment: (payment, reopenFrom) => change(this.#payments.succeededChange(payment, reopenFrom)),
    movePayment: (payment, from, to, now, set) => change(this.#payments.moveChange(payment, from, to, now, set)),
    insertEvent: (event) => {
      const query = this.events.insertChange(event)
      this.#eventTypes.set(query, event.type)
      return change(query)
    },
    insertRefund: (refund) => change(this.refunds.insertChange(refund)),
    reserveRefund: (order, amount, now) => change(this.refunds.reserveOnOrderChange(order, amount, now)),
    refundSucceeded: (refund, channelRefundNo, now) => change(this.refunds.succeededChange(refund, channelRefundNo, now)),
    refundFailed: (refund, reason, now) => change(this.refunds.failedChange(refund, reason, now)),
    applyRefund: (refund, refundedBefore, now) => change(this.refunds.applyToOrderChange(refund, refundedBefore, now)),
    releaseRefund: (refund, refundedBefore, now) => change(this.refunds.releaseOnOrderChange(refund, refundedBefore, now)),
  }

  async applyChanges(changes: readonly Change[]): Promise<number | null> {
    const queries = changes as readonly unknown[] as readonly UnitChange[]
    const unmet = await this.#applyChanges(queries)
    if (unmet === null) {
      for (const query of queries) {
        const type = this.#eventTypes.get(query)
        if (type !== undefined) this.eventsCommitted.set(type, (this.eventsCommitted.get(type) ?? 0) + 1)
      }
    }
    return unmet
  }

  async #applyChanges(queries: readonly UnitChange[]): Promise<number | null> {
    if (this.#group) return (await this.#group.runChanges(queries)).unmet ?? null
    // PostgreSQL: one statement where the unit allows it (pg-unit-statement.ts), else a transaction; a conflict
    // that undid the statement runs it again as a transaction, whose statements answer it precisely.
    const statement = unitStatement(queries)
    if (statement) {
      try {
        await this.database.db.executeQuery(statement)
        return null
      } catch (error) {
        const unmet = unmetChange(error)
        if (unmet !== null) return unmet
        if (!undoneByConflict(error)) throw error
      }
    }
    return (await applyChanges((fn) => this.database.db.transaction().execute(fn), queries)).unmet ?? null
  }

  /**
   * One statement, atomic by itself. PostgreSQL runs it in autocommit (durable when it returns, with
   * synchronous_commit on), saving BEGIN and COMMIT; SQLite groups it into a shared commit without a savepoint.
   */
  statement<T>(fn: (work: UnitOfWork) => Promise<T>): Promise<T> {
    return this.#group ? this.#group.runStatement((trx) => fn(unitOfWork(trx, this.locate))) : fn(unitOfWork(this.database.db, this.locate))
  }

  /** Runs fn in one transaction; on SQLite it may share its commit with others, and returns once durable. */
  write<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#group ? this.#group.run(fn) : this.database.db.transaction().execute(fn)
  }

  /**
   * write() for fn that issues exactly one statement, atomic by itself: SQLite shares a commit without a
   * savepoint; PostgreSQL runs it in autocommit (durable on return with synchronous_commit on).
   */
  writeStatement<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#group ? this.#group.runStatement(fn) : fn(this.database.db)
  }

  /** writeStatement for a statement already compiled: on SQLite it joins the group commit as it is. */
  writeCompiled<R>(query: CompiledQuery<R>): Promise<QueryResult<R>> {
    return this.#group ? this.#group.runCompiled(query) : this.database.db.executeQuery(query)
  }

  async ping(): Promise<void> {
    await this.database.db.selectFrom('merchants').select('id').limit(1).execute()
    // On SQLite that read is the main thread's; the writer thread answers this one, so a writer that has
    // ended makes the node unready instead of failing every write while /readyz says all is well.
    if (this.database.dialect === 'sqlite') await sql`PRAGMA user_version`.execute(this.database.db)
  }
}
