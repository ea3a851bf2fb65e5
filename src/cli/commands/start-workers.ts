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
import { checkServable } from '../../server.ts'
import { printable } from './merchant-create.ts'
import { onStopSignals } from './stop-signals.ts'

export const SQLITE_WORKERS_REFUSED =
  '--workers above 1 needs PostgreSQL (--db postgres://…): a SQLite file is owned by one process, whose ' +
  'writes it serializes and group-commits. Run one process on SQLite, or several on PostgreSQL.'

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
  // Refused here, before the database is touched, rather than by every worker as it starts.
  checkServable(config)
  await prepareDatabase(config)
  let stopping = false
  const live = new Set<Worker>()
  const fork = () => {
    const worker = cluster.fork()
    live.add(worker)
    worker.once('exit', (code, signal) => {
      live.delete(worker)
      if (stopping) return
      // A worker that dies is replaced; what it had in flight is safe (leases expire, moves are conditional).
      console.error(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
      setTimeout(() => !stopping && fork(), 1000).unref()
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
  // In production stdout is the workers' JSON log alone.
  if (!config.production) console.log(`ScanPay primary ${process.pid}: ${workers} workers listening on ${config.host}:${config.port}`)
  let failed = false
  await new Promise<void>((resolve) => {
    onStopSignals({
      first() {
        stopping = true
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
  // A worker that gave up its graceful stop (timed out, or a second signal) makes the whole stop non-zero.
  return failed ? 1 : 0
}
