// CompiledOnce: the reused statement text sends each call's own values, and a statement whose parameters are
// not the values given is never reused.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CompiledOnce } from './compiled-once.ts'
import { migrate, openDatabase, type OpenDatabase } from './database.ts'

describe('CompiledOnce', () => {
  let database: OpenDatabase
  before(async () => {
    database = await openDatabase('sqlite::memory:')
    await migrate(database.db)
  })
  after(() => database.close())

  const insert = (once: CompiledOnce, values: unknown[], keyId: string, nonce: string, at: number) =>
    once.execute(database.db, values, () =>
      database.db.insertInto('nonces').values({ key_id: keyId, nonce, expires_at: at }).returning(['key_id', 'nonce', 'expires_at']),
    )

  it('reuses the text with each call’s values, inside transactions too', async () => {
    const once = new CompiledOnce()
    const a = await insert(once, ['k1', 'n1', 1], 'k1', 'n1', 1)
    const b = await database.db.transaction().execute((trx) =>
      once.execute(trx, ['k2', 'n2', 2], () => trx.insertInto('nonces').values({ key_id: 'k2', nonce: 'n2', expires_at: 2 }).returning(['key_id', 'nonce', 'expires_at'])),
    )
    assert.deepEqual(a.rows, [{ key_id: 'k1', nonce: 'n1', expires_at: 1 }])
    assert.deepEqual(b.rows, [{ key_id: 'k2', nonce: 'n2', expires_at: 2 }])
  })

  it('does not reuse a text whose parameters differ from the values given', async () => {
    const once = new CompiledOnce()
    // The values claim another order than the statement's: every call must build its own statement.
    await insert(once, ['n3', 'k3', 3], 'k3', 'n3', 3)
    const r = await insert(once, ['n4', 'k4', 4], 'k4', 'n4', 4)
    assert.deepEqual(r.rows, [{ key_id: 'k4', nonce: 'n4', expires_at: 4 }])
  })
})
