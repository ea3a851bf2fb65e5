// The composition root: builds every part of the platform from one validated, frozen config.
import pino, { type Logger } from 'pino'
import { ChannelRegistry } from './channels/registry.ts'
import type { Config } from './config/config.ts'
import type { Clock } from './core/ports.ts'
import type { UseCaseDeps } from './core/use-cases/context.ts'
import { presentOrder } from './http/presenters.ts'
import { RateLimiter } from './http/merchant-api/rate-limiter.ts'
import { BackgroundJobs } from './jobs/background-jobs.ts'
import { MerchantDirectory } from './merchants/merchant-directory.ts'
import { Metrics } from './observability/metrics.ts'
import { SecretBox } from './security/secret-box.ts'
import { migrate, openDatabase } from './storage/database.ts'
import { Storage } from './storage/storage.ts'
import { ChangeNotifier } from './webhooks/change-notifier.ts'
import { DeliveryWorker } from './webhooks/delivery-worker.ts'

export interface AppContext {
  config: Config
  logger: Logger
  clock: Clock
  storage: Storage
  box: SecretBox
  directory: MerchantDirectory
  notifier: ChangeNotifier
  metrics: Metrics
  rateLimiter: RateLimiter
  channels: ChannelRegistry
  deps: UseCaseDeps
  worker: DeliveryWorker
  jobs: BackgroundJobs
  close(): Promise<void>
}

export interface ContextOptions {
  logger?: Logger
  clock?: Clock
  pgSchema?: string
}

export async function createContext(config: Config, options: ContextOptions = {}): Promise<AppContext> {
  const logger = options.logger ?? pino({ level: config.logLevel })
  const clock = options.clock ?? { now: () => Date.now() }
  const database = await openDatabase(config.databaseUrl, { pgSchema: options.pgSchema })
  await migrate(database.db)
  const storage = new Storage(database)
  const box = new SecretBox(config.masterKey)
  const directory = new MerchantDirectory(storage.merchants, box)
  const notifier = new ChangeNotifier()
  const metrics = new Metrics()
  const deps: UseCaseDeps = {
    tx: storage,
    clock,
    present: (order) => presentOrder(config.publicUrl, order),
    listener: notifier,
  }
  const worker = new DeliveryWorker({
    queue: storage.deliveries,
    directory,
    clock,
    logger,
    metrics,
    timeoutMs: config.webhookTimeoutMs,
    concurrency: config.webhookConcurrency,
    concurrencyPerMerchant: config.webhookConcurrencyPerMerchant,
    pollIntervalMs: config.jobIntervalMs,
    guardEndpoints: config.production,
  })
  notifier.onEvents(() => worker.wake())
  const jobs = new BackgroundJobs(deps, storage, logger, config.jobIntervalMs)
  return {
    config,
    logger,
    clock,
    storage,
    box,
    directory,
    notifier,
    metrics,
    rateLimiter: new RateLimiter(config.rateLimitPerSecond, clock.now),
    channels: new ChannelRegistry(),
    deps,
    worker,
    jobs,
    async close() {
      await jobs.stop()
      await worker.stop()
      await database.close()
    },
  }
}
