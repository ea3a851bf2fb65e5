// The webhook lease on SQLite: per-merchant room is honoured, and a capped merchant's backlog, however long,
// never hides other merchants' due events.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { migrate, openDatabase, type OpenDatabase } from './database.ts'
import { SqlDeliveryQueue } from './delivery-queue.ts'

describe('SqlDeliveryQueue.lease', () => {
  let database: OpenDatabase
  let queue: SqlDeliveryQueue
  const now = 1_800_000_000_000

  async function due(merchantId: string, count: number, at: number) {
    for (let i = 0; i < count; i++) {
      await database.db
        .insertInto('events')
        .values({
          merchant_id: merchantId,
          id: `evt_${merchantId}_${i}`,
          mode: 'test',
          order_id: `ord_${i}`,
          type: 'order.paid',
          data: '{}',
          notify_url: null,
          created_at: at,
          delivery_status: 'pending',
          attempt_count: 0,
          next_attempt_at: at + i,
          locked_until: null,
          one_shot: 0,
        })
        .execute()
    }
  }

  before(async () => {
    database = await openDatabase(`sqlite:${join(mkdtempSync(join(tmpdir(), 'scanpay-dq-')), 'x.db')}`)
    await migrate(database.db)
    queue = new SqlDeliveryQueue(database.db, 'sqlite')
    // A merchant whose endpoint hangs: a backlog far longer than one lease looks at, all older than B's.
    await due('mch_hang', 60, now - 60_000)
    await due('mch_b', 3, now - 1_000)
  })
  after(() => database.close())

  it('skips a merchant with no room and finds the others behind its backlog', async () => {
    const leases = await queue.lease(now, now + 40_000, 2, (m) => (m === 'mch_hang' ? 0 : 10))
    assert.deepEqual(leases.map((l) => l.event.id).sort(), ['evt_mch_b_0', 'evt_mch_b_1'])
  })

  it('gives a merchant no more than its room, and leased events are not leased again', async () => {
    const leases = await queue.lease(now, now + 40_000, 10, (m) => (m === 'mch_hang' ? 3 : 10))
    assert.equal(leases.filter((l) => l.event.merchantId === 'mch_hang').length, 3)
    assert.deepEqual(leases.filter((l) => l.event.merchantId === 'mch_b').map((l) => l.event.id), ['evt_mch_b_2'])
    const again = await queue.lease(now, now + 40_000, 10, (m) => (m === 'mch_hang' ? 0 : 10))
    assert.deepEqual(again, [])
  })
})
