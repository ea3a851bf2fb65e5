// The webhook queue over the events table: workers lease due events, then record each attempt's outcome.
import { sql, type Kysely, type Selectable } from 'kysely'
import type { Dialect } from './database.ts'
import { rowToEvent } from './event-store.ts'
import type { Write } from './nonce-store.ts'
import type { Database, EventsTable } from './schema.ts'
import type { StoredEvent } from '../core/events.ts'

export interface Lease {
  event: StoredEvent
  oneShot: boolean
  /** The lease's expiry, also its token: a redelivery requested mid-flight clears it, and the outcome of the
   * attempt under way then leaves the requested retry in place. */
  leaseUntil: number
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
   * Leases up to `limit` due events until `leaseUntil`, at most `room(merchantId)` for each merchant, so one
   * merchant's backlog cannot crowd out everyone else's. On PostgreSQL, FOR UPDATE SKIP LOCKED lets several
   * processes claim disjoint batches; on SQLite one process owns the file, so the UPDATE alone suffices.
   */
  async lease(now: number, leaseUntil: number, limit: number, room: (merchantId: string) => number = () => limit): Promise<Lease[]> {
    const lockClause = this.dialect === 'postgres' ? sql`FOR UPDATE SKIP LOCKED` : sql``
    const window = limit * 4
    const rows = await this.write(async (trx) => {
      const leased: Selectable<EventsTable>[] = []
      // Merchants at their cap whose due events fill the head of the queue: the next look skips them, or a
      // backlog larger than one window (a merchant whose endpoint hangs) would hide everyone else's events.
      const full = new Set<string>()
      for (let look = 0; look < 4 && leased.length < limit; look++) {
        const skip = full.size > 0 ? sql`AND merchant_id NOT IN (${sql.join([...full])})` : sql``
        const due = await sql<{ merchant_id: string; id: string }>`
          SELECT merchant_id, id FROM events
          WHERE next_attempt_at <= ${now} AND delivery_status = 'pending'
            AND (locked_until IS NULL OR locked_until <= ${now}) ${skip}
          ORDER BY next_attempt_at LIMIT ${window} ${lockClause}`.execute(trx)
        const taken = new Map<string, number>()
        for (const l of leased) taken.set(l.merchant_id, (taken.get(l.merchant_id) ?? 0) + 1)
        const picked = due.rows
          .filter((r) => {
            const n = taken.get(r.merchant_id) ?? 0
            if (n >= room(r.merchant_id)) {
              full.add(r.merchant_id)
              return false
            }
            taken.set(r.merchant_id, n + 1)
            return true
          })
          .slice(0, limit - leased.length)
        if (picked.length > 0) {
          // Keyed by the primary key (merchant_id, id), and re-checked, so the update touches only the rows picked.
          leased.push(
            ...(await trx
              .updateTable('events')
              .set({ locked_until: leaseUntil })
              .where((eb) => eb.or(picked.map((p) => eb.and([eb('merchant_id', '=', p.merchant_id), eb('id', '=', p.id)]))))
              .where('delivery_status', '=', 'pending')
              .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
              .returningAll()
              .execute()),
          )
        }
        // A window that was not full saw every due event: there is nothing more to look for.
        if (due.rows.length < window) break
      }
      return leased
    })
    return rows.map((r) => ({ event: rowToEvent(r), oneShot: Number(r.one_shot) === 1, leaseUntil }))
  }

  /** Records one attempt and moves the event on, in one transaction. */
  async record(lease: Lease, outcome: AttemptOutcome): Promise<void> {
    const { event, leaseUntil } = lease
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
        .set((eb) => {
          // Still our lease: the outcome decides what happens next. Cleared by a redelivery request while the
          // attempt ran: keep the retry that was asked for.
          const ours = eb('locked_until', '=', leaseUntil)
          const status = outcome.delivered ? 'delivered' : outcome.nextAttemptAt === null ? 'failed' : 'pending'
          return {
            attempt_count: eb('attempt_count', '+', 1),
            delivery_status: eb.case().when(ours).then(status).else(eb.ref('delivery_status')).end(),
            next_attempt_at: eb.case().when(ours).then(outcome.nextAttemptAt).else(eb.ref('next_attempt_at')).end(),
            one_shot: eb.case().when(ours).then(0).else(eb.ref('one_shot')).end(),
            locked_until: eb.case().when(ours).then(null).else(eb.ref('locked_until')).end(),
          }
        })
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
      // Only events still waiting carry next_attempt_at: this reads the small queue index, not the table.
      .where('next_attempt_at', 'is not', null)
      .executeTakeFirstOrThrow()
    return { due: Number(r.due ?? 0), waiting: Number(r.waiting) }
  }
}
