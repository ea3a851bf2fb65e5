// What the checkout calls to show a live order's channel QR: opens (or shows again) the order's attempt
// through that channel and returns what the customer's app scans.
import type { AppContext } from '../context.ts'
import type { ChannelName, Order } from '../core/order.ts'
import { openChannelPayment as open, type OpenedChannelPayment } from '../core/use-cases/open-channel-payment.ts'

/** Throws AppError: channel_unavailable (not live / not allowed / not set up), order_not_pending, channel_failed. */
export function openChannelPayment(ctx: Pick<AppContext, 'channelDeps'>, order: Order, channel: ChannelName): Promise<OpenedChannelPayment> {
  return open(ctx.channelDeps, order, channel)
}

/** Whether the checkout should offer a real channel for this merchant's live order (it has credentials set). */
export async function channelAvailableFor(ctx: Pick<AppContext, 'channels'>, merchantId: string, channel: ChannelName): Promise<boolean> {
  const adapter = ctx.channels.get(channel)
  if (!adapter) return false
  return adapter.availableFor ? adapter.availableFor(merchantId) : true
}
