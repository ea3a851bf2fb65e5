// The channel notification inbox: every notification we believed, once per (channel, merchant, notification id),
// for dedupe and audit. The merchant is part of the key so that one merchant's channel keys cannot make another
// merchant's notification look like a duplicate (migration 0014).
import type { Kysely } from 'kysely'
import { randomBytes } from 'node:crypto'
import type { Database } from './schema.ts'

/** The key's merchant: '' for a notification that names none (a NULL would never equal another). */
const merchantKey = (merchantId: string | null | undefined) => merchantId ?? ''
/** The id as stored: the column holds 128 characters, and a lookup must compare what was stored. */
const storedId = (notificationId: string) => notificationId.slice(0, 128)

export class SqlChannelNotificationStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Whether this merchant's notification was recorded before (merchantId: the one it is for, if any). */
  async seen(channel: string, merchantId: string | null | undefined, notificationId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('channel_notifications')
      .select('id')
      .where('channel', '=', channel)
      .where('merchant_key', '=', merchantKey(merchantId))
      .where('notification_id', '=', storedId(notificationId))
      .executeTakeFirst()
    return r !== undefined
  }

  /** Records it; false when it was recorded before (the unique key decides a race between two deliveries). */
  async record(n: { channel: string; notificationId: string; merchantId: string | null; paymentId: string | null; outcome: string; rawBody: string; now: number }): Promise<boolean> {
    const r = await this.db
      .insertInto('channel_notifications')
      .values({
        id: `cnt_${randomBytes(15).toString('base64url')}`,
        channel: n.channel,
        notification_id: storedId(n.notificationId),
        merchant_id: n.merchantId,
        merchant_key: merchantKey(n.merchantId),
        payment_id: n.paymentId,
        received_at: n.now,
        outcome: n.outcome,
        raw_body: n.rawBody,
      })
      .onConflict((oc) => oc.columns(['channel', 'merchant_key', 'notification_id']).doNothing())
      .executeTakeFirst()
    return r.numInsertedOrUpdatedRows === 1n
  }
}
