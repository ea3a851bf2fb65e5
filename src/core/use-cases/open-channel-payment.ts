// Opens (or reopens) a live order's payment through a real channel: one payments row per attempt, created
// before the channel is called so a lost answer is still found by the reconciler; the QR content is kept so
// showing the checkout again does not open a second channel order.
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { effectiveStatus, type ChannelName, type Order } from '../order.ts'
import { ChannelError, type PaymentChannel } from '../payment-channel.ts'
import type { Payment } from '../ports.ts'
import { closeAndSettle, type ChannelStateOutcome } from './apply-channel-payment-state.ts'
import { nextPaymentCheckDelay, type ChannelPaymentDeps } from './channel-payment-deps.ts'
import { oneStatement } from './one-statement.ts'

export interface OpenedChannelPayment {
  paymentId: string
  /** What the customer's app scans: WeChat's code_url or Alipay's qr_code. */
  qrContent: string
  /** False when an attempt opened earlier was shown again. */
  created: boolean
  /** When the channel stops taking the code (ms since the epoch); null for a channel whose codes do not expire. */
  codeExpiresAt: number | null
}

export async function openChannelPayment(deps: ChannelPaymentDeps, order: Order, name: ChannelName): Promise<OpenedChannelPayment> {
  if (order.mode !== 'live' || name === 'sandbox') throw new AppError('channel_unavailable', 'real channels pay live-mode orders only', 'channel')
  if (!order.channels.includes(name)) throw new AppError('channel_unavailable', `this order may not be paid through ${name}`, 'channel')
  const channel = deps.channel(name)
  if (!channel || (channel.availableFor && !(await channel.availableFor(order.merchantId)))) {
    throw new AppError('channel_unavailable', `the ${name} channel is not set up for this merchant`, 'channel')
  }
  const now = deps.clock.now()
  if (effectiveStatus(order, now) !== 'pending') throw new AppError('order_not_pending', `the order is ${effectiveStatus(order, now)}, not pending`)

  const existing = await oneStatement(deps, (w) => w.payments.openAttempt(order.merchantId, order.id, name))
  // Shown again without asking the channel while it has time left to be scanned; inside the renewal margin too,
  // once the channel gave the same code back there (it renews only an expired one), until that code is up.
  const shown = existing && (payableCode(existing, channel, now, CODE_RENEW_MARGIN_MS) ?? (givenBackUnchanged.has(existing, channel) ? payableCode(existing, channel, now) : null))
  if (shown) return { paymentId: existing.id, qrContent: shown, created: false, codeExpiresAt: codeExpiresAt(existing, channel) }
  const candidate: Payment = existing ?? {
    id: newId('pay', now),
    merchantId: order.merchantId,
    orderId: order.id,
    channel: name,
    status: 'pending',
    amount: order.amount,
    currency: order.currency,
    channelTradeNo: null,
    unexpected: false,
    createdAt: now,
    updatedAt: now,
    qrContent: null,
    nextCheckAt: Math.min(now + nextPaymentCheckDelay(0), order.expiresAt),
    checkCount: 0,
  }
  // The row exists before the channel hears of it: whatever happens next, the reconciler knows to ask. Two
  // first opens at once (two taps, two nodes) insert one row between them; the second goes on with the first's
  // attempt, and asking the channel again with the same out_trade_no gives back the same channel order.
  const payment = existing ?? (await insertOpen(deps, candidate))
  const opened = payment !== existing && payableCode(payment, channel, now, CODE_RENEW_MARGIN_MS)
  if (opened) return { paymentId: payment.id, qrContent: opened, created: false, codeExpiresAt: codeExpiresAt(payment, channel) }

  let qrContent: string | undefined
  try {
    // The same out_trade_no again is safe: both channels answer a repeated create with the same order (and with
    // the order's current code: WeChat Pay's is the same one until it is 2 hours old, a new one after).
    qrContent = (await channel.createPayment({ paymentId: payment.id, order, notifyUrl: deps.notifyUrl(name, order.merchantId), openedAt: payment.createdAt })).qrContent
  } catch (err) {
    if (err instanceof ChannelError && !err.outcomeUnknown) {
      if (payment.qrContent) return endRefusedRenewal(deps, channel, payment, order, err)
      await oneStatement(deps, (w) => w.payments.move(payment, ['pending'], 'failed', deps.clock.now(), { nextCheckAt: null }))
      throw new AppError('channel_failed', `${name} refused the payment: ${err.message}`)
    }
    throw new AppError('channel_failed', `${name} did not answer; try again in a moment`)
  }
  if (!qrContent) throw new AppError('channel_failed', `${name} returned no QR code`)
  // Stored again even when it is the same code: that is what checks the attempt is still open.
  const givenAt = codeGivenAt(payment, qrContent, channel, deps.clock.now())
  if (qrContent === payment.qrContent && givenAt === payment.updatedAt) givenBackUnchanged.add(payment, channel)
  if (!(await oneStatement(deps, (w) => w.payments.setQrContent(payment, qrContent, givenAt)))) {
    // The attempt was settled while the channel was opening it (closed with its order, say): its code must not
    // be shown, and the channel order it made is closed so nobody can pay it. Opening again makes a new one.
    await channel.closePayment({ paymentId: payment.id, order }).catch(() => undefined)
    throw new AppError('channel_failed', `the ${name} payment was closed while it opened; try again`)
  }
  return { paymentId: payment.id, qrContent, created: payment.id === candidate.id && !existing, codeExpiresAt: codeExpiresAt({ updatedAt: givenAt }, channel) }
}

