// The composition root: builds every part of the platform from one validated, frozen config.
import pino, { type Logger } from 'pino'
import { ChannelCredentials } from './channels/channel-credentials.ts'
import { LIVE_CHANNELS } from './core/order.ts'
import { billChecksMetric, storedBillRecords, type DailyBillDeps } from './channels/daily-bills.ts'
import { createRealChannels } from './channels/real-channels.ts'
import { ChannelRegistry } from './channels/registry.ts'
import { SandboxChannel } from './channels/sandbox/sandbox-channel.ts'
import type { Config } from './config/config.ts'
import type { Clock } from './core/ports.ts'
import { unexpectedRefundId, type ChannelPaymentDeps } from './core/use-cases/channel-payment-deps.ts'
import type { UseCaseDeps } from './core/use-cases/context.ts'
import type { RefundDeps } from './core/use-cases/refund-deps.ts'
import { presentOrder, presentRefund } from './http/presenters.ts'
import { RateLimiter } from './http/merchant-api/rate-limiter.ts'
import { BackgroundJobs } from './jobs/background-jobs.ts'
import { MerchantDirectory } from './merchants/merchant-directory.ts'
import { plainStderr } from './observability/command-log.ts'
import { Metrics } from './observability/metrics.ts'
import { SecretBox } from './security/secret-box.ts'
import { secretsNoKeyOpens } from './storage/reseal-secrets.ts'
import { migrate, openDatabase, type OpenDatabase } from './storage/database.ts'
import { SqlChannelCredentialStore } from './storage/channel-credential-store.ts'
import { SqlChannelNotificationStore } from './storage/channel-notification-store.ts'
import { Storage } from './storage/storage.ts'
import { ChangeNotifier } from './webhooks/change-notifier.ts'
import { PayTokens } from './core/pay-tokens.ts'
import { DeliveryWorker } from './webhooks/delivery-worker.ts'

/** Counted here, as the use case reports each end (ChannelPaymentDeps.unexpectedRefundEnded). */
const UNEXPECTED_REFUNDS_METRIC = 'scanpay_unexpected_refunds_total'

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
  /** The use-case deps plus the channels that give money back, for refunds. */
  refundDeps: RefundDeps
  /** The use-case deps plus the channel adapters and notify URLs, for real-channel payments. */
  channelDeps: ChannelPaymentDeps
  /** Merchants' sealed channel credentials (live mode). */
  channelCredentials: ChannelCredentials
  channelNotifications: SqlChannelNotificationStore
  worker: DeliveryWorker
  jobs: BackgroundJobs
  close(): Promise<void>
}

export interface ContextOptions {
  logger?: Logger
  clock?: Clock
  pgSchema?: string
}

/**
 * Refuses a master key that opens none of some stored secrets. A server would refuse those merchants' signed
 * requests and could not sign their webhooks (a rotation that left the old key out); an admin command would seal
 * new secrets with a key the server does not have (run in development from another directory, whose master.key
 * is another one).
 */
export async function assertSecretsOpen(db: OpenDatabase['db'], box: SecretBox): Promise<void> {
  const unopenable = await secretsNoKeyOpens(db, box)
  if (unopenable.length === 0) return
  throw new Error(
    `stored secrets that no configured master key opens: ${unopenable.join('; ')}. Set SCANPAY_MASTER_KEY, and ` +
      'SCANPAY_PREVIOUS_MASTER_KEYS to the keys rotated out (docs/operations.md, "Rotating the master key"). ' +
      'In development without SCANPAY_MASTER_KEY the key is the file master.key beside the SQLite database, or ' +
      './data/master.key under the directory a command runs in on PostgreSQL: run every command from the same one',
  )
}

/**
 * The context of a one-off command (not the server): its log goes to stderr as plain lines, so what the command
 * prints on stdout for a person, or as --json for a script, is not mixed with log lines.
 */
export function createCommandContext(config: Config): Promise<AppContext> {
  return createContext(config, { logger: pino({ level: config.logLevel }, plainStderr()) })
}

