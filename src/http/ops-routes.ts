// Operations: liveness, readiness and Prometheus metrics.
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../context.ts'
import { joinClusterMetrics, type Gathered } from '../observability/cluster-metrics.ts'
import { EventLoopMonitor } from '../observability/event-loop.ts'
import { renderFamilies, type Family } from '../observability/metrics.ts'
import { COMMIT_BUCKETS } from '../storage/sqlite-thread.ts'

/** How long a scrape waits for the database's gauges before it answers without them. */
export const METRICS_DATABASE_TIMEOUT_MS = 2000

/** Seconds from `since` to `now`, 0 for none. */
const ageSeconds = (now: number, since: number | null) => (since === null ? 0 : Math.max(0, (now - since) / 1000))

/** One unlabelled gauge sample. */
const gauge = (name: string, help: string, value: number): Family => ({ name, help, samples: [{ labels: {}, value }] })

export function opsRoutes(ctx: AppContext) {
  return async function routes(app: FastifyInstance) {
    app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }))

    app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
      try {
        await ctx.storage.ping()
        return { status: 'ready', database: ctx.storage.database.dialect }
      } catch (err) {
        ctx.logger.warn({ err }, 'readiness check failed')
        return reply.code(503).send({ status: 'unavailable', database: ctx.storage.database.dialect })
      }
    })

    // SQLite's writer thread: fewer commits than writes means the group commit is sharing them (one fsync each).
    // An interactive transaction holds the writer while its statements wait for this thread's turns: time
    // held is time every other write waited.
    const sqliteCommits = () => {
      const counts = ctx.storage.database.writerCounts?.()
      if (!counts) return []
      const counter = (name: string, help: string, value: number) => ({ name, help, type: 'counter' as const, samples: [{ labels: {}, value }] })
      return [
        counter('scanpay_sqlite_commits_total', 'Transactions the SQLite writer has committed', counts.commits),
        counter('scanpay_sqlite_held_transactions_total', 'Interactive transactions that held the SQLite writer from BEGIN to their end', counts.heldTransactions),
        counter('scanpay_sqlite_held_seconds_total', 'Time interactive transactions held the SQLite writer, every other write waiting', counts.heldSeconds),
        {
          name: 'scanpay_sqlite_commit_seconds',
          help: 'Time each SQLite commit took: writing the WAL and its fsync, where a stalling disk shows',
          type: 'histogram' as const,
          samples: [
            ...COMMIT_BUCKETS.map((le, i) => ({ suffix: '_bucket', labels: { le: String(le) }, value: counts.commitsWithin[i]! })),
            { suffix: '_bucket', labels: { le: '+Inf' }, value: counts.commits },
            { suffix: '_sum', labels: {}, value: counts.commitSeconds },
            { suffix: '_count', labels: {}, value: counts.commits },
          ],
        },
      ]
    }

    // This process's memory and CPU, by the names Prometheus' Node.js clients use: the memory target of
    // docs/performance.md is this RSS. Under `--workers N` each worker's sample carries its pid (mergeFamilies).
    const processMetrics = () => {
      const memory = process.memoryUsage()
      const cpu = process.cpuUsage()
      return [
        gauge('process_resident_memory_bytes', 'Resident memory of this process (RSS), every thread included', memory.rss),
        gauge('nodejs_heap_size_used_bytes', "The main thread's V8 heap in use", memory.heapUsed),
        gauge('nodejs_heap_size_total_bytes', "The main thread's V8 heap, reserved", memory.heapTotal),
        gauge('nodejs_external_memory_bytes', 'Memory of native objects held from JavaScript (buffers among them)', memory.external),
        { name: 'process_cpu_seconds_total', help: 'CPU time of this process, user and system, every thread included', type: 'counter' as const, samples: [{ labels: {}, value: (cpu.user + cpu.system) / 1e6 }] },
      ]
    }

    // Read from the shared database, so the same on every node (and computed once per scrape of a cluster).
    const databaseFamilies = async (now: number): Promise<Family[]> => {
      const [pending, depth, refunds, unexpected] = await Promise.all([
        ctx.storage.orders.countPending(),
        ctx.storage.deliveries.depth(now),
        ctx.storage.refunds.pendingSummary(),
        ctx.storage.payments.unrefundedSummary(),
      ])
      return [
        // Pending only: expiry bounds them, where counting every status would read every order stored at each
        // scrape (scanpay_events_total counts what orders became).
        gauge('scanpay_orders_pending', 'Orders awaiting payment', pending),
        {
          name: 'scanpay_webhook_queue_depth',
          help: 'Events waiting for delivery: due now, and all still pending',
          samples: [
            { labels: { state: 'due' }, value: depth.due },
            { labels: { state: 'waiting' }, value: depth.waiting },
          ],
        },
        // Money owed to customers: a refund stuck at its channel (WeChat Pay's ABNORMAL) or refused needs a person.
        gauge('scanpay_refunds_pending', "Live refunds waiting for their channel's final word", refunds.count),
        gauge('scanpay_refunds_pending_oldest_seconds', 'Age of the oldest pending live refund (0 when none)', ageSeconds(now, refunds.oldestCreatedAt)),
        {
          name: 'scanpay_unexpected_payments_unrefunded',
          help: 'Payments after their order stopped taking money, not given back yet: the channel refused (awaiting_person) or not final yet',
          samples: [
            { labels: { state: 'awaiting_person' }, value: unexpected.awaitingPerson },
            { labels: { state: 'in_progress' }, value: unexpected.inProgress },
          ],
        },
        gauge('scanpay_unexpected_payments_unrefunded_oldest_seconds', 'How long the longest-waiting of those has waited since its last move (0 when none)', ageSeconds(now, unexpected.oldestSince)),
      ]
    }

    // A hung database holds its reads until statement_timeout: a scrape meanwhile joins the reads under way
    // rather than start more, so scrapes during an outage cannot take the pool's connections. (Its ages are then
    // counted from the first of those scrapes, a few seconds off at most.)
    let reading: Promise<Family[]> | null = null
    const databaseWithin = async (now: number): Promise<Family[] | null> => {
      reading ??= databaseFamilies(now).finally(() => (reading = null))
      let timer: ReturnType<typeof setTimeout> | undefined
      try {
        const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), METRICS_DATABASE_TIMEOUT_MS)))
        const families = await Promise.race([reading, late])
        if (!families) ctx.logger.warn(`/metrics: the database did not answer within ${METRICS_DATABASE_TIMEOUT_MS / 1000} s; its gauges are left out`)
        return families
      } catch (err) {
        ctx.logger.warn({ err }, '/metrics: the database failed; its gauges are left out')
        return null
      } finally {
        clearTimeout(timer)
      }
    }

    const eventLoop = new EventLoopMonitor()
    app.addHook('onClose', (_app, done) => (eventLoop.stop(), done()))

    // This process's own counters and gauges: what a cluster's workers each send their primary.
    const processFamilies = (): Family[] => [
      ...ctx.metrics.families(),
      {
        name: 'scanpay_events_total',
        // Every type from 0, so that increase() sees its first event (an alert needs a sample before the count).
        help: 'Events this process committed, by type: an order paid, closed, expired or refunded, a refund failed, a payment after its order ended',
        type: 'counter',
        samples: [...ctx.storage.eventsCommitted].map(([type, value]) => ({ labels: { type }, value })),
      },
      gauge('scanpay_webhook_inflight', 'Webhook requests in flight on this node', ctx.worker.inflight),
      ...sqliteCommits(),
      ...processMetrics(),
      ...eventLoop.families(),
    ]

    // Under `--workers N` one scrape answers for every worker (cluster-metrics.ts); the database's gauges are read once.
    const clusterMetrics = joinClusterMetrics(processFamilies)
    if (clusterMetrics) app.addHook('onClose', (_app, done) => (clusterMetrics.stop(), done()))
    const processPart = async (): Promise<Gathered> => (clusterMetrics ? clusterMetrics.ask() : { families: processFamilies(), notes: [] })

    // Always 200: the process's counters matter most while the database is down, and scanpay_database_up says so.
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      const [fromDatabase, own] = await Promise.all([databaseWithin(ctx.clock.now()), processPart()])
      const text = renderFamilies([
        ...own.families,
        gauge('scanpay_database_up', `1 when the database answered this scrape's reads within ${METRICS_DATABASE_TIMEOUT_MS / 1000} s, else 0 (and the gauges read from it are left out)`, fromDatabase ? 1 : 0),
        ...(fromDatabase ?? []),
      ], own.notes)
      return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(text)
    })
  }
}
