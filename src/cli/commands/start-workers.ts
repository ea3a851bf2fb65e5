// scanpay start --workers N: a node:cluster launcher. The primary prepares the database once, then forks N
// workers that each run the whole platform (API, checkout, webhook dispatcher, jobs) on the same PostgreSQL
// and share the listening port. Correctness never rests on the primary: every move is a conditional UPDATE,
// every due webhook is leased with FOR UPDATE SKIP LOCKED, and nonces live in the database, so N workers
// behave exactly like N separate machines.
import cluster, { type Worker } from 'node:cluster'
import { ConfigError, type Config } from '../../config/config.ts'
import { serveClusterMetrics } from '../../observability/cluster-metrics.ts'
import { createMerchant } from '../../merchants/create-merchant.ts'
import { SecretBox } from '../../security/secret-box.ts'
import { dialectOf, migrate, openDatabase } from '../../storage/database.ts'
import { SqlMerchantStore } from '../../storage/merchant-store.ts'
import { printable } from './merchant-create.ts'
import { onStopSignals } from './stop-signals.ts'

export const SQLITE_WORKERS_REFUSED =
  '--workers above 1 needs PostgreSQL (--db postgres://…): a SQLite file is owned by one process, whose ' +
  'writes it serializes and group-commits. Run one process on SQLite, or several on PostgreSQL.'

/** More worker deaths than this within the window stop the cluster rather than replace them for ever. */
export const MAX_WORKER_DEATHS = 5
export const WORKER_DEATHS_WINDOW_MS = 60_000

/** Parses --workers: a positive integer, 1 when absent. */
export function parseWorkers(raw: string | undefined): number {
  if (raw === undefined) return 1
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n < 1 || n > 256) throw new ConfigError(`--workers must be an integer from 1 to 256, got ${JSON.stringify(raw)}`)
  return n
}

/** Migrations and the development demo merchant happen once, here, rather than racing in every worker. */
async function prepareDatabase(config: Config): Promise<void> {
  const database = await openDatabase(config.databaseUrl)
  try {
    await migrate(database.db)
    const merchants = new SqlMerchantStore(database.db)
    if (!config.production && (await merchants.count()) === 0) {
      const demo = await createMerchant(merchants, new SecretBox(config.masterKey, config.previousMasterKeys), { name: 'Demo Shop', webhookUrl: null })
      console.log(`\nNo merchants yet, so a demo merchant was created for development:\n${printable(demo)}\n`)
    }
  } finally {
    await database.close()
  }
}

export async function runPrimary(config: Config, workers: number): Promise<number> {
  if (dialectOf(config.databaseUrl) === 'sqlite') {
    console.error(SQLITE_WORKERS_REFUSED)
    return 2
  }
  await prepareDatabase(config)
  let stopping = false
  // Until every worker listens, one that exits is a failed start, not one to replace.
  let started = false
  let failed = false
  let stopAll: ((reason: string) => void) | null = null
  const deaths: number[] = []
  const replacing = new Set<NodeJS.Timeout>()
  const live = new Set<Worker>()
  const fork = () => {
    const worker = cluster.fork()
    live.add(worker)
    worker.once('exit', (code, signal) => {
      live.delete(worker)
      if (stopping || !started) return
      const now = Date.now()
      deaths.push(now)
      while (deaths[0]! < now - WORKER_DEATHS_WINDOW_MS) deaths.shift()
      if (deaths.length > MAX_WORKER_DEATHS) {
        // Dying as fast as they start (a bad deploy, the database gone): stop, and exit non-zero so the supervisor sees it.
        console.error(`worker ${worker.process.pid} exited (${signal ?? code}); ${deaths.length} workers died within ${WORKER_DEATHS_WINDOW_MS / 1000} s: stopping the cluster`)
        failed = true
        stopAll?.('workers keep dying')
        return
      }
      // A worker that dies is replaced; what it had in flight is safe (leases expire, moves are conditional). The
      // timer holds the primary open: with every worker dead at once (an OOM kill of both), nothing else would.
      console.error(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
      const timer = setTimeout(() => {
        replacing.delete(timer)
        if (!stopping) fork()
      }, 1000)
      replacing.add(timer)
    })
    return worker
  }
  serveClusterMetrics(() => live)
  await Promise.all(
    Array.from({ length: workers }, () => new Promise<void>((resolve, reject) => {
      const w = fork()
      w.once('listening', () => resolve())
      w.once('exit', (code) => reject(new Error(`worker ${w.process.pid} exited with ${code} before listening`)))
    })),
  ).catch((err) => {
    stopping = true
    for (const w of live) w.process.kill('SIGTERM')
    throw err
  })
  started = true
  // In production stdout is the workers' JSON log alone.
  if (!config.production) console.log(`ScanPay primary ${process.pid}: ${workers} workers listening on ${config.host}:${config.port}`)
  await new Promise<void>((resolve) => {
    stopAll = onStopSignals({
      first() {
        stopping = true
        for (const timer of replacing) clearTimeout(timer)
        // Each worker finishes its requests and deliveries in flight (within its shutdown timeout), then exits.
        if (live.size === 0) return resolve()
        cluster.on('exit', (_worker, code) => {
          if (code !== 0) failed = true
          if (live.size === 0) resolve()
        })
        for (const w of live) w.process.kill('SIGTERM')
      },
      // A second signal reaches each worker as its second too, which makes it exit at once.
      second(signal) {
        for (const w of live) w.process.kill(signal)
      },
    })
  })
  // A worker that gave up its graceful stop (timed out, or a second signal), or workers dying, make it non-zero.
  return failed ? 1 : 0
}
