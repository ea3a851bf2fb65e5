// The channel notification inbox: every notification we believed, once per (channel, notification id), for
// dedupe and audit.
import type { Kysely } from 'kysely'
import { randomBytes } from 'node:crypto'
import type { Database } from './schema.ts'

export class SqlChannelNotificationStore {
  constructor(private readonly db: Kysely<Database>) {}

  async seen(channel: string, notificationId: string): Promise<boolean> {
    const r = await this.db.selectFrom('channel_notifications').select('id').where('channel', '=', channel).where('notification_id', '=', notificationId).executeTakeFirst()
    return r !== undefined
  }

  /** Records it; false when it was recorded before (the unique key decides a race between two deliveries). */
  async record(n: { channel: string; notificationId: string; merchantId: string | null; paymentId: string | null; outcome: string; rawBody: string; now: number }): Promise<boolean> {
    const r = await this.db
      .insertInto('channel_notifications')
      .values({
        id: `cnt_${randomBytes(15).toString('base64url')}`,
        channel: n.channel,
        notification_id: n.notificationId.slice(0, 128),
        merchant_id: n.merchantId,
        payment_id: n.paymentId,
        received_at: n.now,
        outcome: n.outcome,
        raw_body: n.rawBody,
      })
      .onConflict((oc) => oc.columns(['channel', 'notification_id']).doNothing())
      .executeTakeFirst()
    return r.numInsertedOrUpdatedRows === 1n
  }
}
