// Periodic work every node runs: expiring due orders, settling refunds whose outcome is not yet known, and
// purging spent nonces and idempotency records. Each job is safe to run on many nodes at once: the moves are
// conditional, the refund checks claimed, the purges idempotent.
import type { Logger } from 'pino'
import type { ChannelPaymentDeps } from '../core/use-cases/channel-payment-deps.ts'
import type { UseCaseDeps } from '../core/use-cases/context.ts'
import { reconcileChannelPayments } from '../core/use-cases/reconcile-channel-payments.ts'
import { expireDueOrders } from '../core/use-cases/expire-orders.ts'
import { reconcilePendingRefunds } from '../core/use-cases/reconcile-refunds.ts'
import type { RefundDeps } from '../core/use-cases/refund-deps.ts'
import type { Storage } from '../storage/storage.ts'

export class BackgroundJobs {
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #lastPurge = 0

  constructor(
    private readonly deps: UseCaseDeps,
    private readonly storage: Storage,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    /** Without it (e.g. a tool that runs only expiry), pending refunds are left for another node. */
    private readonly refundDeps?: RefundDeps,
    /** Without it, open channel payments are left for another node to reconcile. */
    private readonly channelDeps?: ChannelPaymentDeps,
  ) {}

  start(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => void this.runOnce(), this.intervalMs)
    this.#timer.unref()
  }

  /** One pass of every job; concurrent calls share the pass in progress. */
  runOnce(): Promise<void> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = null
    })
    return this.#running
  }

  async #pass(): Promise<void> {
    try {
      const expired = await expireDueOrders(this.deps)
      if (expired > 0) this.logger.info({ expired }, 'expired orders')
    } catch (err) {
      this.logger.error({ err }, 'background job failed')
    }
    try {
      const settled = this.refundDeps ? await reconcilePendingRefunds(this.refundDeps) : 0
      if (settled > 0) this.logger.info({ settled }, 'settled pending refunds')
    } catch (err) {
      this.logger.error({ err }, 'refund reconciliation failed')
    }
    try {
      const r = this.channelDeps ? await reconcileChannelPayments(this.channelDeps) : null
      if (r && r.settled > 0) this.logger.info(r, 'reconciled channel payments')
    } catch (err) {
      this.logger.error({ err }, 'channel payment reconciliation failed')
    }
    try {
      const now = this.deps.clock.now()
      if (now - this.#lastPurge > 60_000) {
        this.#lastPurge = now
        await this.storage.nonces.purgeExpired(now)
        await this.storage.idempotency.purgeExpired(now)
      }
    } catch (err) {
      this.logger.error({ err }, 'background job failed')
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    await this.#running
  }
}
