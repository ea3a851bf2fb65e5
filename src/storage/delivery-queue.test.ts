// The webhook queue, on SQLite and (when reachable) PostgreSQL: per-merchant room is honoured, a capped
// merchant's backlog never hides other merchants' due events, and a batch of finished attempts is recorded
// whole (one row per attempt) with each event moved on by its own outcome; leases not used can be given back.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CompiledQuery, sql } from 'kysely'
import { databaseKinds, dropSchema, freshDatabase, postgresAvailable, type TestDatabase } from '../../test/helpers/databases.ts'
import { openFreshDatabase } from '../../test/helpers/fresh-database.ts'
import { catchingCompiled } from '../../test/helpers/query-plan.ts'
import { migrate, openDatabase, type OpenDatabase } from './database.ts'
import { Storage } from './storage.ts'
import { SqlDeliveryQueue, type Lease, type LeaseRequest, type RecordedAttempt } from './delivery-queue.ts'
import { insertDueEvents } from '../../test/helpers/events.ts'

const now = 1_800_000_000_000
const until = now + 40_000

function request(limit: number, room: (merchantId: string) => number, extra: Partial<LeaseRequest> = {}): LeaseRequest {
  return { now, leaseUntil: until, limit, room, recent: [], atCap: [], discover: true, ...extra }
}

function attempt(lease: Lease, outcome: { delivered: boolean; nextAttemptAt: number | null; n: number }): RecordedAttempt {
  return {
    lease,
    outcome: {
      attemptId: `whd_${lease.event.id}_${outcome.n}`,
      url: 'https://shop.example/hooks',
      at: now,
      statusCode: outcome.delivered ? 200 : 500,
      latencyMs: 3,
      error: outcome.delivered ? null : 'HTTP 500',
      delivered: outcome.delivered,
      nextAttemptAt: outcome.nextAttemptAt,
    },
  }
}

