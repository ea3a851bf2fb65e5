// Orders in SQL. Every status move is a conditional UPDATE: its row count says who won.
import { PostgresAdapter, sql, type CompiledQuery, type Kysely, type Selectable } from 'kysely'
import type { ChannelName, Order, OrderStatus } from '../core/order.ts'
import type { ListedOrder, OrderListFilter, OrderStore } from '../core/ports.ts'
import { CompiledOnce } from './compiled-once.ts'
import type { Database, OrdersTable } from './schema.ts'
import { olderThan } from './keyset.ts'
import { ORDER_COLUMNS } from './columns.ts'

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

/** A listed order's columns, in the order the list reads them back (rowToListed). */
const LISTED_COLUMNS = [
  'id', 'mode', 'status', 'out_trade_no', 'amount', 'amount_refunded', 'currency', 'subject', 'description',
  'metadata', 'notify_url', 'return_url', 'pay_token', 'channel', 'channel_trade_no', 'created_at', 'expires_at',
  'paid_at', 'closed_at',
] as const

type ListedRow = [
  id: string, mode: Order['mode'], status: string, outTradeNo: string, amount: number, amountRefunded: number,
  currency: string, subject: string, description: string | null, metadata: string, notifyUrl: string | null,
  returnUrl: string | null, payToken: string, channel: string | null, channelTradeNo: string | null,
  createdAt: number, expiresAt: number, paidAt: number | null, closedAt: number | null,
]

/**
 * Each listed row as one JSON array, so that the driver makes one value per row instead of one per column:
 * better-sqlite3 took 246 µs to return 50 rows of these 19 columns as objects and 78 µs as arrays' JSON (116
 * with JSON.parse). pg parses a `json` value itself; SQLite's comes back as text.
 */
function listedRow(db: Kysely<Database>) {
  const build = db.getExecutor().adapter instanceof PostgresAdapter ? sql.raw('json_build_array') : sql.raw('json_array')
  return sql<ListedRow | string>`${build}(${sql.join(LISTED_COLUMNS.map((c) => sql.ref(c)))})`.as('r')
}

