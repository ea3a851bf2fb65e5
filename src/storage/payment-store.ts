// Payments in SQL: one row per customer attempt through a channel. Every move is a conditional UPDATE.
import { sql, type CompiledQuery, type Insertable, type Kysely, type Selectable } from 'kysely'
import type { ChannelName } from '../core/order.ts'
import type { OrderPayment, Payment, PaymentMoveFields, PaymentStatus, PaymentStore } from '../core/ports.ts'
import type { Database, PaymentsTable } from './schema.ts'
import { PAYMENT_COLUMNS } from './columns.ts'

export function rowToPayment(r: Selectable<PaymentsTable>): Payment {
  return {
    id: r.id,
    merchantId: r.merchant_id,
    orderId: r.order_id,
    channel: r.channel as ChannelName,
    status: r.status as PaymentStatus,
    amount: Number(r.amount),
    currency: r.currency,
    channelTradeNo: r.channel_trade_no,
    unexpected: Number(r.unexpected) === 1,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    qrContent: r.qr_content,
    nextCheckAt: r.next_check_at === null ? null : Number(r.next_check_at),
    checkCount: Number(r.check_count),
    refundRefusedReason: r.refund_refused_reason,
  }
}

function paymentRow(p: Payment): Insertable<PaymentsTable> {
  return {
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
    qr_content: p.qrContent ?? null,
    next_check_at: p.nextCheckAt ?? null,
    check_count: p.checkCount ?? 0,
  }
}

