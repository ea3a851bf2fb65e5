// Refunds in SQL, and the refund accounting on their order's row. Every move is a conditional UPDATE: the
// row count says who won, and the order's columns can only move within what was paid.
import { sql, type CompiledQuery, type Kysely, type Selectable } from 'kysely'
import type { ChannelName, Mode, Order } from '../core/order.ts'
import type { PaymentRefund, RefundListFilter, RefundStore } from '../core/ports.ts'
import type { Refund, RefundStatus } from '../core/refund.ts'
import type { Database, RefundsTable } from './schema.ts'
import { olderThan } from './keyset.ts'
import { REFUND_COLUMNS } from './columns.ts'
import { CompiledOnce } from './compiled-once.ts'

/** Built and compiled once: a text of named columns costs more to build than to run. */
const refundById = new CompiledOnce()

export function rowToRefund(row: Selectable<RefundsTable>): Refund {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    mode: row.mode,
    orderId: row.order_id,
    amount: Number(row.amount),
    currency: row.currency,
    status: row.status as RefundStatus,
    outRefundNo: row.out_refund_no,
    reason: row.reason,
    failureReason: row.failure_reason,
    channel: row.channel as ChannelName,
    channelRefundNo: row.channel_refund_no,
    requestHash: row.request_hash,
    createdAt: Number(row.created_at),
    succeededAt: row.succeeded_at === null ? null : Number(row.succeeded_at),
    failedAt: row.failed_at === null ? null : Number(row.failed_at),
    updatedAt: Number(row.updated_at),
    nextCheckAt: Number(row.next_check_at),
    checkCount: Number(row.check_count),
  }
}