// On SQLite the server's queue sends its writes into the shared commit (Storage); both paths are checked there.
const paths = (await databaseKinds()).flatMap((kind) => (kind === 'sqlite' ? [[kind, 'transaction'], [kind, 'shared commit']] : [[kind, 'transaction']]))
for (const [kind, path] of paths as [TestDatabase['name'], string][]) {
  describe(`SqlDeliveryQueue [${kind}, ${path}]`, () => {
    let target: TestDatabase
    let database: OpenDatabase
    let queue: SqlDeliveryQueue

    const due = (merchantId: string, count: number, at: number) => insertDueEvents(database.db, merchantId, count, at, { spacingMs: 1 })

    const event = (merchantId: string, id: string) =>
      database.db.selectFrom('events').selectAll().where('merchant_id', '=', merchantId).where('id', '=', id).executeTakeFirstOrThrow()

    before(async () => {
      target = freshDatabase(kind)
      database = await openDatabase(target.url, { pgSchema: target.pgSchema })
      await migrate(database.db)
      queue = path === 'shared commit' ? new Storage(database).deliveries : new SqlDeliveryQueue(database.db, database.dialect)
      // A merchant whose endpoint hangs: a backlog far longer than one lease looks at, all older than B's.
      await due('mch_hang', 60, now - 60_000)
      await due('mch_b', 3, now - 1_000)
    })
    after(async () => {
      await database.close()
      await dropSchema(target)
    })

    it('reads the whole queue, past merchants with no room, only when asked to discover', async () => {
      const room = (m: string) => (m === 'mch_hang' ? 0 : 10)
      assert.deepEqual(await queue.recordAndLease([], request(2, room, { discover: false })), [])
      const leases = await queue.recordAndLease([], request(2, room))
      assert.deepEqual(leases.map((l) => l.event.id).sort(), ['evt_mch_b_0', 'evt_mch_b_1'])
    })

    it('looks up the next due events of merchants whose attempts just finished, up to their room', async () => {
      const room = (m: string) => (m === 'mch_hang' ? 0 : 10)
      const leases = await queue.recordAndLease([], request(5, room, { recent: ['mch_b', 'mch_hang'], discover: false }))
      assert.deepEqual(leases.map((l) => l.event.id), ['evt_mch_b_2'])
      const two = await queue.recordAndLease([], request(5, (m) => (m === 'mch_hang' ? 2 : 0), { recent: ['mch_hang'], discover: false }))
      assert.deepEqual(two.map((l) => l.event.id), ['evt_mch_hang_0', 'evt_mch_hang_1'])
    })

    it('gives a merchant no more than its room, and leased events are not leased again', async () => {
      const leases = await queue.recordAndLease([], request(10, (m) => (m === 'mch_hang' ? 3 : 10)))
      assert.deepEqual(leases.map((l) => l.event.id), ['evt_mch_hang_2', 'evt_mch_hang_3', 'evt_mch_hang_4'])
      assert.deepEqual(await queue.recordAndLease([], request(10, (m) => (m === 'mch_hang' ? 0 : 10))), [])
    })

    it('records a batch of attempts, one row each, and moves each event on by its own outcome', async () => {
      const leased = await queue.recordAndLease([], request(3, () => 10, { atCap: ['mch_b'] }))
      const [delivered, retrying, givenUp] = leased as [Lease, Lease, Lease]
      // A redelivery asked for while the attempt ran clears the lease: the attempt still counts, the retry stays.
      await database.db
        .updateTable('events')
        .set({ locked_until: null, next_attempt_at: now - 120_000 })
        .where('merchant_id', '=', givenUp.event.merchantId)
        .where('id', '=', givenUp.event.id)
        .execute()
      const again = (await queue.recordAndLease([], request(1, () => 10, { leaseUntil: until + 5, atCap: ['mch_b'] })))[0]!
      assert.equal(again.event.id, givenUp.event.id)
      const none = await queue.recordAndLease(
        [
          attempt(delivered, { delivered: true, nextAttemptAt: null, n: 1 }),
          attempt(retrying, { delivered: false, nextAttemptAt: now + 15_000, n: 1 }),
          attempt(givenUp, { delivered: false, nextAttemptAt: null, n: 1 }),
          attempt(again, { delivered: true, nextAttemptAt: null, n: 2 }),
        ],
        null,
      )
      assert.deepEqual(none, [])
      const rows = await database.db.selectFrom('webhook_deliveries').select(['id', 'status_code', 'error']).orderBy('id').execute()
      assert.equal(rows.length, 4)
      assert.deepEqual(rows.find((r) => r.id === `whd_${retrying.event.id}_1`), { id: `whd_${retrying.event.id}_1`, status_code: 500, error: 'HTTP 500' })
      const d = await event('mch_hang', delivered.event.id)
      assert.deepEqual([d.delivery_status, d.attempt_count, d.next_attempt_at, d.locked_until], ['delivered', 1, null, null])
      const r = await event('mch_hang', retrying.event.id)
      assert.deepEqual([r.delivery_status, r.attempt_count, Number(r.next_attempt_at), r.locked_until], ['pending', 1, now + 15_000, null])
      // Two attempts of one event in one batch: both count; the one holding the lease decides the outcome.
      const g = await event('mch_hang', givenUp.event.id)
      assert.deepEqual([g.delivery_status, g.attempt_count, g.next_attempt_at, g.locked_until], ['delivered', 2, null, null])
    })

    it('gives back leases whose attempts never started, unless a newer lease holds the event', async () => {
      const [kept, given, taken] = (await queue.recordAndLease([], request(3, () => 10, { atCap: ['mch_b'] }))) as [Lease, Lease, Lease]
      // Another lease took this one over (its own ran out): giving back the old one must not free it.
      await database.db.updateTable('events').set({ locked_until: until + 1 }).where('merchant_id', '=', taken.event.merchantId).where('id', '=', taken.event.id).execute()
      await queue.release([given, taken])
      assert.equal((await event('mch_hang', kept.event.id)).locked_until !== null, true)
      assert.equal((await event('mch_hang', given.event.id)).locked_until, null)
      assert.equal(Number((await event('mch_hang', taken.event.id)).locked_until), until + 1)
      const again = await queue.recordAndLease([], request(1, () => 10, { atCap: ['mch_b'] }))
      assert.deepEqual(again.map((l) => l.event.id), [given.event.id])
    })

    it('records nothing, and says so, when the event of the attempts is gone', async () => {
      const [lease] = await queue.recordAndLease([], request(1, () => 10, { atCap: ['mch_b'] }))
      const gone: Lease = { ...lease!, event: { ...lease!.event, id: 'evt_gone' } }
      await assert.rejects(queue.recordAndLease([attempt(gone, { delivered: true, nextAttemptAt: null, n: 1 })], null), /are gone/)
      assert.deepEqual(await database.db.selectFrom('webhook_deliveries').select('id').where('event_id', '=', 'evt_gone').execute(), [])
    })

    it('records a round and leases its merchants\' next events together, and leases nothing when the events are gone', async () => {
      const [lease] = (await queue.recordAndLease([], request(1, () => 10, { atCap: ['mch_b'] }))) as [Lease]
      const leasedUntil = (at: number) => database.db.selectFrom('events').select('id').where('locked_until', '=', at).execute()
      const gone: Lease = { ...lease, event: { ...lease.event, id: 'evt_gone_too' } }
      const next = { recent: ['mch_hang'], discover: false }
      await assert.rejects(queue.recordAndLease([attempt(gone, { delivered: true, nextAttemptAt: null, n: 1 })], request(2, () => 10, { ...next, leaseUntil: until + 7 })), /are gone/)
      // The shared commit sends records and claims apart (#recordAndLeaseShared): its claims wait out their lease.
      if (path !== 'shared commit') assert.deepEqual(await leasedUntil(until + 7), [])
      const leases = await queue.recordAndLease([attempt(lease, { delivered: true, nextAttemptAt: null, n: 1 })], request(2, () => 10, { ...next, leaseUntil: until + 9 }))
      assert.equal(leases.length, 2)
      assert.ok(leases.every((l) => l.event.merchantId === 'mch_hang' && l.event.id !== lease.event.id && l.leaseUntil === until + 9))
      assert.deepEqual((await leasedUntil(until + 9)).map((r) => r.id).sort(), leases.map((l) => l.event.id).sort())
      const done = await event('mch_hang', lease.event.id)
      assert.deepEqual([done.delivery_status, done.locked_until], ['delivered', null])
      assert.equal((await database.db.selectFrom('webhook_deliveries').select('id').where('event_id', '=', lease.event.id).execute()).length, 1)
    })

    it('an attempt recorded after its lease ran out is not leased again in the same round, before its retry', async () => {
      await due('mch_late', 1, now - 1_000)
      const late = { recent: ['mch_late'], discover: false }
      const [lease] = (await queue.recordAndLease([], request(1, () => 10, late))) as [Lease]
      // The attempt outlived its lease (a stalled process): by the time it is recorded, the event looks free.
      const later = until + 1_000
      const failed = attempt(lease, { delivered: false, nextAttemptAt: later + 15_000, n: 1 })
      const again = await queue.recordAndLease([failed], { ...request(1, () => 10, late), now: later, leaseUntil: later + 40_000 })
      assert.deepEqual(again, [])
      const e = await event('mch_late', lease.event.id)
      assert.deepEqual([e.delivery_status, Number(e.next_attempt_at), e.locked_until], ['pending', later + 15_000, null])
    })
  })
}