export class SqlPaymentStore implements PaymentStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(p: Payment): Promise<void> {
    await this.db.insertInto('payments').values(paymentRow(p)).execute()
  }

  /**
   * A succeeded payment as a change for Storage.applyChanges: a new row, or, when the row exists (a channel
   * attempt opened earlier) and is in one of `reopenFrom`, that row moved to succeeded. A row in any other
   * status changes nothing, as move() would refuse it and insert() would collide with it.
   */
  succeededChange(p: Payment, reopenFrom: readonly PaymentStatus[]): CompiledQuery {
    const insert = this.db.insertInto('payments').values(paymentRow({ ...p, status: 'succeeded' }))
    if (reopenFrom.length === 0) return insert.compile()
    return insert
      .onConflict((oc) =>
        oc
          .columns(['merchant_id', 'id'])
          .doUpdateSet({ status: 'succeeded', channel_trade_no: p.channelTradeNo, next_check_at: null, updated_at: p.updatedAt })
          .where('payments.status', 'in', [...reopenFrom]),
      )
      .compile()
  }

  async insertOpen(p: Payment): Promise<boolean> {
    // The partial unique index of migration 0005 arbitrates: a second opener's row is dropped, not an error
    // (on PostgreSQL the insert waits for the winner to commit first).
    const r = await this.db
      .insertInto('payments')
      .values(paymentRow({ ...p, status: 'pending' }))
      .onConflict((oc) => oc.columns(['merchant_id', 'order_id', 'channel']).where(sql<boolean>`status = 'pending'`).doNothing())
      .executeTakeFirst()
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1
  }

  /** The order's open channel attempts fall due for a check now, as a change (there may be none). */
  dueNowChange(merchantId: string, orderId: string, now: number): CompiledQuery {
    return this.db
      .updateTable('payments')
      .set({ next_check_at: now })
      .where('merchant_id', '=', merchantId)
      .where('order_id', '=', orderId)
      .where('status', '=', 'pending')
      .compile()
  }

  async byId(id: string): Promise<Payment | null> {
    const r = await this.db.selectFrom('payments').select(PAYMENT_COLUMNS).where('id', '=', id).executeTakeFirst()
    return r ? rowToPayment(r) : null
  }

  async openAttempt(merchantId: string, orderId: string, channel: ChannelName): Promise<Payment | null> {
    const r = await this.db
      .selectFrom('payments')
      .select(PAYMENT_COLUMNS)
      .where('merchant_id', '=', merchantId)
      .where('order_id', '=', orderId)
      .where('channel', '=', channel)
      .where('status', '=', 'pending')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst()
    return r ? rowToPayment(r) : null
  }

  async setQrContent(p: Payment, qrContent: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('payments')
      .set({ qr_content: qrContent, updated_at: now })
      .where('merchant_id', '=', p.merchantId)
      .where('id', '=', p.id)
      .where('status', '=', 'pending')
      .executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  async move(
    p: Pick<Payment, 'merchantId' | 'id'>,
    from: readonly PaymentStatus[],
    to: PaymentStatus,
    now: number,
    set: PaymentMoveFields = {},
  ): Promise<boolean> {
    const r = await this.db.executeQuery(this.moveChange(p, from, to, now, set))
    return r.numAffectedRows === 1n
  }

  /** move() as a change for Storage.applyChanges. */
  moveChange(p: Pick<Payment, 'merchantId' | 'id'>, from: readonly PaymentStatus[], to: PaymentStatus, now: number, set: PaymentMoveFields = {}): CompiledQuery {
    return this.db
      .updateTable('payments')
      .set({
        status: to,
        updated_at: now,
        ...(set.channelTradeNo !== undefined ? { channel_trade_no: set.channelTradeNo } : {}),
        ...(set.unexpected !== undefined ? { unexpected: set.unexpected ? 1 : 0 } : {}),
        ...(set.nextCheckAt !== undefined ? { next_check_at: set.nextCheckAt } : {}),
        ...(set.refundRefusedReason !== undefined ? { refund_refused_reason: set.refundRefusedReason } : {}),
      })
      .where('merchant_id', '=', p.merchantId)
      .where('id', '=', p.id)
      .where('status', 'in', [...from])
      .compile()
  }

  async dueForCheck(now: number, limit: number): Promise<Payment[]> {
    const rows = await this.db
      .selectFrom('payments')
      .select(PAYMENT_COLUMNS)
      .where('next_check_at', '<=', now)
      .where('status', 'in', ['pending', 'refund_requested'])
      .orderBy('next_check_at')
      .limit(limit)
      .execute()
    return rows.map(rowToPayment)
  }

  async unexpectedOf(merchantId: string, orderId: string): Promise<Payment[]> {
    // An order has a few attempts at most: read them all and keep the unexpected ones.
    return (await this.ofOrder(merchantId, orderId)).filter((p) => p.unexpected)
  }

  async ofOrder(merchantId: string, orderId: string): Promise<Payment[]> {
    const rows = await this.db
      .selectFrom('payments')
      .select(PAYMENT_COLUMNS)
      .where('merchant_id', '=', merchantId)
      .where('order_id', '=', orderId)
      .orderBy('created_at')
      .orderBy('id')
      .execute()
    return rows.map(rowToPayment)
  }

  async awaitingRefund(filter: { merchantId?: string; limit: number }): Promise<Payment[]> {
    // A literal, not a parameter: only then can the planners prove the partial index (migration 0012) applies.
    let q = this.db.selectFrom('payments').select(PAYMENT_COLUMNS).where(sql.ref('status'), '=', sql.lit('refund_requested'))
    if (filter.merchantId !== undefined) q = q.where('merchant_id', '=', filter.merchantId)
    const rows = await q.orderBy('created_at').orderBy('id').limit(filter.limit).execute()
    return rows.map(rowToPayment)
  }

  async unrefundedSummary(): Promise<{ awaitingPerson: number; inProgress: number; oldestSince: number | null }> {
    const row = await this.db
      .selectFrom('payments')
      // count(next_check_at) counts the ones the reconciler still follows; the rest wait for a person.
      .select((eb) => [eb.fn.countAll<number | string>().as('all'), eb.fn.count<number | string>('next_check_at').as('followed'), eb.fn.min('updated_at').as('oldest')])
      .where(sql.ref('status'), '=', sql.lit('refund_requested'))
      .executeTakeFirstOrThrow()
    return { awaitingPerson: Number(row.all) - Number(row.followed), inProgress: Number(row.followed), oldestSince: row.oldest === null ? null : Number(row.oldest) }
  }

  async paidThrough(merchantId: string, channel: ChannelName, from: number, to: number): Promise<OrderPayment[]> {
    const rows = await this.db
      .selectFrom('orders as o')
      .innerJoin('payments as p', (j) => j.onRef('p.merchant_id', '=', 'o.merchant_id').onRef('p.order_id', '=', 'o.id'))
      .select(['p.id', 'p.order_id', 'p.amount', 'p.channel_trade_no', 'o.paid_at'])
      .where('o.merchant_id', '=', merchantId)
      .where('o.channel', '=', channel)
      // Spelled out so that both planners see the partial index (migration 0015) applies.
      .where('o.paid_at', 'is not', null)
      .where('o.paid_at', '>=', from)
      .where('o.paid_at', '<', to)
      .where('o.mode', '=', 'live')
      .where('p.channel', '=', channel)
      .where('p.unexpected', '=', 0)
      .where('p.status', 'in', ['succeeded', 'refund_requested', 'refunded'])
      .orderBy('o.paid_at')
      .execute()
    return rows.map((r) => ({ id: r.id, orderId: r.order_id, amount: Number(r.amount), channelTradeNo: r.channel_trade_no, paidAt: Number(r.paid_at) }))
  }

  async claimCheck(p: Payment, nextCheckAt: number | null): Promise<boolean> {
    // Matching the check count we read makes the claim win for one node only.
    const r = await this.db
      .updateTable('payments')
      .set((eb) => ({ next_check_at: nextCheckAt, check_count: eb('check_count', '+', 1) }))
      .where('merchant_id', '=', p.merchantId)
      .where('id', '=', p.id)
      .where('check_count', '=', p.checkCount ?? 0)
      .where('status', '=', p.status)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }
}
