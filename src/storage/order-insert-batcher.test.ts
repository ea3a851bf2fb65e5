// OrderInsertBatcher: concurrent creations share statements, and each caller still hears its own outcome.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { anOrder } from '../../test/helpers/orders.ts'
import { migrate, openDatabase, type OpenDatabase } from './database.ts'
import { GroupCommit } from './group-commit.ts'
import { OrderInsertBatcher, type WriteStatement } from './order-insert-batcher.ts'
import type { Database } from './schema.ts'

describe('OrderInsertBatcher', () => {
  let database: OpenDatabase
  let statements = 0
  let batcher: OrderInsertBatcher

  before(async () => {
    database = await openDatabase(`sqlite:${join(mkdtempSync(join(tmpdir(), 'scanpay-oib-')), 'x.db')}`)
    await migrate(database.db)
    const group = new GroupCommit<Database>(database.db)
    const write: WriteStatement = (fn) => {
      statements++
      return group.runStatement(fn)
    }
    batcher = new OrderInsertBatcher(write, 64)
  })
  after(() => database.close())

  const stored = async (prefix: string) =>
    (await database.db.selectFrom('orders').select(['id', 'out_trade_no']).where('out_trade_no', 'like', `${prefix}%`).execute()).length

  it('inserts concurrent orders in a few statements, each answered true', async () => {
    statements = 0
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => batcher.insert(anOrder(`a-${i}`))))
    assert.ok(results.every((r) => r === true))
    assert.ok(statements <= 4, `200 orders took ${statements} statements`)
    assert.equal(await stored('a-'), 200)
  })

  it('answers false for an out_trade_no that exists, or that an earlier order of the same batch took', async () => {
    await batcher.insert(anOrder('b-1'))
    const [again, first, twin] = await Promise.all([batcher.insert(anOrder('b-1')), batcher.insert(anOrder('b-2')), batcher.insert(anOrder('b-2'))])
    assert.deepEqual([again, first, twin], [false, true, false])
    assert.equal(await stored('b-'), 2)
  })

  it('a row the database refuses fails alone; the others of its batch are inserted', async () => {
    const bad = anOrder('c-bad', { subject: null as unknown as string })
    const outcomes = await Promise.allSettled([batcher.insert(anOrder('c-1')), batcher.insert(bad), batcher.insert(anOrder('c-2'))])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    )
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /NOT NULL/)
    assert.equal(await stored('c-'), 2)
  })
})
