// Payments in SQL: one row per customer attempt through a channel.
import type { Kysely } from 'kysely'
import type { Payment, PaymentStore } from '../core/ports.ts'
import type { Database } from './schema.ts'

export class SqlPaymentStore implements PaymentStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(p: Payment): Promise<void> {
    await this.db
      .insertInto('payments')
      .values({
        id: p.id,
        merchant_id: p.merchantId,
        order_id: p.orderId,
        channel: p.channel,
        status: p.status,
        amount: p.amount,
        currency: p.currency,
        channel_trade_no: p.channelTradeNo,
        unexpected: p.unexpected ? 1 : 0,
        created_at: p.createdAt,
        updated_at: p.updatedAt,
      })
      .execute()
  }
}
