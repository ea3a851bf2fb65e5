// scanpay start: runs the platform until SIGINT/SIGTERM, then shuts down gracefully. With --workers N, a
// cluster primary runs N of these on one PostgreSQL (start-workers.ts).
import cluster from 'node:cluster'
import { setFlagsFromString } from 'node:v8'
import type { Config } from '../../config/config.ts'
import { createMerchant } from '../../merchants/create-merchant.ts'
import { startServer } from '../../server.ts'
import { printable } from './merchant-create.ts'
import { parseWorkers, runPrimary } from './start-workers.ts'
import { onStopSignals } from './stop-signals.ts'

/** Old generation growth between full collections: 1.5 × what survived the last one. */
const HEAP_GROWING_PERCENT = 50

/**
 * V8 lets the old generation grow to up to 4 × what survived the last full collection before it runs the next,
 * by a factor it picks from how fast the collector and the program ran. Under a steady create load the objects of
 * the requests in flight are promoted at some 20 MB/s, and in about one server start in sixteen it picked a large
 * factor: the heap reached 136 MB and the RSS 295 MB, where it otherwise stays near 62 MB and 230 MB. A fixed
 * 1.5 × keeps every start near the latter, at a full collection every second or so (docs/performance.md, the
 * nineteenth round). An operator's own --heap-growing-percent (in NODE_OPTIONS) is left as it is.
 */
function boundHeapGrowth(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((flag) => /heap[-_]growing[-_]percent/.test(flag))
  if (!given) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}

export async function runStart(config: Config, options: { workers?: string } = {}): Promise<number> {
  boundHeapGrowth()
  const workers = parseWorkers(options.workers)
  if (workers > 1 && cluster.isPrimary) return runPrimary(config, workers)
  try {
    return await runNode(config)
  } finally {
    // A cluster worker's channel to its primary would keep it alive after a graceful stop, or after a start that
    // failed (a master key that opens none of the stored secrets), where the primary waits for it to exit.
    if (cluster.isWorker) cluster.worker?.disconnect()
  }
}

/** Which code runs: the build (bin/scanpay.js runs it when it is up to date) or the sources through tsx. */
const RUNNING_CODE = import.meta.url.endsWith('.ts') ? 'sources' : 'build'

async function runNode(config: Config): Promise<number> {
  const server = await startServer(config)
  const { ctx } = server
  ctx.logger.info({ address: server.address, public_url: config.publicUrl, database: ctx.storage.database.description, code: RUNNING_CODE }, 'ScanPay is running')
  if (!config.production && (await ctx.storage.merchants.count()) === 0) {
    const demo = await createMerchant(ctx.storage.merchants, ctx.box, { name: 'Demo Shop', webhookUrl: null })
    console.log(`\nNo merchants yet, so a demo merchant was created for development:\n${printable(demo)}\n`)
  }
  // For a person at a terminal; in production stdout is the JSON log alone (its "ScanPay is running" line says this).
  if (!config.production) console.log(`ScanPay listening on ${server.address} (public URL ${config.publicUrl}, ${ctx.storage.database.description})`)
  let code = 0
  await new Promise<void>((resolve) => {
    const stop = onStopSignals({
      first(reason) {
        ctx.logger.info({ signal: reason, timeout_ms: config.shutdownTimeoutMs }, 'shutting down: finishing requests and deliveries in flight')
        // Bounded: a hung database could hold a request (and so the stop) for as long as it hangs.
        const timer = setTimeout(() => {
          ctx.logger.error({ abandoned: server.unfinished(), timeout_ms: config.shutdownTimeoutMs }, 'shutdown timed out: exiting, abandoning what is left')
          process.exit(1)
        }, config.shutdownTimeoutMs)
        server.stop().then(
          () => {
            clearTimeout(timer)
            resolve()
          },
          (err) => {
            // What failed may have left the database or a thread open, which would keep the process alive: exit.
            clearTimeout(timer)
            ctx.logger.error({ err, abandoned: server.unfinished() }, 'shutdown failed: exiting')
            process.exit(1)
          },
        )
      },
      second(signal) {
        // The operator will not wait for the graceful stop.
        ctx.logger.error({ signal, abandoned: server.unfinished() }, 'second signal: exiting now, without finishing the shutdown')
        process.exit(1)
      },
    })
    // Every write would fail from now on: stop, and exit non-zero so a supervisor starts ScanPay afresh.
    ctx.storage.database.onWriterEnded?.((err) => {
      ctx.logger.fatal({ err }, 'the SQLite writer thread ended: ScanPay stops so that it can be restarted')
      code = 1
      stop('writer thread ended')
    })
  })
  // The last line of a stop that finished (one that timed out or was cut short says so and exits before this).
  ctx.logger.info({ exit_code: code }, 'ScanPay stopped')
  return code
}
