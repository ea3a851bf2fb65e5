// The webhook queue over the events table: workers lease due events, then record the outcomes of their
// attempts, a batch at a time.
import { CompiledQuery, sql, type Kysely, type QueryResult, type Selectable } from 'kysely'
import type { Dialect } from './database.ts'
import { EVENT_COLUMNS } from './columns.ts'
import { rowToEvent } from './event-store.ts'
import type { Database, EventsTable } from './schema.ts'
import type { StoredEvent } from '../core/events.ts'
import type { ChangesResult } from './sqlite-thread.ts'

/** Runs a write in its own transaction (Storage.write: on SQLite it shares a group commit). */
export type Write = <T>(fn: (trx: Kysely<Database>) => Promise<T>) => Promise<T>

/**
 * SQLite's group commit (group-commit.ts), for writes sent whole: a unit of changes (runChanges) and a lone
 * statement (runCompiled). With it the queue holds no transaction open while this thread waits for answers.
 */
export interface SharedCommit {
  changes(queries: readonly CompiledQuery[]): Promise<ChangesResult>
  statement<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>
}

type Run = <R>(query: CompiledQuery<R>) => Promise<QueryResult<R>>

const eventsGone = () => new Error('the events of these webhook attempts are gone: none of the attempts was recorded')

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

/**
 * What to lease: up to `limit` due events until `leaseUntil`, at most `room(merchantId)` for each merchant, so
 * one merchant's backlog cannot crowd out everyone else's. On PostgreSQL, FOR UPDATE SKIP LOCKED lets several
 * processes claim disjoint batches; on SQLite one process owns the file, so the UPDATE alone suffices.
 */
export interface LeaseRequest {
  now: number
  leaseUntil: number
  limit: number
  room: (merchantId: string) => number
  /** Merchants whose attempts just finished, so likely to have more due: looked up first, one by one. */
  recent: readonly string[]
  /** Merchants known to have no room: their events are not even read. */
  atCap: readonly string[]
  /**
   * Also read the whole queue in due order for other merchants. Where merchants at their cap have long
   * backlogs that read passes over all of them, so ask for it only when someone new may have become due.
   */
  discover: boolean
}

/** One finished attempt and the lease it ran under. */
export interface RecordedAttempt {
  lease: Lease
  outcome: AttemptOutcome
}

/** A leased event's columns, named rather than `*` so that PostgreSQL may prepare the claim (pg-prepared.ts). */
const LEASED = EVENT_COLUMNS.join(', ')

// Statements whose text never changes: a batch travels as one JSON parameter, so each dialect prepares each
// text once, whatever the batch size. SQLite reads the JSON with json_each, PostgreSQL with jsonb_to_recordset.
// dueOf reads one merchant's due events through events_merchant_due_ix (migration 0007).
const STATEMENTS = {
  sqlite: {
    dueOf: `SELECT merchant_id, id FROM events
      WHERE merchant_id = ? AND next_attempt_at <= ? AND delivery_status = 'pending' AND (locked_until IS NULL OR locked_until <= ?)
      ORDER BY next_attempt_at LIMIT ?`,
    // Re-checks everything the pick read: on SQLite the pick runs before the round's outcomes commit, so an
    // event whose attempt was just recorded (its next try later) must not be leased again now.
    claim: `UPDATE events SET locked_until = ?
      WHERE (merchant_id, id) IN (SELECT value ->> '$.merchant_id', value ->> '$.id' FROM json_each(?))
        AND delivery_status = 'pending' AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?)
      RETURNING ${LEASED}`,
    attempts: `INSERT INTO webhook_deliveries (id, merchant_id, event_id, url, attempted_at, status_code, latency_ms, error)
      SELECT value ->> '$.id', value ->> '$.merchant_id', value ->> '$.event_id', value ->> '$.url', value ->> '$.attempted_at',
        value ->> '$.status_code', value ->> '$.latency_ms', value ->> '$.error'
      FROM json_each(?)`,
    outcomes: `FROM (SELECT value ->> '$.merchant_id' AS merchant_id, value ->> '$.id' AS id, value ->> '$.lease' AS lease,
        value ->> '$.status' AS status, value ->> '$.retry_at' AS retry_at FROM json_each(?)) AS v`,
  },
  postgres: {
    dueOf: `SELECT merchant_id, id FROM events
      WHERE merchant_id = $1 AND next_attempt_at <= $2 AND delivery_status = 'pending' AND (locked_until IS NULL OR locked_until <= $3)
      ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED`,
    claim: `UPDATE events SET locked_until = $1
      WHERE (merchant_id, id) IN (SELECT merchant_id, id FROM jsonb_to_recordset($2::jsonb) AS v(merchant_id text, id text))
        AND delivery_status = 'pending' AND next_attempt_at <= $3 AND (locked_until IS NULL OR locked_until <= $3)
      RETURNING ${LEASED}`,
    attempts: `INSERT INTO webhook_deliveries (id, merchant_id, event_id, url, attempted_at, status_code, latency_ms, error)
      SELECT id, merchant_id, event_id, url, attempted_at, status_code, latency_ms, error
      FROM jsonb_to_recordset($1::jsonb) AS v(id text, merchant_id text, event_id text, url text, attempted_at bigint,
        status_code integer, latency_ms integer, error text)`,
    outcomes: `FROM jsonb_to_recordset($1::jsonb) AS v(merchant_id text, id text, lease bigint, status text, retry_at bigint)`,
  },
}

