// What the refund use cases need beyond every use case's deps: the channel that gives the money back, and
// how a refund looks outside (for the events that report it).
import type { ChannelName } from '../order.ts'
import type { PaymentChannel } from '../payment-channel.ts'
import type { Refund } from '../refund.ts'
import type { UseCaseDeps } from './context.ts'

export interface RefundDeps extends UseCaseDeps {
  /** The channel adapter by name; undefined when this platform does not run it. */
  channel(name: ChannelName): PaymentChannel | undefined
  presentRefund(refund: Refund): Record<string, unknown>
  /** Where a channel that notifies refunds tells this merchant's refunds' end; absent: it is only asked. */
  notifyUrl?(channel: ChannelName, merchantId: string): string
  /** The channel answered but its word could not be recorded: the refund stays pending for the refunds job. */
  onSettleFailed?(refund: Refund, err: unknown): void
  /** The channel says the refund waits for the merchant to act there (`attention`): a person must know. */
  onRefundStuck?(refund: Refund, attention: string): void
}