function rowToListed(json: ListedRow | string): ListedOrder {
  const r: ListedRow = typeof json === 'string' ? JSON.parse(json) : json
  return {
    id: r[0],
    mode: r[1],
    status: r[2] as OrderStatus,
    outTradeNo: r[3],
    amount: Number(r[4]),
    amountRefunded: Number(r[5]),
    currency: r[6],
    subject: r[7],
    description: r[8],
    metadata: JSON.parse(r[9]) as Record<string, string>,
    notifyUrl: r[10],
    returnUrl: r[11],
    payToken: r[12],
    channel: r[13] as ChannelName | null,
    channelTradeNo: r[14],
    createdAt: Number(r[15]),
    expiresAt: Number(r[16]),
    paidAt: r[17] === null ? null : Number(r[17]),
    closedAt: r[18] === null ? null : Number(r[18]),
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

/** One compiled list statement per set of filters given (a bit each, as SqlOrderStore.list sets them). */
const listOrders = new Map<number, CompiledOnce>()

/** The checkout's reads: each open page reads its order again every second (http/checkout/checkout-cache.ts). */
const orderByToken = new CompiledOnce()
/** The pay path's and the API's look-ups: a text of 24 named columns costs more to build than to run. */
const orderById = new CompiledOnce()
const orderByOutTradeNo = new CompiledOnce()

/**
 * The ids of the order a pay token may name (PayTokens.orderIdsOf): under the current master key first, then
 * under each previous one; none for a token of another shape.
 */
export type LocateToken = (token: string) => readonly string[]

/** The length of the purely random pay tokens made before tokens carried their order's id. */
const LEGACY_TOKEN_LENGTH = 32

const insertOne = new CompiledOnce()

export class SqlOrderStore implements OrderStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly locate: LocateToken = () => [],
  ) {}

  async insertIfAbsent(order: Order): Promise<boolean> {
    return (await this.insertManyIfAbsent([order])).has(order.id)
  }

  /**
   * insertIfAbsent for many orders in one statement (atomic by itself); returns the ids it inserted. An order
   * whose (merchant, mode, out_trade_no) exists, or repeats one earlier in the list, is left out.
   */
  async insertManyIfAbsent(orders: readonly Order[]): Promise<Set<string>> {
    const r = await this.db.executeQuery(this.insertStatement(orders))
    return new Set(r.rows.map((row) => row.id))
  }

  /** The statement insertManyIfAbsent runs, to be run elsewhere (Storage.writeCompiled); it returns the inserted ids. */
  insertStatement(orders: readonly Order[]): CompiledQuery<{ id: string }> {
    const rows = orders.map(orderToRow)
    let compiled = insertOrders.get(rows.length)
    if (!compiled) insertOrders.set(rows.length, (compiled = new CompiledOnce()))
    return compiled.compile(this.db, rows.flatMap(Object.values), () =>
      this.db
        .insertInto('orders')
        .values(rows)
        .onConflict((oc) => oc.columns(['merchant_id', 'mode', 'out_trade_no']).doNothing())
        .returning('id'),
    )
  }

  /**
   * One order's insert, answered by its row count (1: inserted, 0: its out_trade_no exists) instead of
   * RETURNING: on SQLite's writer thread RETURNING made every create cost ~8 µs more of the server's CPU
   * (interleaved A/B, docs/performance.md "The seventh round").
   */
  insertOneStatement(order: Order): CompiledQuery {
    const row = orderToRow(order)
    return insertOne.compile(this.db, Object.values(row), () =>
      this.db
        .insertInto('orders')
        .values(row)
        .onConflict((oc) => oc.columns(['merchant_id', 'mode', 'out_trade_no']).doNothing()),
    )
  }

  async byId(merchantId: string, mode: Order['mode'], id: string): Promise<Order | null> {
    // By the primary key alone, the mode checked on the row: with mode in the WHERE, PostgreSQL chose the list
    // index (merchant_id, mode, …) until its first ANALYZE of the table, walking the merchant's rows (20 ms a
    // look-up under a fresh deployment's load, docs/performance.md "The thirteenth round").
    const q = () => this.db.selectFrom('orders').select(ORDER_COLUMNS).where('merchant_id', '=', merchantId).where('id', '=', id)
    const row = (await orderById.execute(this.db, [merchantId, id], q)).rows[0]
    return row && row.mode === mode ? rowToOrder(row) : null
  }

  async byOutTradeNo(merchantId: string, mode: Order['mode'], outTradeNo: string): Promise<Order | null> {
    const q = () =>
      this.db.selectFrom('orders').select(ORDER_COLUMNS).where('merchant_id', '=', merchantId).where('mode', '=', mode).where('out_trade_no', '=', outTradeNo)
    const row = (await orderByOutTradeNo.execute(this.db, [merchantId, mode, outTradeNo], q)).rows[0]
    return row ? rowToOrder(row) : null
  }

  async byToken(token: string): Promise<Order | null> {
    const ids = this.locate(token)
    // An id says where to look; only the whole token, compared with the stored one, says it is this order's.
    // A token the current master key did not issue is looked for under each previous key's reading in turn.
    const q = () => this.db.selectFrom('orders').select(ORDER_COLUMNS).where('pay_token', '=', token)
    for (const id of ids) {
      const row = (await orderByToken.execute(this.db, [token, id], () => q().where('id', '=', id))).rows[0]
      if (row) return rowToOrder(row)
    }
    const row = ids.length === 0 && token.length === LEGACY_TOKEN_LENGTH ? await q().where(sql<boolean>`length(pay_token) = 32`).executeTakeFirst() : undefined
    return row ? rowToOrder(row) : null
  }

  async list(f: OrderListFilter): Promise<ListedOrder[]> {
    // Which filters are given picks the statement's text, compiled once (compiled-once.ts): building and
    // compiling it cost ~90 µs of CPU a page (A/B). `values` are its parameters in the order the builder below adds them.
    const values: unknown[] = [f.merchantId, f.mode]
    let shape = 0
    if (f.status) {
      shape |= 1
      values.push(f.status)
    }
    if (f.expiresAfter !== undefined) {
      shape |= 32
      values.push(f.expiresAfter)
    }
    if (f.outTradeNo !== undefined) {
      shape |= 2
      values.push(f.outTradeNo)
    }
    if (f.createdGte !== undefined) {
      shape |= 4
      values.push(f.createdGte)
    }
    if (f.createdLt !== undefined) {
      shape |= 8
      values.push(f.createdLt)
    }
    if (f.before) {
      shape |= 16
      values.push(f.before.createdAt, f.before.id)
    }
    values.push(f.limit)
    let compiled = listOrders.get(shape)
    if (!compiled) listOrders.set(shape, (compiled = new CompiledOnce()))
    const r = await compiled.execute(this.db, values, () => {
      let q = this.db
        .selectFrom('orders')
        .select(listedRow(this.db))
        .where('merchant_id', '=', f.merchantId)
        .where('mode', '=', f.mode)
      if (f.status) q = q.where('status', '=', f.status)
      if (f.expiresAfter !== undefined) q = q.where('expires_at', '>', f.expiresAfter)
      if (f.outTradeNo !== undefined) q = q.where('out_trade_no', '=', f.outTradeNo)
      if (f.createdGte !== undefined) q = q.where('created_at', '>=', f.createdGte)
      if (f.createdLt !== undefined) q = q.where('created_at', '<', f.createdLt)
      if (f.before) q = q.where(olderThan(f.before))
      return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit)
    })
    return r.rows.map((row) => rowToListed(row.r))
  }

  /** The order moves to paid, as a change for Storage.applyChanges: only while it is pending and not expired. */
  markPaidChange(order: Order, channel: ChannelName, channelTradeNo: string, now: number): CompiledQuery {
    return this.#pending(order)
      .set({ status: 'paid', channel, channel_trade_no: channelTradeNo, paid_at: now, updated_at: now })
      .where('expires_at', '>', now)
      .compile()
  }

  /** The order moves to closed, as a change: only while it is pending. */
  markClosedChange(order: Order, now: number): CompiledQuery {
    return this.#pending(order).set({ status: 'closed', closed_at: now, updated_at: now }).compile()
  }

  /** The order moves to expired, as a change: only while it is pending and past expires_at. */
  markExpiredChange(order: Order, now: number): CompiledQuery {
    return this.#pending(order).set({ status: 'expired', updated_at: now }).where('expires_at', '<=', now).compile()
  }

  #pending(order: Order) {
    return this.db.updateTable('orders').where('merchant_id', '=', order.merchantId).where('id', '=', order.id).where('status', '=', 'pending')
  }

  async duePendingExpiry(now: number, limit: number): Promise<Order[]> {
    const rows = await this.db
      .selectFrom('orders')
      .select(ORDER_COLUMNS)
      .where('status', '=', 'pending')
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit)
      .execute()
    return rows.map(rowToOrder)
  }

  /**
   * Orders still awaiting payment, through the (status, expires_at) index: as many rows as are pending, which
   * expiry bounds, where counting every status reads every order (100 ms of the main thread at a million).
   */
  async countPending(): Promise<number> {
    const r = await this.db.selectFrom('orders').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow()
    return Number(r.n)
  }

  async ownerOf(id: string): Promise<{ merchantId: string; mode: Order['mode'] } | null> {
    // orders_id_ix (migration 0008) serves it.
    const row = await this.db.selectFrom('orders').select(['merchant_id', 'mode']).where('id', '=', id).limit(1).executeTakeFirst()
    return row ? { merchantId: row.merchant_id, mode: row.mode as Order['mode'] } : null
  }
}