/**
 * PostgreSQL only, each one round trip where two were: a merchant's oldest due events picked and leased in one
 * statement (the classic SKIP LOCKED queue), and a batch's attempt rows written by the statement that moves their
 * events on (the insert as a CTE, which runs to completion whatever the update does).
 */
const POSTGRES_ROUND = {
  claimDueOf: `UPDATE events SET locked_until = $1
      WHERE (merchant_id, id) IN (
        SELECT merchant_id, id FROM events
        WHERE merchant_id = $2 AND next_attempt_at <= $3 AND delivery_status = 'pending' AND (locked_until IS NULL OR locked_until <= $3)
        ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
      RETURNING ${LEASED}`,
  /** The outcomes' rows as the second parameter, after the attempts'. */
  outcomes: STATEMENTS.postgres.outcomes.replace('$1::jsonb', '$2::jsonb'),
}

/**
 * PostgreSQL plans the queue's statements from statistics that lag a table whose rows change state by the
 * thousand a second (and that no ANALYZE has seen in a fresh deployment's first minute). Two plans it then
 * picks cost milliseconds per round, growing with the events delivered: a bitmap scan of the due index, which
 * re-reads every entry a delivered event left there until VACUUM (a plain index scan marks them dead for the
 * scans after it), and a sequential scan of all events to join a batch's few keys. Every statement here has
 * an index to use instead, so the lease transaction turns both plans off for itself (docs/performance.md).
 */
const QUEUE_PLANS = CompiledQuery.raw(`SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)`)

/** Gives leases back: each event whose lease is still the one given is free to lease again at once. */
function releaseUpdate(from: string): string {
  return `UPDATE events SET locked_until = NULL ${from} WHERE events.merchant_id = v.merchant_id AND events.id = v.id AND events.locked_until = v.lease`
}

/**
 * Moves each event on by its attempt's outcome. Still our lease: the outcome decides what happens next.
 * Cleared by a redelivery request while the attempt ran: keep the retry that was asked for.
 */
function outcomesUpdate(from: string): string {
  const ours = 'events.locked_until = v.lease'
  return `UPDATE events SET
      attempt_count = events.attempt_count + 1,
      delivery_status = CASE WHEN ${ours} THEN v.status ELSE events.delivery_status END,
      next_attempt_at = CASE WHEN ${ours} THEN v.retry_at ELSE events.next_attempt_at END,
      one_shot = CASE WHEN ${ours} THEN 0 ELSE events.one_shot END,
      locked_until = CASE WHEN ${ours} THEN NULL ELSE events.locked_until END
    ${from}
    WHERE events.merchant_id = v.merchant_id AND events.id = v.id`
}

/** Splits attempts so no event appears twice in one part: one UPDATE … FROM applies one source row per event. */
function distinctEvents(attempts: readonly RecordedAttempt[]): RecordedAttempt[][] {
  const parts: { keys: Set<string>; attempts: RecordedAttempt[] }[] = []
  for (const a of attempts) {
    const key = `${a.lease.event.merchantId} ${a.lease.event.id}`
    let part = parts.find((p) => !p.keys.has(key))
    if (!part) parts.push((part = { keys: new Set(), attempts: [] }))
    part.keys.add(key)
    part.attempts.push(a)
  }
  return parts.map((p) => p.attempts)
}

