// Webhook events waiting for delivery, written straight into the events table for queue and worker tests.
import type { Kysely } from 'kysely'
import type { Database } from '../../src/storage/schema.ts'

/**
 * `count` pending order.paid events of one merchant, ids evt_<merchant>_<i>, the first due at `at` and each
 * next one `spacingMs` later.
 */
export async function insertDueEvents(
  db: Kysely<Database>,
  merchantId: string,
  count: number,
  at: number,
  { notifyUrl = null, spacingMs = 0 }: { notifyUrl?: string | null; spacingMs?: number } = {},
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await db
      .insertInto('events')
      .values({
        merchant_id: merchantId,
        id: `evt_${merchantId}_${i}`,
        mode: 'test',
        order_id: `ord_${i}`,
        type: 'order.paid',
        data: '{}',
        notify_url: notifyUrl,
        created_at: at,
        delivery_status: 'pending',
        attempt_count: 0,
        next_attempt_at: at + i * spacingMs,
        locked_until: null,
        one_shot: 0,
      })
      .execute()
  }
}
