// Periodic work every node runs: expiring due orders, settling refunds whose outcome is not yet known,
// reconciling channel payments nobody told us about, checking the channels' daily bills, purging spent nonces
// and idempotency records, and on PostgreSQL analyzing a new table's first rows.
// Each job runs in its own lane, so a slow channel cannot hold up expiry. Each is safe to run on many nodes
// at once: the moves are conditional, the checks claimed, the purges idempotent.
import type { Logger } from 'pino'
import { checkDailyBills, type DailyBillDeps } from '../channels/daily-bills.ts'
import type { ChannelPaymentDeps } from '../core/use-cases/channel-payment-deps.ts'
import type { UseCaseDeps } from '../core/use-cases/context.ts'
import { expireDueOrders } from '../core/use-cases/expire-orders.ts'
import { reconcileChannelPayments } from '../core/use-cases/reconcile-channel-payments.ts'
import { reconcilePendingRefunds } from '../core/use-cases/reconcile-refunds.ts'
import type { RefundDeps } from '../core/use-cases/refund-deps.ts'
import type { Storage } from '../storage/storage.ts'

const PURGE_INTERVAL_MS = 60_000
const FIRST_ANALYZE_INTERVAL_MS = 5_000
/** A minute: a bill is checked within one of 10:00 Beijing time, and a pass with nothing due is a few reads. */
const DAILY_BILLS_INTERVAL_MS = 60_000

/** One job on its own timer: the next run starts an interval after the previous one ended, never overlapping. */
class Lane {
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #stopped = true

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly job: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.#stopped = false
    this.#schedule()
  }

  #schedule(): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => void this.run().finally(() => this.#schedule()), this.intervalMs)
    this.#timer.unref()
  }

  /** Runs the job now; a call while it runs shares that run. */
  run(): Promise<void> {
    this.#running ??= this.job()
      .catch((err) => this.logger.error({ err, job: this.name }, 'background job failed'))
      .finally(() => {
        this.#running = null
      })
    return this.#running
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    await this.#running
  }
}

export class BackgroundJobs {
  readonly #lanes: Lane[]

  constructor(
    deps: UseCaseDeps,
    storage: Storage,
    logger: Logger,
    intervalMs: number,
    /** Without it (e.g. a tool that runs only expiry), pending refunds are left for another node. */
    refundDeps?: RefundDeps,
    /** Without it, open channel payments are left for another node to reconcile. */
    channelDeps?: ChannelPaymentDeps,
    /** Without it, the channels' daily bills are left for another node to check. */
    dailyBills?: DailyBillDeps,
  ) {
    const lanes = [
      new Lane('expire-orders', intervalMs, async () => {
        const expired = await expireDueOrders(deps)
        if (expired > 0) logger.info({ expired }, 'expired orders')
      }, logger),
      new Lane('purge', PURGE_INTERVAL_MS, async () => {
        const now = deps.clock.now()
        await storage.nonces.purgeExpired(now)
        await storage.idempotency.purgeExpired(now)
      }, logger),
    ]
    const firstAnalyze = storage.firstAnalyze
    if (firstAnalyze) {
      lanes.push(new Lane('first-analyze', FIRST_ANALYZE_INTERVAL_MS, async () => {
        const analyzed = await firstAnalyze.run()
        if (analyzed.length > 0) logger.info({ tables: analyzed }, 'analyzed tables PostgreSQL had no statistics for yet')
      }, logger))
    }
    if (refundDeps) {
      lanes.push(new Lane('settle-refunds', intervalMs, async () => {
        const settled = await reconcilePendingRefunds(refundDeps)
        if (settled > 0) logger.info({ settled }, 'settled pending refunds')
      }, logger))
    }
    if (channelDeps) {
      lanes.push(new Lane('reconcile-channel-payments', intervalMs, async () => {
        const r = await reconcileChannelPayments(channelDeps)
        if (r.settled > 0) logger.info(r, 'reconciled channel payments')
      }, logger))
    }
    if (dailyBills) {
      lanes.push(new Lane('daily-bills', DAILY_BILLS_INTERVAL_MS, async () => {
        await checkDailyBills(dailyBills)
      }, logger))
    }
    this.#lanes = lanes
  }

  start(): void {
    for (const lane of this.#lanes) lane.start()
  }

  /** One run of every job, now (tools and tests). */
  async runOnce(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.run()))
  }

  /** Stops scheduling and waits for the runs under way (a reconcile sweep ends within its time budget). */
  async stop(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.stop()))
  }
}
