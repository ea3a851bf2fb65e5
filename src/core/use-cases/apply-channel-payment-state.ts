// Applies what a channel says about one payment attempt (from a verified notification or from asking it):
// a success pays the order once; a success for an order no longer pending is recorded as unexpected, the
// merchant is told (payment.unexpected) and the money is given back; failures and closes end the attempt.
import type { ChannelName, Order } from '../order.ts'
import { ChannelError, type ChannelPaymentState, type PaymentChannel } from '../payment-channel.ts'
import type { Payment } from '../ports.ts'
import { nextPaymentCheckDelay, unexpectedRefundId, type ChannelPaymentDeps } from './channel-payment-deps.ts'
import { orderEvent } from './order-events.ts'
import { recordPaymentSuccess } from './record-payment-success.ts'
import { oneStatement } from './one-statement.ts'

export type ChannelStateOutcome =
  | 'paid'
  /** Applied before: nothing changed. */
  | 'duplicate'
  | 'unexpected'
  | 'failed'
  | 'closed'
  /** Nothing final was said. */
  | 'ignored'
  /** No such payment through this channel (for this merchant): nothing can be applied. */
  | 'unknown_payment'
  /** The channel reports another amount than the attempt asked for: believed by nobody, changes nothing. */
  | 'amount_mismatch'

export interface ChannelStateInput {
  channel: ChannelName
  paymentId: string
  state: ChannelPaymentState
  /** The merchant the notification was verified for, when known: it must own the payment. */
  merchantId?: string
}

async function load(deps: ChannelPaymentDeps, input: ChannelStateInput): Promise<{ payment: Payment; order: Order } | null> {
  // Two reads on their own: every write that follows is conditional, so they need not share a snapshot.
  const payment = await oneStatement(deps, (w) => w.payments.byId(input.paymentId))
  if (!payment || payment.channel !== input.channel) return null
  if (input.merchantId !== undefined && payment.merchantId !== input.merchantId) return null
  // Real channels pay live orders only; the sandbox never reaches here.
  const order = await oneStatement(deps, (w) => w.orders.byId(payment.merchantId, 'live', payment.orderId))
  return order ? { payment, order } : null
}

export async function applyChannelPaymentState(deps: ChannelPaymentDeps, input: ChannelStateInput): Promise<ChannelStateOutcome> {
  const found = await load(deps, input)
  if (!found) return 'unknown_payment'
  const { payment, order } = found
  const { state } = input
  const now = deps.clock.now()
  switch (state.status) {
    case 'pending':
      return 'ignored'
    case 'failed':
      return (await oneStatement(deps, (w) => w.payments.move(payment, ['pending'], 'failed', now, { nextCheckAt: null }))) ? 'failed' : 'duplicate'
    case 'closed':
      return (await oneStatement(deps, (w) => w.payments.move(payment, ['pending'], 'closed', now, { nextCheckAt: null }))) ? 'closed' : 'duplicate'
    case 'succeeded':
      break
  }
  if (state.amount !== payment.amount) return 'amount_mismatch'
  if (payment.channelTradeNo === state.channelTradeNo && payment.status !== 'pending' && payment.status !== 'closed' && payment.status !== 'failed') {
    return 'duplicate'
  }
  const outcome = await recordPaymentSuccess(deps, {
    order,
    channel: input.channel,
    channelTradeNo: state.channelTradeNo,
    amount: state.amount,
    currency: payment.currency,
    paymentId: payment.id,
    paidAt: state.paidAt,
  })
  if (outcome.result === 'paid') return 'paid'
  if (outcome.result === 'already_applied') return 'duplicate'
  return recordUnexpectedPayment(deps, payment, outcome.order, state.channelTradeNo)
}

/**
 * Ends an attempt's channel order: closed at the channel, so nothing more is paid on it, then asked once more,
 * since a payment may have slipped in before the close (it is then applied: the order paid, or the money refunded
 * as unexpected). Any other answer ends the attempt as `unpaid` says. Throws when the channel does not answer: the
 * attempt then stays open, asked about on its schedule.
 */
export async function closeAndSettle(deps: ChannelPaymentDeps, channel: PaymentChannel, p: Payment, order: Order, unpaid: ChannelPaymentState): Promise<ChannelStateOutcome> {
  await channel.closePayment({ paymentId: p.id, order })
  const after = await channel.queryPayment({ paymentId: p.id, order })
  return applyChannelPaymentState(deps, { channel: p.channel, paymentId: p.id, state: after.status === 'succeeded' ? after : unpaid, merchantId: p.merchantId })
}

/**
 * The money arrived but the order no longer wants it: recorded (payment.unexpected, in the same unit of changes)
 * and given back through the channel at once. A refund whose outcome is unknown is settled by the reconciler.
 */