/**
 * Attempts whose code the channel gave back unchanged inside the renewal margin: asking again before that code is
 * up would get it back again, so each choice of the channel until then is shown the stored code unasked (else
 * every tap in a code's last minutes, up to the per-token limit, was a signed call to the channel). Per process,
 * which is enough to spare the channel; bounded, the oldest out first.
 */
class GivenBackUnchanged {
  readonly #until = new Map<string, number>()
  constructor(private readonly max: number) {}

  add(p: Payment, channel: Pick<PaymentChannel, 'codeLifetimeMs'>): void {
    const until = codeExpiresAt(p, channel)
    if (until === null) return
    this.#until.delete(p.id)
    this.#until.set(p.id, until)
    if (this.#until.size > this.max) this.#until.delete(this.#until.keys().next().value!)
  }

  /** Whether the attempt's code as stored now (the same code, counted from the same time) was given back so. */
  has(p: Payment, channel: Pick<PaymentChannel, 'codeLifetimeMs'>): boolean {
    const until = this.#until.get(p.id)
    return until !== undefined && until === codeExpiresAt(p, channel)
  }
}

const givenBackUnchanged = new GivenBackUnchanged(10_000)

/** How long a code the channel gave back past its counted lifetime is shown before the channel is asked again. */
export const CODE_RECHECK_MS = 30_000

/**
 * When the channel made the code it answered with, as far as can be told: payableCode counts its lifetime from
 * this, and the page renews the code when that is up.
 * - The code given before, given back: no younger for it, so it keeps its time. But a code given back is one the
 *   channel still takes: if its counted time is up, the count began too early (below), and it is counted as taken
 *   for CODE_RECHECK_MS more, after which the channel is asked again.
 * - An attempt's first code: the channel may have made it at an earlier call whose answer was lost (a timeout), as
 *   early as the attempt's creation, and WeChat Pay counts its 2 hours from then. So within its lifetime of the
 *   creation it is counted from the creation: early if that call never reached the channel (the case above), never
 *   late, which would show a code the channel no longer takes.
 * - A new code for an old one: now (a renewal whose answer was lost is not told apart).
 */
function codeGivenAt(payment: Payment, code: string, channel: Pick<PaymentChannel, 'codeLifetimeMs'>, now: number): number {
  const lifetime = channel.codeLifetimeMs
  if (code === payment.qrContent) {
    return lifetime === undefined || now < payment.updatedAt + lifetime ? payment.updatedAt : now + CODE_RECHECK_MS - lifetime
  }
  if (lifetime !== undefined && payment.qrContent === null && now - payment.createdAt < lifetime) return payment.createdAt
  return now
}

/**
 * From this long before the channel stops taking a code, choosing the channel asks it for the current one rather
 * than showing the stored one unasked. A channel that renews only an expired code (WeChat Pay) gives the same one
 * back, which is then shown for the time it has left; once that is up, the next choice gets a new one.
 */
export const CODE_RENEW_MARGIN_MS = 10 * 60_000

/**
 * The attempt's code while the channel still takes it (its codeLifetimeMs, less `margin`); null once it is too
 * old, or before it has one. A pending attempt's updatedAt is when the channel gave its code (codeGivenAt): only
 * a new code, or one given back past its counted time, moves it while the attempt stays pending.
 */
export function payableCode(p: Payment, channel: Pick<PaymentChannel, 'codeLifetimeMs'> | undefined, now: number, margin = 0): string | null {
  if (!p.qrContent) return null
  const expiresAt = codeExpiresAt(p, channel)
  return expiresAt === null || now < expiresAt - margin ? p.qrContent : null
}

/** When the channel stops taking the code of an attempt (its updatedAt, as payableCode reads it); null if never. */
export function codeExpiresAt(p: Pick<Payment, 'updatedAt'>, channel: Pick<PaymentChannel, 'codeLifetimeMs'> | undefined): number | null {
  const lifetime = channel?.codeLifetimeMs
  return lifetime === undefined ? null : p.updatedAt + lifetime
}

/**
 * The channel refused to renew the code of an attempt it had opened: its order there exists, and may have been
 * paid since (WeChat Pay answers a paid order's prepay with ORDERPAID), so the refusal ends nothing by itself (an
 * attempt ended failed is never asked about again). As the reconciler ends an attempt: closed at the channel, so
 * nothing more is paid on it, then asked once more, and ended as the channel says; a payment is applied. A close
 * or question that fails leaves the attempt open, asked about on its schedule.
 */
async function endRefusedRenewal(deps: ChannelPaymentDeps, channel: PaymentChannel, payment: Payment, order: Order, refusal: ChannelError): Promise<never> {
  let outcome: ChannelStateOutcome | null = null
  try {
    outcome = await closeAndSettle(deps, channel, payment, order, { status: 'closed' })
  } catch {
    // Left open: the reconciler asks.
  }
  if (outcome === 'paid' || outcome === 'unexpected') throw new AppError('order_not_pending', 'the order was paid meanwhile')
  throw new AppError('channel_failed', `${payment.channel} refused the payment: ${refusal.message}`)
}

/** The new attempt, or the one a concurrent opener inserted first: two statements, neither holding the other. */
async function insertOpen(deps: Pick<ChannelPaymentDeps, 'tx'>, candidate: Payment): Promise<Payment> {
  if (await oneStatement(deps, (w) => w.payments.insertOpen(candidate))) return { ...candidate, status: 'pending' }
  const open = await oneStatement(deps, (w) => w.payments.openAttempt(candidate.merchantId, candidate.orderId, candidate.channel))
  if (!open) throw new Error(`no open ${candidate.channel} attempt for ${candidate.orderId} after a conflicting insert`)
  return open
}
