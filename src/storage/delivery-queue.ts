// The webhook queue over the events table: workers lease due events, then record each attempt's outcome.
import { sql, type Kysely } from 'kysely'
import type { Dialect } from './database.ts'
import { rowToEvent } from './event-store.ts'
import type { Write } from './nonce-store.ts'
import type { Database } from './schema.ts'
import type { StoredEvent } from '../core/events.ts'

export interface Lease {
  event: StoredEvent
  oneShot: boolean
}

export interface AttemptOutcome {
  attemptId: string
  url: string | null
  at: number
  statusCode: number | null
  latencyMs: number
  error: string | null
  delivered: boolean
  /** When to try again; null when the event is finished (delivered or given up). */
  nextAttemptAt: number | null
}

export class SqlDeliveryQueue {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly write: Write = (fn) => db.transaction().execute(fn),
  ) {}

  /**
   * Leases up to `limit` due events until `leaseUntil`. On PostgreSQL, FOR UPDATE SKIP LOCKED lets several
   * processes claim disjoint batches; on SQLite one process owns the file, so the UPDATE alone suffices.
   */
  async lease(now: number, leaseUntil: number, limit: number, skipMerchants: readonly string[] = []): Promise<Lease[]> {
    const lockClause = this.dialect === 'postgres' ? sql`FOR UPDATE SKIP LOCKED` : sql``
    // Merchants already at their concurrency cap wait, so their backlog cannot crowd out everyone else's.
    const skip = skipMerchants.length > 0 ? sql`AND merchant_id NOT IN (${sql.join(skipMerchants)})` : sql``
    const rows = await this.write(async (trx) => {
      const due = await sql<{ merchant_id: string; id: string }>`
        SELECT merchant_id, id FROM events
        WHERE next_attempt_at <= ${now} AND delivery_status = 'pending'
          AND (locked_until IS NULL OR locked_until <= ${now}) ${skip}
        ORDER BY next_attempt_at LIMIT ${limit} ${lockClause}`.execute(trx)
      if (due.rows.length === 0) return []
      const ids = due.rows.map((r) => r.id)
      return trx
        .updateTable('events')
        .set({ locked_until: leaseUntil })
        .where('id', 'in', ids)
        .where('delivery_status', '=', 'pending')
        .returningAll()
        .execute()
    })
    return rows.map((r) => ({ event: rowToEvent(r), oneShot: Number(r.one_shot) === 1 }))
  }

  /** Records one attempt and moves the event on, in one transaction. */
  async record(event: StoredEvent, outcome: AttemptOutcome): Promise<void> {
    await this.write(async (trx) => {
      await trx
        .insertInto('webhook_deliveries')
        .values({
          id: outcome.attemptId,
          merchant_id: event.merchantId,
          event_id: event.id,
          url: outcome.url,
          attempted_at: outcome.at,
          status_code: outcome.statusCode,
          latency_ms: outcome.latencyMs,
          error: outcome.error === null ? null : outcome.error.slice(0, 500),
        })
        .execute()
      await trx
        .updateTable('events')
        .set((eb) => ({
          attempt_count: eb('attempt_count', '+', 1),
          delivery_status: outcome.delivered ? 'delivered' : outcome.nextAttemptAt === null ? 'failed' : 'pending',
          next_attempt_at: outcome.nextAttemptAt,
          locked_until: null,
          one_shot: 0,
        }))
        .where('merchant_id', '=', event.merchantId)
        .where('id', '=', event.id)
        .execute()
    })
  }

  async depth(now: number): Promise<{ due: number; waiting: number }> {
    const r = await this.db
      .selectFrom('events')
      .select([
        (eb) => eb.fn.countAll<number>().as('waiting'),
        (eb) => eb.fn.sum<number>(eb.case().when('next_attempt_at', '<=', now).then(1).else(0).end()).as('due'),
      ])
      .where('delivery_status', '=', 'pending')
      .executeTakeFirstOrThrow()
    return { due: Number(r.due ?? 0), waiting: Number(r.waiting) }
  }
}
