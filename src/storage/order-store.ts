// Orders in SQL. Every status move is a conditional UPDATE: its row count says who won.
import { sql, type Kysely, type Selectable } from 'kysely'
import type { ChannelName, Order, OrderStatus } from '../core/order.ts'
import type { OrderListFilter, OrderStore } from '../core/ports.ts'
import { CompiledOnce } from './compiled-once.ts'
import type { Database, OrdersTable } from './schema.ts'
import { olderThan } from './keyset.ts'

export function rowToOrder(row: Selectable<OrdersTable>): Order {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    mode: row.mode,
    status: row.status as OrderStatus,
    outTradeNo: row.out_trade_no,
    amount: Number(row.amount),
    amountRefunded: Number(row.amount_refunded),
    currency: row.currency,
    subject: row.subject,
    description: row.description,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    channels: JSON.parse(row.channels) as ChannelName[],
    notifyUrl: row.notify_url,
    returnUrl: row.return_url,
    payToken: row.pay_token,
    channel: row.channel as ChannelName | null,
    channelTradeNo: row.channel_trade_no,
    requestHash: row.request_hash,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    paidAt: row.paid_at === null ? null : Number(row.paid_at),
    closedAt: row.closed_at === null ? null : Number(row.closed_at),
    updatedAt: Number(row.updated_at),
  }
}

function orderToRow(o: Order): OrdersTable {
  return {
    id: o.id,
    merchant_id: o.merchantId,
    mode: o.mode,
    status: o.status,
    out_trade_no: o.outTradeNo,
    amount: o.amount,
    amount_refunded: o.amountRefunded,
    currency: o.currency,
    subject: o.subject,
    description: o.description,
    metadata: JSON.stringify(o.metadata),
    channels: JSON.stringify(o.channels),
    notify_url: o.notifyUrl,
    return_url: o.returnUrl,
    pay_token: o.payToken,
    channel: o.channel,
    channel_trade_no: o.channelTradeNo,
    request_hash: o.requestHash,
    created_at: o.createdAt,
    expires_at: o.expiresAt,
    paid_at: o.paidAt,
    closed_at: o.closedAt,
    updated_at: o.updatedAt,
  }
}

/** One compiled INSERT per number of rows (compiled-once.ts): the hot path of order creation. */
const insertOrders = new Map<number, CompiledOnce>()

/** The order id a pay token names (PayTokens.orderIdOf), or null for a token of another shape. */
export type LocateToken = (token: string) => string | null

/** The length of the purely random pay tokens made before tokens carried their order's id. */
const LEGACY_TOKEN_LENGTH = 32

export class SqlOrderStore implements OrderStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly locate: LocateToken = () => null,
  ) {}

  async insertIfAbsent(order: Order): Promise<boolean> {
    return (await this.insertManyIfAbsent([order])).has(order.id)
  }

  /**
   * insertIfAbsent for many orders in one statement (atomic by itself); returns the ids it inserted. An order
   * whose (merchant, mode, out_trade_no) exists, or repeats one earlier in the list, is left out.
   */
  async insertManyIfAbsent(orders: readonly Order[]): Promise<Set<string>> {
    const rows = orders.map(orderToRow)
    let compiled = insertOrders.get(rows.length)
    if (!compiled) insertOrders.set(rows.length, (compiled = new CompiledOnce()))
    const r = await compiled.execute(this.db, rows.flatMap(Object.values), () =>
      this.db
        .insertInto('orders')
        .values(rows)
        .onConflict((oc) => oc.columns(['merchant_id', 'mode', 'out_trade_no']).doNothing())
        .returning('id'),
    )
    return new Set(r.rows.map((row) => row.id))
  }

  async byId(merchantId: string, mode: Order['mode'], id: string): Promise<Order | null> {
    const row = await this.db
      .selectFrom('orders')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .where('id', '=', id)
      .where('mode', '=', mode)
      .executeTakeFirst()
    return row ? rowToOrder(row) : null
  }

  async byOutTradeNo(merchantId: string, mode: Order['mode'], outTradeNo: string): Promise<Order | null> {
    const row = await this.db
      .selectFrom('orders')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .where('mode', '=', mode)
      .where('out_trade_no', '=', outTradeNo)
      .executeTakeFirst()
    return row ? rowToOrder(row) : null
  }

  async byToken(token: string): Promise<Order | null> {
    const id = this.locate(token)
    // The id says where to look; only the whole token, compared with the stored one, says it is this order's.
    const q = this.db.selectFrom('orders').selectAll().where('pay_token', '=', token)
    const row = id
      ? await q.where('id', '=', id).executeTakeFirst()
      : token.length === LEGACY_TOKEN_LENGTH
        ? await q.where(sql<boolean>`length(pay_token) = 32`).executeTakeFirst()
        : undefined
    return row ? rowToOrder(row) : null
  }

  async list(f: OrderListFilter): Promise<Order[]> {
    let q = this.db
      .selectFrom('orders')
      .selectAll()
      .where('merchant_id', '=', f.merchantId)
      .where('mode', '=', f.mode)
    if (f.status) q = q.where('status', '=', f.status)
    if (f.outTradeNo !== undefined) q = q.where('out_trade_no', '=', f.outTradeNo)
    if (f.createdGte !== undefined) q = q.where('created_at', '>=', f.createdGte)
    if (f.createdLt !== undefined) q = q.where('created_at', '<', f.createdLt)
    if (f.before) q = q.where(olderThan(f.before))
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute()
    return rows.map(rowToOrder)
  }

  async markPaid(order: Order, channel: ChannelName, channelTradeNo: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('orders')
      .set({ status: 'paid', channel, channel_trade_no: channelTradeNo, paid_at: now, updated_at: now })
      .where('merchant_id', '=', order.merchantId)
      .where('id', '=', order.id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  async markClosed(order: Order, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('orders')
      .set({ status: 'closed', closed_at: now, updated_at: now })
      .where('merchant_id', '=', order.merchantId)
      .where('id', '=', order.id)
      .where('status', '=', 'pending')
      .executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  async markExpired(order: Order, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('orders')
      .set({ status: 'expired', updated_at: now })
      .where('merchant_id', '=', order.merchantId)
      .where('id', '=', order.id)
      .where('status', '=', 'pending')
      .where('expires_at', '<=', now)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  async duePendingExpiry(now: number, limit: number): Promise<Order[]> {
    const rows = await this.db
      .selectFrom('orders')
      .selectAll()
      .where('status', '=', 'pending')
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit)
      .execute()
    return rows.map(rowToOrder)
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('orders')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute()
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))
  }
}
