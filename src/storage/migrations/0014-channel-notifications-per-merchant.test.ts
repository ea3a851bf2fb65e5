// Migration 0014 over a database that already holds channel notifications, on SQLite and PostgreSQL: every row
// keeps its data and gets its merchant as its key ('' for none), and the key now lets another merchant record the
// same notification id while still refusing the same merchant's twice.
import assert from 'node:assert/strict'
import { sql, type Kysely } from 'kysely'
import { describeMigration, LATEST, type MigrationExercise } from '../../../test/helpers/migration-test.ts'
import { SqlChannelNotificationStore } from '../channel-notification-store.ts'
import type { Database } from '../schema.ts'

const before0014 = (id: string, notificationId: string, merchantId: string | null) => ({
  id, channel: 'wechatpay', notification_id: notificationId, merchant_id: merchantId, payment_id: 'pay_1',
  received_at: 1000, outcome: 'paid', raw_body: `{"id":"${notificationId}"}`,
})

async function exercise({ db, kind, migrateTo }: MigrationExercise) {
  assert.equal((await migrateTo('0013-retiring-webhook-secrets')).error, undefined)
  // Typed as the table was before 0014, without merchant_key.
  await (db as Kysely<any>)
    .insertInto('channel_notifications')
    .values([before0014('cnt_1', 'n-1', 'mch_a'), before0014('cnt_2', 'n-2', null)])
    .execute()
  const { error, results } = await migrateTo(LATEST)
  assert.equal(error, undefined)
  assert.ok(results?.some((r) => r.migrationName === '0014-channel-notifications-per-merchant' && r.status === 'Success'))

  const rows = await db.selectFrom('channel_notifications').selectAll().orderBy('id').execute()
  assert.deepEqual(
    rows.map((r) => ({ ...r, received_at: Number(r.received_at) })),
    [
      { ...before0014('cnt_1', 'n-1', 'mch_a'), merchant_key: 'mch_a' },
      { ...before0014('cnt_2', 'n-2', null), merchant_key: '' },
    ],
  )
  const store = new SqlChannelNotificationStore(db)
  assert.equal(await store.seen('wechatpay', 'mch_a', 'n-1'), true)
  assert.equal(await store.seen('wechatpay', undefined, 'n-2'), true)
  // Another merchant's notification under an id already recorded is no duplicate; the same merchant's still is.
  assert.equal(await store.seen('wechatpay', 'mch_b', 'n-1'), false)
  const record = (notificationId: string, merchantId: string | null) =>
    store.record({ channel: 'wechatpay', notificationId, merchantId, paymentId: null, outcome: 'ignored', rawBody: '{}', now: 2000 })
  assert.equal(await record('n-1', 'mch_b'), true)
  assert.equal(await record('n-1', 'mch_a'), false)
  assert.equal(await record('n-2', null), false)
  // The key is enforced by the database itself, not only by the store's ON CONFLICT.
  await assert.rejects(db.insertInto('channel_notifications').values({ ...before0014('cnt_3', 'n-1', 'mch_a'), merchant_key: 'mch_a' }).execute(), /unique/i)
  await assert.rejects(db.insertInto('channel_notifications').values({ ...before0014('cnt_4', 'n-9', null), merchant_key: null as unknown as string }).execute(), /null/i)
  if (kind === 'sqlite') {
    // The rebuild left nothing behind.
    const tables = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE name LIKE 'channel_notifications%' ORDER BY name`.execute(db)
    assert.deepEqual(tables.rows.map((r) => r.name), ['channel_notifications'])
  }
}

describeMigration('migration 0014: channel notifications deduplicated per merchant', exercise)
