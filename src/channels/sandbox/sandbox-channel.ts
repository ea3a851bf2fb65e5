// The sandbox: the built-in test-mode wallet. A product feature, not a test double: test orders are paid
// here by the customer's tap on the checkout page or by the test helper, through the same code path.
import { randomBytes } from 'node:crypto'
import { AppError } from '../../core/errors.ts'
import type { Order } from '../../core/order.ts'
import {
  ChannelError,
  type ChannelNotification,
  type ChannelPaymentState,
  type ChannelRefundInput,
  type ChannelRefundRef,
  type ChannelRefundState,
  type ChannelReply,
  type CreatedPayment,
  type PaymentChannel,
} from '../../core/payment-channel.ts'
import type { UseCaseDeps } from '../../core/use-cases/context.ts'
import { recordPaymentSuccess, type PaymentSuccessOutcome } from '../../core/use-cases/record-payment-success.ts'

export class SandboxChannel implements PaymentChannel {
  readonly name = 'sandbox' as const

  async createPayment(): Promise<CreatedPayment> {
    // Nothing to open elsewhere: the wallet lives on the checkout page itself.
    return {}
  }

  async queryPayment(): Promise<ChannelPaymentState> {
    // Sandbox payments are applied synchronously, so there is never an outcome left to discover.
    return { status: 'pending' }
  }

  async closePayment(): Promise<void> {}

  /** Test mode gives money back at once. The refund number derives from our id, so asking twice agrees. */
  async refund(input: ChannelRefundInput): Promise<ChannelRefundState> {
    if (input.order.mode !== 'test') throw new ChannelError('the sandbox only refunds test-mode orders', false, false)
    return { status: 'succeeded', channelRefundNo: sandboxRefundNo(input.refundId) }
  }

  /** Every refund the sandbox is asked about has succeeded: it never leaves one half done. */
  async queryRefund(ref: ChannelRefundRef): Promise<ChannelRefundState> {
    if (ref.order.mode !== 'test') throw new ChannelError('the sandbox only refunds test-mode orders', false, false)
    return { status: 'succeeded', channelRefundNo: sandboxRefundNo(ref.refundId) }
  }

  async parseNotification(): Promise<ChannelNotification> {
    throw new AppError('route_missing', 'the sandbox sends no notifications')
  }

  acknowledge(outcome: 'ok' | 'error'): ChannelReply {
    return { status: outcome === 'ok' ? 200 : 500, body: '' }
  }
}

/** The customer taps "Pay" in the sandbox wallet (or a test calls the helper): the order is paid. */
export async function payWithSandbox(deps: UseCaseDeps, order: Order): Promise<PaymentSuccessOutcome> {
  if (order.mode !== 'test') throw new AppError('test_mode_only', 'the sandbox only pays test-mode orders')
  if (order.status !== 'pending' || order.expiresAt <= deps.clock.now()) {
    return { result: 'not_pending', order }
  }
  return recordPaymentSuccess(deps, {
    order,
    channel: 'sandbox',
    channelTradeNo: `sbx_${randomBytes(12).toString('hex')}`,
    amount: order.amount,
    currency: order.currency,
  })
}

function sandboxRefundNo(refundId: string): string {
  return `sbr_${refundId.replace(/^rfd_/, '')}`
}