export class SqlRefundStore implements RefundStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The refund inserted, as a change for Storage.applyChanges: it changes nothing when (merchant, mode, out_refund_no) exists. */
  insertChange(r: Refund): CompiledQuery {
    return this.db
      .insertInto('refunds')
      .values({
        id: r.id,
        merchant_id: r.merchantId,
        mode: r.mode,
        order_id: r.orderId,
        amount: r.amount,
        currency: r.currency,
        status: r.status,
        out_refund_no: r.outRefundNo,
        reason: r.reason,
        failure_reason: r.failureReason,
        channel: r.channel,
        channel_refund_no: r.channelRefundNo,
        request_hash: r.requestHash,
        created_at: r.createdAt,
        succeeded_at: r.succeededAt,
        failed_at: r.failedAt,
        updated_at: r.updatedAt,
        next_check_at: r.nextCheckAt,
        check_count: r.checkCount,
      })
      .onConflict((oc) => oc.columns(['merchant_id', 'mode', 'out_refund_no']).doNothing())
      .compile()
  }

  async byId(merchantId: string, mode: Mode, id: string): Promise<Refund | null> {
    // By the primary key alone, the mode checked on the row (as SqlOrderStore.byId, and for the same reason).
    const q = () => this.db.selectFrom('refunds').select(REFUND_COLUMNS).where('merchant_id', '=', merchantId).where('id', '=', id)
    const row = (await refundById.execute(this.db, [merchantId, id], q)).rows[0]
    return row && row.mode === mode ? rowToRefund(row) : null
  }

  async ownerOf(id: string): Promise<{ merchantId: string; orderId: string } | null> {
    // refunds_id_ix (migration 0018) serves it.
    const row = await this.db.selectFrom('refunds').select(['merchant_id', 'order_id']).where('id', '=', id).limit(1).executeTakeFirst()
    return row ? { merchantId: row.merchant_id, orderId: row.order_id } : null
  }

  async byOutRefundNo(merchantId: string, mode: Mode, outRefundNo: string): Promise<Refund | null> {
    const row = await this.db
      .selectFrom('refunds')
      .select(REFUND_COLUMNS)
      .where('merchant_id', '=', merchantId)
      .where('mode', '=', mode)
      .where('out_refund_no', '=', outRefundNo)
      .executeTakeFirst()
    return row ? rowToRefund(row) : null
  }

  async listForOrder(f: RefundListFilter): Promise<Refund[]> {
    let q = this.db
      .selectFrom('refunds')
      .select(REFUND_COLUMNS)
      .where('merchant_id', '=', f.merchantId)
      .where('order_id', '=', f.orderId)
      .where('mode', '=', f.mode)
    if (f.before) q = q.where(olderThan(f.before))
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute()
    return rows.map(rowToRefund)
  }

  /**
   * `amount` reserved on the order for a new refund, as a change: only while the order is paid or partially
   * refunded and its pending and succeeded refunds stay within what was paid. One statement checks and reserves:
   * PostgreSQL re-evaluates the WHERE on the row it waited for, and SQLite runs one writer at a time, so two
   * concurrent refunds can never both fit into the same room.
   */
  reserveOnOrderChange(order: Pick<Order, 'merchantId' | 'id'>, amount: number, now: number): CompiledQuery {
    return this.db
      .updateTable('orders')
      .set((eb) => ({ amount_refund_reserved: eb('amount_refund_reserved', '+', amount), updated_at: now }))
      .where('merchant_id', '=', order.merchantId)
      .where('id', '=', order.id)
      .where('status', 'in', ['paid', 'partially_refunded'])
      .where(sql<boolean>`amount_refund_reserved + ${amount} <= amount`)
      .compile()
  }

  /**
   * A failed refund's reservation given back to the order, as a change: only while the order's amount_refunded
   * is still `refundedBefore` (what the event that reports it was written from).
   */
  releaseOnOrderChange(refund: Refund, refundedBefore: number, now: number): CompiledQuery {
    return this.db
      .updateTable('orders')
      .set((eb) => ({ amount_refund_reserved: eb('amount_refund_reserved', '-', refund.amount), updated_at: now }))
      .where('merchant_id', '=', refund.merchantId)
      .where('id', '=', refund.orderId)
      .where('amount_refunded', '=', refundedBefore)
      .where(sql<boolean>`amount_refund_reserved - ${refund.amount} >= amount_refunded`)
      .compile()
  }

  /**
   * A succeeded refund added to the order's amount_refunded, which moves it to partially_refunded or refunded,
   * as a change: only within the order's reservation, and while amount_refunded is still `refundedBefore`.
   */
  applyToOrderChange(refund: Refund, refundedBefore: number, now: number): CompiledQuery {
    return this.db
      .updateTable('orders')
      .set({
        amount_refunded: sql<number>`amount_refunded + ${refund.amount}`,
        status: sql<string>`CASE WHEN amount_refunded + ${refund.amount} >= amount THEN 'refunded' ELSE 'partially_refunded' END`,
        updated_at: now,
      })
      .where('merchant_id', '=', refund.merchantId)
      .where('id', '=', refund.orderId)
      .where('status', 'in', ['paid', 'partially_refunded'])
      .where('amount_refunded', '=', refundedBefore)
      .where(sql<boolean>`amount_refunded + ${refund.amount} <= amount_refund_reserved`)
      .compile()
  }

  /** pending → succeeded, as a change. */
  succeededChange(refund: Refund, channelRefundNo: string, now: number): CompiledQuery {
    return this.#pending(refund).set({ status: 'succeeded', channel_refund_no: channelRefundNo, succeeded_at: now, updated_at: now }).compile()
  }

  /** pending → failed, as a change. */
  failedChange(refund: Refund, reason: string, now: number): CompiledQuery {
    return this.#pending(refund).set({ status: 'failed', failure_reason: reason, failed_at: now, updated_at: now }).compile()
  }

  #pending(refund: Refund) {
    return this.db.updateTable('refunds').where('merchant_id', '=', refund.merchantId).where('id', '=', refund.id).where('status', '=', 'pending')
  }

  async dueForCheck(now: number, limit: number): Promise<Refund[]> {
    const rows = await this.db
      .selectFrom('refunds')
      .select(REFUND_COLUMNS)
      .where('status', '=', 'pending')
      .where('next_check_at', '<=', now)
      .orderBy('next_check_at')
      .limit(limit)
      .execute()
    return rows.map(rowToRefund)
  }

  async pendingList(filter: { merchantId?: string; limit: number }): Promise<Refund[]> {
    let q = this.db.selectFrom('refunds').select(REFUND_COLUMNS).where('status', '=', 'pending').where('mode', '=', 'live')
    if (filter.merchantId !== undefined) q = q.where('merchant_id', '=', filter.merchantId)
    const rows = await q.orderBy('created_at').orderBy('id').limit(filter.limit).execute()
    return rows.map(rowToRefund)
  }

  async pendingSummary(): Promise<{ count: number; oldestCreatedAt: number | null }> {
    // Through the (status, next_check_at) index: pending refunds are few, whatever the table holds.
    const row = await this.db
      .selectFrom('refunds')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.min('created_at').as('oldest')])
      .where('status', '=', 'pending')
      // Live money only: a test refund through the sandbox settles at once, and none may page anybody.
      .where('mode', '=', 'live')
      .executeTakeFirstOrThrow()
    return { count: Number(row.n), oldestCreatedAt: row.oldest === null ? null : Number(row.oldest) }
  }

  async askNow(merchantId: string, channel: ChannelName, id: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('refunds')
      .set({ next_check_at: now })
      .where('merchant_id', '=', merchantId)
      .where('id', '=', id)
      .where('channel', '=', channel)
      .where('mode', '=', 'live')
      .where('status', '=', 'pending')
      .where('next_check_at', '>', now)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  async succeededThrough(merchantId: string, channel: ChannelName, from: number, to: number): Promise<PaymentRefund[]> {
    const rows = await this.db
      .selectFrom('refunds as r')
      // The payment that paid the order: the one settled attempt that is not an unexpected one.
      .innerJoin('payments as p', (j) => j.onRef('p.merchant_id', '=', 'r.merchant_id').onRef('p.order_id', '=', 'r.order_id'))
      .select(['r.id', 'r.order_id', 'p.id as payment_id', 'p.channel_trade_no', 'r.amount', 'r.created_at', 'r.succeeded_at'])
      .where('r.merchant_id', '=', merchantId)
      .where('r.channel', '=', channel)
      // Spelled out so that both planners see the partial index (migration 0016) applies.
      .where('r.succeeded_at', 'is not', null)
      .where('r.succeeded_at', '>=', from)
      .where('r.succeeded_at', '<', to)
      .where('r.mode', '=', 'live')
      .where('r.status', '=', 'succeeded')
      .where('p.channel', '=', channel)
      .where('p.unexpected', '=', 0)
      .where('p.status', 'in', ['succeeded', 'refund_requested', 'refunded'])
      .orderBy('r.succeeded_at')
      .execute()
    return rows.map((r) => ({
      id: r.id,
      orderId: r.order_id,
      paymentId: r.payment_id,
      channelTradeNo: r.channel_trade_no,
      amount: Number(r.amount),
      createdAt: Number(r.created_at),
      succeededAt: Number(r.succeeded_at),
    }))
  }

  async claimCheck(refund: Refund, nextCheckAt: number): Promise<boolean> {
    const r = await this.db
      .updateTable('refunds')
      .set((eb) => ({ next_check_at: nextCheckAt, check_count: eb('check_count', '+', 1) }))
      .where('merchant_id', '=', refund.merchantId)
      .where('id', '=', refund.id)
      .where('status', '=', 'pending')
      .where('next_check_at', '=', refund.nextCheckAt)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }
}
