// Events (the outbox) in SQL, and the attempts made to deliver them.
import type { CompiledQuery, Kysely, Selectable } from 'kysely'
import type { DeliveryAttempt, DeliveryStatus, EventType, NewEvent, StoredEvent } from '../core/events.ts'
import type { Mode } from '../core/order.ts'
import type { EventListFilter, EventStore } from '../core/ports.ts'
import type { Database, EventsTable } from './schema.ts'
import { olderThan } from './keyset.ts'
import { EVENT_COLUMNS } from './columns.ts'
import { CompiledOnce } from './compiled-once.ts'
import { refundEventInOrderShape } from './refund-event-shape.ts'

/** Built and compiled once: a text of named columns costs more to build than to run. */
const eventById = new CompiledOnce()

export function rowToEvent(row: Selectable<EventsTable>): StoredEvent {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    mode: row.mode,
    orderId: row.order_id,
    type: row.type as EventType,
    data: row.type.startsWith('refund.') ? refundEventInOrderShape(JSON.parse(row.data)) : JSON.parse(row.data),
    notifyUrl: row.notify_url,
    createdAt: Number(row.created_at),
    deliveryStatus: row.delivery_status as DeliveryStatus,
    attemptCount: Number(row.attempt_count),
    nextAttemptAt: row.next_attempt_at === null ? null : Number(row.next_attempt_at),
  }
}

export class SqlEventStore implements EventStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(e: NewEvent): Promise<void> {
    await this.#insertQuery(e).execute()
  }

  /** insert() as a change for Storage.applyChanges. */
  insertChange(e: NewEvent): CompiledQuery {
    return this.#insertQuery(e).compile()
  }

  #insertQuery(e: NewEvent) {
    return this.db
      .insertInto('events')
      .values({
        id: e.id,
        merchant_id: e.merchantId,
        mode: e.mode,
        order_id: e.orderId,
        type: e.type,
        data: JSON.stringify(e.data),
        notify_url: e.notifyUrl,
        created_at: e.createdAt,
        delivery_status: 'pending',
        attempt_count: 0,
        next_attempt_at: e.createdAt,
        locked_until: null,
        one_shot: 0,
      })
  }

  async byId(merchantId: string, mode: Mode, id: string): Promise<StoredEvent | null> {
    // By the primary key alone, the mode checked on the row (as SqlOrderStore.byId, and for the same reason).
    const q = () => this.db.selectFrom('events').select(EVENT_COLUMNS).where('merchant_id', '=', merchantId).where('id', '=', id)
    const row = (await eventById.execute(this.db, [merchantId, id], q)).rows[0]
    return row && row.mode === mode ? rowToEvent(row) : null
  }

  async list(f: EventListFilter): Promise<StoredEvent[]> {
    let q =
      f.orderId === undefined
        ? this.db.selectFrom('events').select(EVENT_COLUMNS)
        : // An order has a handful of events: read them all through (merchant_id, order_id), then sort. As one
          // query with ORDER BY … LIMIT, PostgreSQL walked the merchant's list index newest first instead until
          // its first ANALYZE of the table, reading every event of the merchant (docs/performance.md).
          this.db
            .with(
              (cte) => cte('order_events').materialized(),
              (db) => db.selectFrom('events').select(EVENT_COLUMNS).where('merchant_id', '=', f.merchantId).where('order_id', '=', f.orderId!),
            )
            .selectFrom('order_events as events')
            .select(EVENT_COLUMNS)
    q = q.where('merchant_id', '=', f.merchantId).where('mode', '=', f.mode)
    if (f.before) q = q.where(olderThan(f.before))
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute()
    return rows.map(rowToEvent)
  }

  async attempts(merchantId: string, eventId: string): Promise<DeliveryAttempt[]> {
    const rows = await this.db
      .selectFrom('webhook_deliveries')
      .select(['attempted_at', 'status_code', 'latency_ms', 'error'])
      .where('merchant_id', '=', merchantId)
      .where('event_id', '=', eventId)
      .orderBy('attempted_at')
      .orderBy('id')
      .execute()
    return rows.map((r) => ({
      at: Number(r.attempted_at),
      statusCode: r.status_code === null ? null : Number(r.status_code),
      latencyMs: Number(r.latency_ms),
      error: r.error,
    }))
  }

  async requestRedelivery(merchantId: string, id: string, now: number): Promise<boolean> {
    // A pending event just moves its next try forward; a finished one gets exactly one more attempt, however often
    // that is asked for before it runs (a pending event keeps the one_shot it has).
    const r = await this.db
      .updateTable('events')
      .set((eb) => ({
        next_attempt_at: now,
        one_shot: eb.case().when('delivery_status', '=', 'pending').then(eb.ref('one_shot')).else(1).end(),
        delivery_status: 'pending',
        // Frees a lease held by an attempt under way, whose outcome then leaves this request in place.
        locked_until: null,
      }))
      .where('merchant_id', '=', merchantId)
      .where('id', '=', id)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }
}