export async function createContext(config: Config, options: ContextOptions = {}): Promise<AppContext> {
  const logger = options.logger ?? pino({ level: config.logLevel })
  const clock = options.clock ?? { now: () => Date.now() }
  const database = await openDatabase(config.databaseUrl, {
    pgSchema: options.pgSchema,
    preparedStatements: config.pgPreparedStatements,
    onPoolError: (err) => logger.warn({ err }, 'PostgreSQL connection lost; the pool replaces it'),
  })
  await migrate(database.db)
  const payTokens = new PayTokens(config.masterKey, config.previousMasterKeys)
  const storage = new Storage(database, (token) => payTokens.orderIdsOf(token))
  const box = new SecretBox(config.masterKey, config.previousMasterKeys)
  try {
    await assertSecretsOpen(database.db, box)
  } catch (err) {
    await database.close()
    throw err
  }
  const directory = new MerchantDirectory(storage.merchants, box)
  const notifier = new ChangeNotifier()
  const metrics = new Metrics()
  const deps: UseCaseDeps = {
    tx: storage,
    clock,
    present: (order) => presentOrder(config.publicUrl, order),
    listener: notifier,
    payTokens,
  }
  const credentialStore = new SqlChannelCredentialStore(database.db)
  const channelCredentials = new ChannelCredentials(credentialStore, box, () => clock.now())
  const channels = new ChannelRegistry([new SandboxChannel(), ...createRealChannels({ credentials: channelCredentials, clock })])
  const channelDeps: ChannelPaymentDeps = {
    ...deps,
    channel: (name) => channels.get(name),
    // The merchant in the path tells us whose keys verify and decrypt the notification.
    notifyUrl: (channel, merchantId) => `${config.publicUrl}/channels/${channel}/notify/${merchantId}`,
    unexpectedRefundEnded: (outcome, payment, order, reason) => {
      metrics.inc(UNEXPECTED_REFUNDS_METRIC, { channel: payment.channel, outcome })
      const fields = { merchant_id: payment.merchantId, order_id: order.id, payment_id: payment.id, channel: payment.channel, amount: payment.amount, currency: payment.currency, channel_trade_no: payment.channelTradeNo }
      if (outcome === 'refunded') logger.info(fields, 'unexpected payment refunded')
      // The customer paid after the order stopped taking money and the channel will not give it back on its own.
      else logger.error({ ...fields, reason }, 'unexpected payment NOT refunded: the channel refused; fix the cause and run scanpay unexpected retry, or refund it in the channel\'s merchant console and run scanpay unexpected resolve')
    },
    onBackgroundRefundFailed: (payment, order, err) =>
      logger.warn(
        { err, merchant_id: payment.merchantId, order_id: order.id, payment_id: payment.id, refund_id: unexpectedRefundId(payment.id), channel: payment.channel },
        'unexpected payment\'s refund failed in the background: the reconciler asks the channel again',
      ),
  }
  const refundDeps: RefundDeps = {
    ...deps,
    channel: (name) => channels.get(name),
    presentRefund,
    notifyUrl: channelDeps.notifyUrl,
    onSettleFailed: (refund, err) => logger.error({ err, refund_id: refund.id, order_id: refund.orderId }, 'refund answer not recorded: left pending for the refunds job'),
    onRefundStuck: (refund, attention) =>
      logger.error({ merchant_id: refund.merchantId, order_id: refund.orderId, refund_id: refund.id, channel: refund.channel, attention }, 'refund waits for the merchant to act at the channel'),
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
  metrics.describe(billChecksMetric, 'Daily channel bill checks by channel and outcome (matched, discrepancies, failed)')
  // Counted since the first channel notification route, shown only once described: each verified or refused one.
  metrics.describe('scanpay_channel_notifications_total', 'Channel notifications (WeChat Pay, Alipay) by channel and outcome: paid, duplicate, refund_succeeded, …, or why one was refused (signature_invalid, amount_mismatch, …)')
  metrics.describe(UNEXPECTED_REFUNDS_METRIC, "Automatic refunds of payments that arrived after their order stopped taking money, by channel and outcome (refunded; refused: a person must refund it)")
  for (const channel of LIVE_CHANNELS) {
    metrics.startAtZero(billChecksMetric, 'outcome', ['matched', 'discrepancies', 'failed'], { channel })
    metrics.startAtZero(UNEXPECTED_REFUNDS_METRIC, 'outcome', ['refunded', 'refused'], { channel })
  }
  const dailyBills: DailyBillDeps = {
    channel: (name) => channels.get(name),
    merchantsOf: (channel) => credentialStore.merchantsOf(channel),
    checks: storage.billChecks,
    records: storedBillRecords(storage),
    clock,
    logger,
    metrics,
  }
  const jobs = new BackgroundJobs(deps, storage, logger, config.jobIntervalMs, refundDeps, channelDeps, dailyBills)
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
    channels,
    deps,
    refundDeps,
    channelDeps,
    channelCredentials,
    channelNotifications: new SqlChannelNotificationStore(database.db),
    worker,
    jobs,
    async close() {
      await jobs.stop()
      await worker.stop()
      await database.close()
    },
  }
}
