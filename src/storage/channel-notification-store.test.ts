// The channel notification inbox on both databases: a notification is a duplicate only of one recorded for the
// same channel and merchant, so one merchant's channel keys cannot make another merchant's notification look seen.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../test/helpers/fresh-database.ts'
import { SqlChannelNotificationStore } from './channel-notification-store.ts'

describeEachStorage('SqlChannelNotificationStore', (t) => {
  const store = () => new SqlChannelNotificationStore(t.database.db)
  const record = (notificationId: string, merchantId: string | null, channel = 'wechatpay') =>
    store().record({ channel, notificationId, merchantId, paymentId: null, outcome: 'ignored', rawBody: '{}', now: 1 })

  it('the same notification id for two merchants is recorded for each, and seen only for the one it was recorded for', async () => {
    assert.equal(await record('n-shared', 'mch_a'), true)
    assert.equal(await store().seen('wechatpay', 'mch_b', 'n-shared'), false, 'merchant a\'s record does not make b\'s notification seen')
    assert.equal(await record('n-shared', 'mch_b'), true)
    assert.equal(await store().seen('wechatpay', 'mch_a', 'n-shared'), true)
    assert.equal(await store().seen('wechatpay', 'mch_b', 'n-shared'), true)
    assert.equal(await store().seen('wechatpay', 'mch_c', 'n-shared'), false)
    // Nor does it count for no merchant, or for another channel.
    assert.equal(await store().seen('wechatpay', undefined, 'n-shared'), false)
    assert.equal(await store().seen('alipay', 'mch_a', 'n-shared'), false)
    const rows = await t.database.db.selectFrom('channel_notifications').select(['merchant_id', 'merchant_key']).where('notification_id', '=', 'n-shared').orderBy('merchant_id').execute()
    assert.deepEqual(rows, [{ merchant_id: 'mch_a', merchant_key: 'mch_a' }, { merchant_id: 'mch_b', merchant_key: 'mch_b' }])
  })

  it('the same notification id for the same merchant is still a duplicate', async () => {
    assert.equal(await record('n-again', 'mch_a'), true)
    assert.equal(await store().seen('wechatpay', 'mch_a', 'n-again'), true)
    assert.equal(await record('n-again', 'mch_a'), false, 'the unique key refuses a second record (two deliveries racing)')
    const rows = await t.database.db.selectFrom('channel_notifications').select('id').where('notification_id', '=', 'n-again').execute()
    assert.equal(rows.length, 1)
  })

  it('notifications that name no merchant are duplicates of each other, kept apart from any merchant\'s, with merchant_id NULL', async () => {
    assert.equal(await record('n-none', null), true)
    assert.equal(await store().seen('wechatpay', undefined, 'n-none'), true)
    assert.equal(await store().seen('wechatpay', null, 'n-none'), true)
    assert.equal(await record('n-none', null), false)
    assert.equal(await store().seen('wechatpay', 'mch_a', 'n-none'), false)
    assert.equal(await record('n-none', 'mch_a'), true)
    const rows = await t.database.db.selectFrom('channel_notifications').select(['merchant_id', 'merchant_key']).where('notification_id', '=', 'n-none').orderBy('merchant_key').execute()
    assert.deepEqual(rows, [{ merchant_id: null, merchant_key: '' }, { merchant_id: 'mch_a', merchant_key: 'mch_a' }])
  })

  it('an id longer than the column is seen as it was stored', async () => {
    const long = 'x'.repeat(200)
    assert.equal(await record(long, 'mch_a'), true)
    assert.equal(await store().seen('wechatpay', 'mch_a', long), true)
    assert.equal(await record(long, 'mch_a'), false)
  })
})