it('reads and moves queue rows by index on PostgreSQL, even before the events table was ever analyzed', { skip: !(await postgresAvailable()) && 'PostgreSQL unreachable' }, async () => {
  const fresh = await openFreshDatabase('postgres')
  try {
    const { db } = fresh.database
    // 20,000 events already delivered and 50 due, no statistics yet: a fresh deployment's first minute.
    await sql`INSERT INTO events (merchant_id, id, mode, order_id, type, data, notify_url, created_at, delivery_status, attempt_count, next_attempt_at, locked_until, one_shot)
      SELECT 'mch_x', 'evt_' || lpad(i::text, 26, '0'), 'test', 'ord_' || i, 'order.paid', '{}', NULL, i,
        CASE WHEN i > 19950 THEN 'pending' ELSE 'delivered' END, 1, CASE WHEN i > 19950 THEN i ELSE NULL END, NULL, 0
      FROM generate_series(1, 20000) AS i`.execute(db)
    // Every statement a round sends, caught as it goes (the queue sends them compiled, through executeQuery).
    const sent: CompiledQuery[] = []
    const queue = new SqlDeliveryQueue(db, 'postgres', (fn) => db.transaction().execute((trx) => fn(catchingCompiled(trx, (q) => sent.push(q)))))
    const lease = request(10, () => 10, { now: 1_000_000, leaseUntil: 1_040_000, recent: ['mch_x'] })
    const leases = await queue.recordAndLease([], lease)
    assert.equal(leases.length, 10)
    await queue.recordAndLease(leases.map((l, n) => attempt(l, { delivered: true, nextAttemptAt: null, n })), lease)
    // Two rounds: the plan settings, the merchant's due events picked and leased in one statement, and in the
    // second the attempts written by the statement that moves their events on.
    assert.ok(sent.length >= 5, sent.map((q) => q.sql).join('\n'))
    assert.ok(sent.some((q) => q.sql.startsWith('WITH recorded AS (INSERT INTO webhook_deliveries')))
    assert.ok(sent.some((q) => q.sql.startsWith('UPDATE events SET locked_until = $1') && q.sql.includes('FOR UPDATE SKIP LOCKED')))
    // Each statement's plan, under the settings the round gave itself (its first statement).
    const [settings, ...statements] = sent
    const plans = await db.transaction().execute(async (trx) => {
      await trx.executeQuery(CompiledQuery.raw(settings!.sql, [...settings!.parameters]))
      const explained = []
      for (const s of statements) {
        const plan = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${s.sql}`, [...s.parameters]))
        explained.push(plan.rows.map((r) => r['QUERY PLAN']).join('\n'))
      }
      return explained
    })
    for (const plan of plans) {
      // A bitmap scan of the due index re-reads every entry a delivered event left there; a sequential scan
      // reads every event to find a batch's few.
      assert.doesNotMatch(plan, /Bitmap Heap Scan|Seq Scan on events/, plan)
    }
  } finally {
    await fresh.close()
  }
})

it('on SQLite, looks past merchants with no room through the index that names each due event\'s merchant', async () => {
  const fresh = await openFreshDatabase('sqlite')
  try {
    const { db } = fresh.database
    await insertDueEvents(db, 'mch_hang', 30, now - 60_000, { spacingMs: 1 })
    await insertDueEvents(db, 'mch_b', 2, now - 1_000, { spacingMs: 1 })
    const reads: CompiledQuery[] = []
    const queue = new SqlDeliveryQueue(db, 'sqlite', (fn) => db.transaction().execute((trx) => fn(catchingCompiled(trx, (q) => reads.push(q)))))
    const leases = await queue.recordAndLease([], request(2, (m) => (m === 'mch_hang' ? 0 : 10), { atCap: ['mch_hang'] }))
    assert.deepEqual(leases.map((l) => l.event.id), ['evt_mch_b_0', 'evt_mch_b_1'])
    const look = reads.find((q) => q.sql.includes('merchant_id NOT IN'))!
    const plan = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${look.sql}`, [...look.parameters]))
    // A skipped event is skipped on the index entry: no seek into the table to read whose it is.
    assert.match(plan.rows.map((r) => r.detail).join('\n'), /USING INDEX events_due_merchant_ix/)
  } finally {
    await fresh.close()
  }
})
