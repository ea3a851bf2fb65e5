// Channel callbacks: POST /channels/{channel}/notify[/{merchant_id}], about a payment or a refund. Each is verified
// exactly as the channel's protocol says (adapter.parseNotification) before anything is believed, deduplicated in
// the inbox, applied once, and answered in the channel's own reply format. Forged, replayed and probe notifications change nothing.
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../context.ts'
import { ALL_CHANNELS, type ChannelName } from '../../core/order.ts'
import { applyChannelPaymentState } from '../../core/use-cases/apply-channel-payment-state.ts'
import { applyChannelRefundState } from '../../core/use-cases/apply-channel-refund-state.ts'
import { askAboutRefundNow } from '../../core/use-cases/reconcile-refunds.ts'
import { isChannelId, NOTIFICATION_ID_MAX, PAYMENT_ID_MAX } from '../../channels/channel-ids.ts'
import { NotificationRejected } from '../../channels/notification-rejected.ts'
import { AppError } from '../../core/errors.ts'
import { sendError } from '../error-response.ts'

interface NotifyParams {
  channel: string
  merchantId?: string
}

const MERCHANT_ID = /^mch_[0-9a-z]{26}$/
/**
 * NUL as a byte or percent-encoded, in a form (Alipay's). A JSON body holding one (escaped) never gets here: the
 * JSON parser refuses it first (json-body.ts), and WeChat Pay's ids inside its ciphertext are checked where read.
 */
const HOLDS_NUL = /\u0000|%00/

/** Outcomes that were applied (or were already): the channel is told it was received. */
const ACCEPTED = new Set(['paid', 'duplicate', 'unexpected', 'failed', 'closed', 'ignored', 'refund_succeeded', 'refund_failed'])

/**
 * Verified refund news that changes nothing yet a person should know of: told received (sending it again would
 * not help), and logged at this level.
 */
const NOTED: Readonly<Record<string, { level: 'warn' | 'error'; message: string }>> = {
  stuck: { level: 'error', message: 'channel refund needs the merchant to act at the channel' },
  conflict: { level: 'error', message: 'channel refund notification contradicts the refund as recorded: look at the order and the channel' },
  unknown_refund: { level: 'warn', message: 'channel refund notification for a refund ScanPay did not make' },
}

export function channelNotifyRoutes(ctx: AppContext) {
  return async function routes(app: FastifyInstance) {
    const handler = async (req: import('fastify').FastifyRequest<{ Params: NotifyParams }>, reply: import('fastify').FastifyReply) => {
      const name = req.params.channel as ChannelName
      const channel = name !== 'sandbox' && ALL_CHANNELS.includes(name) ? ctx.channels.get(name) : undefined
      if (!channel) return sendError(req, reply, new AppError('route_missing', `no such channel: ${req.params.channel}`))
      const send = (outcome: 'ok' | 'error', label: string) => {
        ctx.metrics.inc('scanpay_channel_notifications_total', { channel: name, outcome: label })
        const r = channel.acknowledge(outcome)
        if (r.headers) reply.headers(r.headers)
        return reply.code(r.status).send(r.body)
      }
      const rawBody = req.rawBody ?? ''
      // A merchant id no merchant could have: nothing to look up (anyone can post to any such URL).
      if (req.params.merchantId !== undefined && !MERCHANT_ID.test(req.params.merchantId)) return send('error', 'merchant_unknown')
      // No channel sends NUL, raw or escaped, and PostgreSQL cannot even be asked about a value holding one.
      if (HOLDS_NUL.test(rawBody)) return send('error', 'body_invalid')
      let notification
      try {
        notification = await channel.parseNotification({ headers: req.headers, rawBody, merchantId: req.params.merchantId })
      } catch (err) {
        if (err instanceof NotificationRejected) {
          req.log.warn({ channel: name, reason: err.reason, request_id: req.id }, `channel notification rejected: ${err.message}`)
          return send('error', err.reason)
        }
        throw err
      }
      // Verified, yet ids that no column could hold are not looked up nor stored: refused, so the channel retries.
      if (!isChannelId(notification.notificationId, NOTIFICATION_ID_MAX) || (notification.paymentId !== '' && !isChannelId(notification.paymentId, PAYMENT_ID_MAX))) {
        req.log.warn({ channel: name, request_id: req.id }, 'channel notification refused: its id or out_trade_no is not one ScanPay could have')
        return send('error', 'body_invalid')
      }
      const merchantId = notification.merchantId ?? req.params.merchantId
      // The same notification again (a retry, or a replay inside the signature window) changes nothing. Only the
      // same merchant's counts: another merchant's keys cannot make this one's notification look seen.
      if (await ctx.channelNotifications.seen(name, merchantId, notification.notificationId)) return send('ok', 'duplicate')
      const outcome = notification.refund && merchantId
        ? await applyChannelRefundState({ refunds: ctx.refundDeps, payments: ctx.channelDeps }, { channel: name, merchantId, ...notification.refund })
        : notification.paymentId
          ? await applyChannelPaymentState(ctx.channelDeps, { channel: name, paymentId: notification.paymentId, state: notification.state, merchantId })
          : 'ignored'
      // A refund the notification names without settling it (Alipay's): asked about at once.
      if (notification.refundToAsk && merchantId) await askAboutRefundNow(ctx.refundDeps, name, merchantId, notification.refundToAsk)
      const noted = NOTED[outcome]
      if (noted) {
        const r = notification.refund
        req.log[noted.level]({ channel: name, outcome, merchant_id: merchantId, refund_id: r?.refundId, amount: r?.amount, attention: r?.state.status === 'pending' ? r.state.attention : undefined, told: r?.state.status, request_id: req.id }, noted.message)
      } else if (!ACCEPTED.has(outcome)) {
        // Verified but not applicable (a payment we never opened, an amount we never asked for): refused, so a
        // person looks at it; nothing is recorded, so a later correct delivery is not mistaken for a duplicate.
        req.log.warn({ channel: name, outcome, payment_id: notification.paymentId || undefined, refund_id: notification.refund?.refundId, request_id: req.id }, 'channel notification not applied')
        return send('error', outcome)
      }
      await ctx.channelNotifications.record({
        channel: name,
        notificationId: notification.notificationId,
        merchantId: merchantId ?? null,
        paymentId: notification.paymentId || null,
        outcome,
        rawBody: rawBody.slice(0, 65_536),
        now: ctx.clock.now(),
      })
      return send('ok', outcome)
    }
    const schema = { hide: true }
    app.post<{ Params: NotifyParams }>('/channels/:channel/notify', { schema }, handler)
    app.post<{ Params: NotifyParams }>('/channels/:channel/notify/:merchantId', { schema }, handler)
  }
}
