// Creates an order, idempotently on (merchant, mode, out_trade_no).
import { hash } from 'node:crypto'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { isCurrencyCode } from '../money.ts'
import { channelsForMode, channelTakes, type ChannelName, type Mode, type Order } from '../order.ts'
import type { WriteGuard } from '../ports.ts'
import type { UseCaseDeps } from './context.ts'

export interface CreateOrderInput {
  outTradeNo: string
  amount: number
  currency: string
  subject: string
  description: string | null
  notifyUrl: string | null
  returnUrl: string | null
  expiresInSeconds: number
  /**
   * The exact expiry (ms), when the order must end at a given instant rather than whole seconds from now (a signed
   * link's own expiry); expiresInSeconds is then that lifetime rounded down, for the fingerprint.
   */
  expiresAt?: number
  channels: ChannelName[] | undefined
  metadata: Record<string, string>
}

export interface CreateOrderResult {
  order: Order
  created: boolean
}

/** A fingerprint of the parameters that define the order, with defaults applied and keys in a fixed order. */
export function orderRequestHash(input: CreateOrderInput): string {
  const metadata = Object.fromEntries(Object.entries(input.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  const canonical = JSON.stringify([
    input.outTradeNo,
    input.amount,
    input.currency,
    input.subject,
    input.description,
    input.notifyUrl,
    input.returnUrl,
    input.expiresInSeconds,
    input.channels ? [...new Set(input.channels)].sort() : null,
    metadata,
  ])
  return hash('sha256', canonical, 'hex')
}

export async function createOrder(
  deps: UseCaseDeps,
  merchantId: string,
  mode: Mode,
  input: CreateOrderInput,
  /** A write that must succeed in the same commit for the order to be inserted (a signed request's nonce claim). */
  guard?: WriteGuard,
): Promise<CreateOrderResult> {
  if (!isCurrencyCode(input.currency)) {
    throw new AppError('parameter_invalid', 'currency must be an ISO 4217 code of three upper-case letters, e.g. CNY', 'currency')
  }
  if (mode === 'live' && input.channels?.includes('sandbox')) {
    throw new AppError('channel_unavailable', 'the sandbox channel only pays test-mode orders', 'channels')
  }
  // An order no channel could take would show its customer buttons that all fail.
  if (!channelsForMode(mode, input.channels).some((c) => channelTakes(c, input.currency))) {
    throw new AppError('channel_unavailable', `no channel this order may use takes ${input.currency}: WeChat Pay and Alipay take CNY only`, 'currency')
  }
  const now = deps.clock.now()
  const requestHash = orderRequestHash(input)
  const id = newId('ord', now)
  const order: Order = {
    id,
    merchantId,
    mode,
    status: 'pending',
    outTradeNo: input.outTradeNo,
    amount: input.amount,
    amountRefunded: 0,
    currency: input.currency,
    subject: input.subject,
    description: input.description,
    metadata: input.metadata,
    channels: channelsForMode(mode, input.channels),
    notifyUrl: input.notifyUrl,
    returnUrl: input.returnUrl,
    payToken: deps.payTokens.issue(id),
    channel: null,
    channelTradeNo: null,
    requestHash,
    createdAt: now,
    expiresAt: input.expiresAt ?? now + input.expiresInSeconds * 1000,
    paidAt: null,
    closedAt: null,
    updatedAt: now,
  }
  if (await deps.tx.insertOrder(order, guard)) return { order, created: true }
  // One statement, atomic alone: where the storage can, it skips BEGIN/COMMIT.
  const one = deps.tx.statement ? deps.tx.statement.bind(deps.tx) : deps.tx.transaction.bind(deps.tx)
  const existing = await one((w) => w.orders.byOutTradeNo(merchantId, mode, input.outTradeNo))
  if (!existing) throw new Error('order vanished after a conflicting insert')
  if (existing.requestHash !== requestHash) {
    throw new AppError(
      'out_trade_no_conflict',
      `an order with out_trade_no ${JSON.stringify(input.outTradeNo)} already exists with different parameters`,
      'out_trade_no',
    )
  }
  return { order: existing, created: false }
}