export class SqlDeliveryQueue {
  readonly #sql: { dueOf: string; claim: string; attempts: string; outcomes: string; release: string }
  /** PostgreSQL: an attempts insert and an outcomes update as one statement (POSTGRES_ROUND). */
  readonly #recordedOutcomes: string | null

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly write: Write = (fn) => db.transaction().execute(fn),
    private readonly shared?: SharedCommit,
  ) {
    const s = STATEMENTS[dialect]
    this.#sql = { ...s, outcomes: outcomesUpdate(s.outcomes), release: releaseUpdate(s.outcomes) }
    this.#recordedOutcomes = dialect === 'postgres' ? `WITH recorded AS (${s.attempts}) ${outcomesUpdate(POSTGRES_ROUND.outcomes)}` : null
  }

  /**
   * Records the finished attempts, one row each, moves their events on, then leases what `request` asks for
   * (if anything): a busy worker commits once per batch of attempts, not twice per attempt. In one transaction,
   * or on SQLite as writes sent whole into one shared commit (#recordAndLeaseShared).
   */
  async recordAndLease(finished: readonly RecordedAttempt[], request: LeaseRequest | null): Promise<Lease[]> {
    const lease = request && request.limit > 0 ? request : null
    const rows = this.shared ? await this.#recordAndLeaseShared(this.shared, finished, lease) : await this.write(async (trx) => {
      const run: Run = (query) => trx.executeQuery(query)
      if (this.dialect === 'postgres') await run(QUEUE_PLANS)
      for (const statement of this.#recordStatements(finished)) if ((await run(statement)).numAffectedRows === 0n) throw eventsGone()
      return lease ? this.#claim(run, run, lease) : []
    })
    if (!request) return []
    return rows.map((r) => ({ event: rowToEvent(r), oneShot: Number(r.one_shot) === 1, leaseUntil: request.leaseUntil }))
  }

  /**
   * SQLite: the records travel as one unit, the claims as lone statements, all into the shared commit, and the
   * reads that pick what to claim run outside any transaction. One process owns the file and each claim
   * re-checks its rows, so nothing is leased twice. The records and the claims are no longer one transaction:
   * if the records fail, what was claimed beside them waits out its lease and is attempted then.
   */
  async #recordAndLeaseShared(shared: SharedCommit, finished: readonly RecordedAttempt[], lease: LeaseRequest | null) {
    const recorded = finished.length > 0 ? shared.changes(this.#recordStatements(finished)) : null
    const claimed = lease ? this.#claim((query) => this.db.executeQuery(query), (query) => shared.statement(query), lease) : []
    const [records, rows] = await Promise.all([recorded, claimed])
    if (records?.unmet !== undefined) throw eventsGone()
    return rows
  }

  /** Gives back leases whose attempts never started (a worker stopping): their events are due again at once. */
  async release(leases: readonly Lease[]): Promise<void> {
    if (leases.length === 0) return
    // The outcomes' source rows, with only the keys and the lease read.
    const rows = leases.map(({ event, leaseUntil }) => ({ merchant_id: event.merchantId, id: event.id, lease: leaseUntil, status: null, retry_at: null }))
    const query = CompiledQuery.raw(this.#sql.release, [JSON.stringify(rows)])
    await (this.shared
      ? this.shared.statement(query)
      : this.write(async (trx) => {
          if (this.dialect === 'postgres') await trx.executeQuery(QUEUE_PLANS)
          return trx.executeQuery(query)
        }))
  }

  /** The finished attempts' rows, then their events moved on: each statement changes a row while the events exist. */
  #recordStatements(attempts: readonly RecordedAttempt[]): CompiledQuery[] {
    if (attempts.length === 0) return []
    const rows = attempts.map(({ lease: { event }, outcome: o }) => ({
      id: o.attemptId,
      merchant_id: event.merchantId,
      event_id: event.id,
      url: o.url,
      attempted_at: o.at,
      status_code: o.statusCode,
      latency_ms: o.latencyMs,
      error: o.error === null ? null : o.error.slice(0, 500),
    }))
    const statements: CompiledQuery[] = []
    for (const part of distinctEvents(attempts)) {
      const outcomes = JSON.stringify(
        part.map(({ lease, outcome: o }) => ({
          merchant_id: lease.event.merchantId,
          id: lease.event.id,
          lease: lease.leaseUntil,
          status: o.delivered ? 'delivered' : o.nextAttemptAt === null ? 'failed' : 'pending',
          retry_at: o.nextAttemptAt,
        })),
      )
      if (statements.length === 0 && this.#recordedOutcomes) statements.push(CompiledQuery.raw(this.#recordedOutcomes, [JSON.stringify(rows), outcomes]))
      else {
        if (statements.length === 0) statements.push(CompiledQuery.raw(this.#sql.attempts, [JSON.stringify(rows)]))
        statements.push(CompiledQuery.raw(this.#sql.outcomes, [outcomes]))
      }
    }
    return statements
  }

  /** Picks due events with `read` and leases them with `write` (the claims). */
  async #claim(read: Run, write: Run, r: LeaseRequest): Promise<Selectable<EventsTable>[]> {
    const { now, limit } = r
    const leased: Selectable<EventsTable>[] = []
    // Keyed by the primary key (merchant_id, id), and re-checked, so the update touches only the rows picked.
    const claim = async (picked: { merchant_id: string; id: string }[]) => {
      if (picked.length === 0) return
      const json = JSON.stringify(picked)
      const params = this.dialect === 'postgres' ? [r.leaseUntil, json, now] : [r.leaseUntil, json, now, now]
      const claimed = await write(CompiledQuery.raw(this.#sql.claim, params) as CompiledQuery<Selectable<EventsTable>>)
      leased.push(...claimed.rows)
    }

    // Merchants whose attempts just finished: each one's oldest due events, up to its room, read through the
    // (merchant_id, next_attempt_at) index, so no other merchant's backlog is read on the way.
    const mine: { merchant_id: string; id: string }[] = []
    for (const merchantId of r.recent) {
      const room = Math.min(r.room(merchantId), limit - mine.length - leased.length)
      if (room <= 0) continue
      if (this.dialect === 'postgres') {
        // Picked and leased at once: read and write are the same transaction's here.
        const claimed = await write(CompiledQuery.raw(POSTGRES_ROUND.claimDueOf, [r.leaseUntil, merchantId, now, room]) as CompiledQuery<Selectable<EventsTable>>)
        // RETURNING keeps no order: the oldest due first, as the look-up picked them.
        leased.push(...claimed.rows.sort((a, b) => Number(a.next_attempt_at) - Number(b.next_attempt_at) || (a.id < b.id ? -1 : 1)))
        continue
      }
      const due = await read(CompiledQuery.raw(this.#sql.dueOf, [merchantId, now, now, room]) as CompiledQuery<{ merchant_id: string; id: string }>)
      mine.push(...due.rows)
    }
    await claim(mine)
    if (!r.discover) return leased

    // Everyone else, in due order. Merchants at their cap whose due events fill the head of the queue: the
    // next look skips them, or a backlog larger than one window (a merchant whose endpoint hangs) would hide
    // everyone else's events. The skip reads the merchant off events_due_merchant_ix (migration 0011) on SQLite,
    // without a seek into the table per skipped event.
    const lockClause = this.dialect === 'postgres' ? sql`FOR UPDATE SKIP LOCKED` : sql``
    const full = new Set<string>([...r.atCap, ...r.recent])
    for (let look = 0; look < 4 && leased.length < limit; look++) {
      // Twice what can be taken: room to spare for merchants that fill up.
      const window = (limit - leased.length) * 2
      const skip = full.size > 0 ? sql`AND merchant_id NOT IN (${sql.join([...full])})` : sql``
      const query = sql<{ merchant_id: string; id: string }>`
        SELECT merchant_id, id FROM events
        WHERE next_attempt_at <= ${now} AND delivery_status = 'pending'
          AND (locked_until IS NULL OR locked_until <= ${now}) ${skip}
        ORDER BY next_attempt_at LIMIT ${window} ${lockClause}`.compile(this.db)
      const due = await read(query)
      const taken = new Map<string, number>()
      for (const l of leased) taken.set(l.merchant_id, (taken.get(l.merchant_id) ?? 0) + 1)
      const picked = due.rows
        .filter((row) => {
          const n = taken.get(row.merchant_id) ?? 0
          if (n >= r.room(row.merchant_id)) {
            full.add(row.merchant_id)
            return false
          }
          taken.set(row.merchant_id, n + 1)
          return true
        })
        .slice(0, limit - leased.length)
      await claim(picked)
      // A window that was not full saw every due event: there is nothing more to look for.
      if (due.rows.length < window) break
    }
    return leased
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
