// Periodic work every node runs: expiring due orders and purging spent nonces and idempotency records.
// Each job is safe to run on many nodes at once: the moves are conditional, the purges idempotent.
import type { Logger } from 'pino'
import type { UseCaseDeps } from '../core/use-cases/context.ts'
import { expireDueOrders } from '../core/use-cases/expire-orders.ts'
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