async function recordUnexpectedPayment(deps: ChannelPaymentDeps, payment: Payment, order: Order, channelTradeNo: string): Promise<ChannelStateOutcome> {
  const now = deps.clock.now()
  const recorded: Payment = { ...payment, status: 'refund_requested', channelTradeNo, unexpected: true, updatedAt: now, nextCheckAt: now + nextPaymentCheckDelay(0) }
  // One unit, sent whole: the move (only from an open or ended attempt) and the event that reports it.
  const c = deps.tx.changes
  const unmet = await deps.tx.applyChanges([
    c.movePayment(payment, ['pending', 'closed', 'failed'], 'refund_requested', now, { channelTradeNo, unexpected: true, nextCheckAt: recorded.nextCheckAt }),
    c.insertEvent(orderEvent(deps, 'payment.unexpected', order, now, unexpectedEventData(deps, order, recorded))),
  ])
  const won = unmet === null
  if (!won) return 'duplicate'
  deps.listener.eventsWritten()
  // The order is as it was, but its checkout now tells the customer the money is being given back.
  deps.listener.orderChanged(order)
  const channel = deps.channel(payment.channel)
  if (channel) await awhile(refundUnexpected(deps, channel, recorded, order), REFUND_WAIT_MS, (err) => deps.onBackgroundRefundFailed?.(recorded, order, err))
  return 'unexpected'
}

/**
 * How long the refund of an unexpected payment may hold the answer to the notification that reported it: a
 * channel wants that answer within seconds (WeChat Pay: 5 s), and a refund call may take 10. Past this the refund
 * goes on by itself; what it leaves unknown the reconciler settles, as after any refund whose answer was lost.
 */
export const REFUND_WAIT_MS = 3000

/**
 * Waits for `work` at most `ms`; an error it ends with in that time is thrown, a later one goes to `onLateError`
 * (to be logged: nobody else would see it) and the work to the reconciler.
 */
async function awhile(work: Promise<unknown>, ms: number, onLateError: (err: unknown) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  let waiting = true
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  work.catch((err) => {
    if (!waiting) onLateError(err)
  })
  try {
    await Promise.race([work, late])
  } finally {
    waiting = false
    clearTimeout(timer)
  }
}

export function unexpectedEventData(deps: ChannelPaymentDeps, order: Order, p: Payment) {
  return {
    ...(deps.present(order) as Record<string, unknown>),
    payment: {
      id: p.id,
      object: 'payment',
      channel: p.channel,
      channel_trade_no: p.channelTradeNo,
      amount: p.amount,
      currency: p.currency,
      status: p.status,
      refund_id: unexpectedRefundId(p.id),
    },
  }
}

/** Asks the channel to give an unexpected payment back; refunded once it says so. Throws only if the storage does. */
export async function refundUnexpected(deps: ChannelPaymentDeps, channel: PaymentChannel, p: Payment, order: Order): Promise<'refunded' | 'pending' | 'flagged'> {
  const ref = { refundId: unexpectedRefundId(p.id), order, payment: { id: p.id, channelTradeNo: p.channelTradeNo, amount: p.amount } }
  let state
  try {
    state = await channel.refund({ ...ref, amount: p.amount, currency: p.currency, reason: 'paid after the order was no longer payable', notifyUrl: deps.notifyUrl(p.channel, p.merchantId) })
  } catch (err) {
    // Unknown outcome: the reconciler asks. A definite refusal: flagged (no next check) for a person to act on.
    if (err instanceof ChannelError && !err.outcomeUnknown) return flag(deps, p, order, err.message)
    return 'pending'
  }
  if (state.status === 'succeeded') return markRefunded(deps, p, order)
  if (state.status === 'failed') return flag(deps, p, order, state.reason)
  return 'pending'
}

/**
 * The channel gave the money back. Told once: only the move that made it refunded reports it (a notification
 * and the reconciler may race).
 */
export async function markRefunded(deps: ChannelPaymentDeps, p: Payment, order: Order): Promise<'refunded'> {
  if (await oneStatement(deps, (w) => w.payments.move(p, ['refund_requested'], 'refunded', deps.clock.now(), { nextCheckAt: null }))) {
    deps.unexpectedRefundEnded?.('refunded', p, order, null)
    // Its checkout now says the money was given back.
    deps.listener.orderChanged(order)
  }
  return 'refunded'
}

/**
 * No further automatic attempt, and the operator told: the money is still to be given back. The reason is kept
 * on the payment for the person who must act (scanpay unexpected list).
 */
export async function flag(deps: ChannelPaymentDeps, p: Payment, order: Order, reason: string): Promise<'flagged'> {
  const refundRefusedReason = oneLine(reason, MAX_REASON_LENGTH)
  await oneStatement(deps, (w) => w.payments.move(p, ['refund_requested'], 'refund_requested', deps.clock.now(), { nextCheckAt: null, refundRefusedReason }))
  deps.unexpectedRefundEnded?.('refused', p, order, reason)
  return 'flagged'
}

/** A channel's message is a sentence or two; a longer one (an HTML error page, say) is cut here. */
const MAX_REASON_LENGTH = 500

/**
 * A channel's text as one printable line of at most `max` characters (code points, so no character is cut in
 * half): an operator's list prints one payment a line.
 */
function oneLine(text: string, max: number): string {
  const chars = [...text.replace(/[\s\p{Cc}]+/gu, ' ').trim()]
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('')
}
