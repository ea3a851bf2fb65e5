// Creates a refund of a paid order, idempotently on (merchant, mode, out_refund_no): the amount is reserved
// on the order in the transaction that writes the refund, so concurrent refunds can never exceed what was paid.
import { AppError } from '../errors.ts'
import { formatMoney } from '../money.ts'
import { newId } from '../ids.ts'
import type { Mode, Order } from '../order.ts'
import { isRefundable, nextRefundCheckDelay, refundRequestHash, type Refund } from '../refund.ts'
import type { RefundDeps } from './refund-deps.ts'
import { submitRefund } from './settle-refund.ts'
import { oneStatement } from './one-statement.ts'

export interface CreateRefundInput {
  amount: number
  outRefundNo: string
  reason: string | null
}

export interface CreateRefundResult {
  refund: Refund
  created: boolean
}

/** The answer when the order refuses the reservation (the refund row is undone with it). */
function refusal(order: Order | null, amount: number): AppError {
  if (!order || !isRefundable(order.status)) {
    return new AppError('order_not_refundable', `the order is ${order?.status ?? 'gone'}; only paid or partially_refunded orders can be refunded`)
  }
  return new AppError(
    'refund_exceeds_payment',
    `refunding ${formatMoney(amount, order.currency)} would take the order's pending and succeeded refunds above the ${formatMoney(order.amount, order.currency)} paid`,
    'amount',
  )
}

function sameRequest(existing: Refund, requestHash: string, outRefundNo: string): CreateRefundResult {
  if (existing.requestHash !== requestHash) {
    throw new AppError(
      'out_refund_no_conflict',
      `a refund with out_refund_no ${JSON.stringify(outRefundNo)} already exists with different parameters`,
      'out_refund_no',
    )
  }
  return { refund: existing, created: false }
}

export async function createRefund(
  deps: RefundDeps,
  merchantId: string,
  mode: Mode,
  order: Order,
  input: CreateRefundInput,
): Promise<CreateRefundResult> {
  const requestHash = refundRequestHash({ orderId: order.id, amount: input.amount, outRefundNo: input.outRefundNo, reason: input.reason })
  // A retry of a refund made earlier answers with it, even when the order has since become fully refunded.
  const earlier = await oneStatement(deps, (w) => w.refunds.byOutRefundNo(merchantId, mode, input.outRefundNo))
  if (earlier) return sameRequest(earlier, requestHash, input.outRefundNo)

  if (!order.channel || !isRefundable(order.status)) throw refusal(order, input.amount)
  const channel = deps.channel(order.channel)
  if (!channel) {
    throw new AppError('channel_unavailable', `the ${order.channel} channel that took this payment is not available to refund it`)
  }

  const now = deps.clock.now()
  const refund: Refund = {
    id: newId('rfd', now),
    merchantId,
    mode,
    orderId: order.id,
    amount: input.amount,
    currency: order.currency,
    status: 'pending',
    outRefundNo: input.outRefundNo,
    reason: input.reason,
    failureReason: null,
    channel: order.channel,
    channelRefundNo: null,
    requestHash,
    createdAt: now,
    succeededAt: null,
    failedAt: null,
    updatedAt: now,
    nextCheckAt: now + nextRefundCheckDelay(0),
    checkCount: 0,
  }
  // One unit of two changes, sent whole (no transaction held open between statements): the unique
  // (merchant, mode, out_refund_no) key decides a race between two twins of one request (the insert changes
  // nothing), and the order's reservation refuses a refund that does not fit (both are undone).
  const { insertRefund, reserveRefund } = deps.tx.changes
  const unmet = await deps.tx.applyChanges([insertRefund(refund), reserveRefund(order, refund.amount, now)])
  if (unmet === 1) throw refusal(await oneStatement(deps, (w) => w.orders.byId(merchantId, mode, order.id)), refund.amount)
  const inserted = unmet === null
  if (!inserted) {
    const twin = await oneStatement(deps, (w) => w.refunds.byOutRefundNo(merchantId, mode, input.outRefundNo))
    if (!twin) throw new Error('refund vanished after a conflicting insert')
    return sameRequest(twin, requestHash, input.outRefundNo)
  }
  return { refund: await submitRefund(deps, channel, refund, order), created: true }
}
