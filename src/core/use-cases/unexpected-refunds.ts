// What an operator does about an unexpected payment whose automatic refund the channel refused (the merchant's
// channel balance was short, say): ask the channel again once the cause is fixed, or, once the money was given
// back another way, record that it was. Until one of them, the payment stays refund_requested with no next check.
import { formatMinor } from '../money.ts'
import type { Order } from '../order.ts'
import type { Payment } from '../ports.ts'
import { refundUnexpected } from './apply-channel-payment-state.ts'
import { nextPaymentCheckDelay, type ChannelPaymentDeps } from './channel-payment-deps.ts'
import { oneStatement } from './one-statement.ts'

export type UnexpectedRefundAction =
  /** caution: what the channel did not bear out, for the operator to check (a refund's amount it does not say). */
  | { result: 'refunded'; payment: Payment; caution?: string }
  /** The channel has not said how it ended: the reconciler asks it on its own from now on. */
  | { result: 'pending'; payment: Payment }
  | { result: 'refused'; payment: Payment; reason: string }
  | { result: 'not_possible'; message: string }

/** A payment that is waiting for a person: refused by the channel, or its channel no longer run here. */
export function needsPerson(p: Payment): boolean {
  return p.status === 'refund_requested' && p.nextCheckAt == null
}

/**
 * Asks the channel again to give the payment back, with the same refund number as every earlier try, so the
 * channel refunds it at most once. Before asking, the payment is given a next check again: if the answer is
 * lost or not final, the reconciler follows it as it did before the refusal.
 */
export async function retryUnexpectedRefund(deps: ChannelPaymentDeps, paymentId: string): Promise<UnexpectedRefundAction> {
  const found = await awaitingRefund(deps, paymentId)
  if ('message' in found) return { result: 'not_possible', message: found.message }
  const { payment, order } = found
  const channel = deps.channel(payment.channel)
  if (!channel) return { result: 'not_possible', message: `the ${payment.channel} channel is not available on this platform` }
  const now = deps.clock.now()
  const nextCheckAt = now + nextPaymentCheckDelay(0)
  if (!(await oneStatement(deps, (w) => w.payments.move(payment, ['refund_requested'], 'refund_requested', now, { nextCheckAt, refundRefusedReason: null })))) {
    return { result: 'not_possible', message: `payment ${paymentId} changed meanwhile: look again` }
  }
  let reason: string | null = null
  const told: ChannelPaymentDeps = {
    ...deps,
    unexpectedRefundEnded: (outcome, p, o, why) => {
      reason = why
      deps.unexpectedRefundEnded?.(outcome, p, o, why)
    },
  }
  const outcome = await refundUnexpected(told, channel, { ...payment, nextCheckAt, refundRefusedReason: null }, order)
  const after = (await oneStatement(deps, (w) => w.payments.byId(paymentId)))!
  if (outcome === 'refunded') return { result: 'refunded', payment: after }
  if (outcome === 'flagged') return { result: 'refused', payment: after, reason: reason ?? 'the channel refused the refund' }
  return { result: 'pending', payment: after }
}

/**
 * Records that the money was given back outside ScanPay (in the channel's merchant console, say): the payment
 * is refunded. Only for a payment waiting for a person, so it never races an automatic refund under way, and once
 * the channel bears the refund out (refundedAtChannel); `outsideChannel` (cash, a bank transfer) does not ask it.
 */
export async function recordUnexpectedRefundByHand(deps: ChannelPaymentDeps, paymentId: string, opts: { outsideChannel?: boolean } = {}): Promise<UnexpectedRefundAction> {
  const found = await awaitingRefund(deps, paymentId)
  if ('message' in found) return { result: 'not_possible', message: found.message }
  const { payment } = found
  if (!needsPerson(payment)) {
    return {
      result: 'not_possible',
      message: `ScanPay is still refunding payment ${paymentId} itself (next check at ${new Date(payment.nextCheckAt!).toISOString()}): it is marked refunded once the channel says so`,
    }
  }
  const said = opts.outsideChannel ? { borneOut: true as const } : await refundedAtChannel(deps, payment, found.order)
  if (!said.borneOut) return { result: 'not_possible', message: said.why }
  const moved = await oneStatement(deps, (w) => w.payments.move(payment, ['refund_requested'], 'refunded', deps.clock.now(), { nextCheckAt: null }))
  if (!moved) return { result: 'not_possible', message: `payment ${paymentId} changed meanwhile: look again` }
  const recorded = (await oneStatement(deps, (w) => w.payments.byId(paymentId)))!
  return { result: 'refunded', payment: recorded, ...(said.caution ? { caution: said.caution } : {}) }
}

type ChannelSays = { borneOut: true; caution?: string } | { borneOut: false; why: string }

/**
 * Whether the channel, asked about the payment, bears out a refund by hand: WeChat Pay lists refunds of it
 * (REFUND: in part or whole, without the amount, which only its bill line shows: so the operator is told to
 * check it), Alipay has closed the trade (refunded in full; one refunded in part is still TRADE_SUCCESS, and an
 * unexpected payment goes back whole). A payment id mistyped, or a refund not made yet, is so caught before the
 * money is recorded as given back.
 */
async function refundedAtChannel(deps: ChannelPaymentDeps, payment: Payment, order: Order): Promise<ChannelSays> {
  const channel = deps.channel(payment.channel)
  if (!channel) return { borneOut: false, why: `the ${payment.channel} channel is not available to ask whether payment ${payment.id} was refunded; nothing was recorded` }
  let said
  try {
    said = await channel.queryPayment({ paymentId: payment.id, order })
  } catch (err) {
    return { borneOut: false, why: `could not ask ${payment.channel} whether payment ${payment.id} was refunded (${(err as Error).message}); nothing was recorded: try again` }
  }
  if (said.status === 'closed') return { borneOut: true }
  if (said.status === 'succeeded' && said.refunded) {
    return {
      borneOut: true,
      caution: `${payment.channel} lists a refund of it but does not say how much: check in its merchant console that all ${formatMinor(payment.amount, payment.currency)} ${payment.currency} went back; the daily bill check flags a refund short of it`,
    }
  }
  const state = said.status === 'succeeded' ? 'paid, with nothing refunded in full' : said.status
  return {
    borneOut: false,
    why: `${payment.channel} says payment ${payment.id} (${payment.channelTradeNo}) is ${state}: refund it in full in the channel's merchant console first, then record it (or, if the money went back outside the channel, record it with --force); nothing was recorded`,
  }
}

async function awaitingRefund(deps: ChannelPaymentDeps, paymentId: string): Promise<{ payment: Payment; order: Order } | { message: string }> {
  const payment = await oneStatement(deps, (w) => w.payments.byId(paymentId))
  if (!payment) return { message: `no payment ${paymentId}` }
  if (!payment.unexpected || payment.status !== 'refund_requested') {
    return { message: `payment ${paymentId} is not an unexpected payment awaiting its refund (it is ${payment.unexpected ? 'unexpected, ' : ''}${payment.status})` }
  }
  const order = await oneStatement(deps, (w) => w.orders.byId(payment.merchantId, 'live', payment.orderId))
  if (!order) return { message: `the order ${payment.orderId} of payment ${paymentId} is not found` }
  return { payment, order }
}
