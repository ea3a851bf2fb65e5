// Runs the whole platform in one process: HTTP, the webhook dispatcher and the background jobs, with a
// graceful shutdown that finishes requests and deliveries in flight.
import { ConfigError, type Config } from './config/config.ts'
import { createContext, type AppContext, type ContextOptions } from './context.ts'
import { buildApp } from './http/app.ts'
import { releaseClaimsOfDeadServer } from './http/merchant-api/idempotency.ts'
import { sqlitePathOf } from './storage/database.ts'
import { holdServerLock } from './storage/sqlite-server-lock.ts'

export interface RunningServer {
  ctx: AppContext
  app: Awaited<ReturnType<typeof buildApp>>
  /** The origin it listens on, e.g. http://127.0.0.1:8080. */
  address: string
  stop(): Promise<void>
  /** While stop() runs: what it still waits for, as a person would read it (for a shutdown that times out). */
  unfinished(): string[]
}

/** What a configuration must hold before a server may start on it; throws the operator's error otherwise. */
export function checkServable(config: Config): void {
  if (config.production && config.databaseUrl.startsWith('sqlite:') && ['', ':memory:'].includes(sqlitePathOf(config.databaseUrl))) {
    throw new ConfigError(`DATABASE_URL ${config.databaseUrl} keeps nothing past the process: in production name a file (sqlite:./data/scanpay.db) or PostgreSQL`)
  }
}

/**
 * What a server may start with but its operator should hear about at once. A public URL over http in production
 * is one: the contract's default (`http://HOST:PORT`) must start, yet customers would open its pages unencrypted
 * and WeChat Pay calls back only https.
 */
export function servingWarnings(config: Config): string[] {
  return config.production && !config.publicUrl.startsWith('https://')
    ? [`PUBLIC_URL ${config.publicUrl} is not https in production: customers' pages and channel callbacks travel unencrypted, and WeChat Pay calls back only https. Set PUBLIC_URL=https://… (TLS ends at your load balancer).`]
    : []
}

export async function startServer(config: Config, options: ContextOptions = {}): Promise<RunningServer> {
  checkServable(config)
  // Before the database is opened or migrated: a second server on the same SQLite file stops here.
  const lock = holdServerLock(config.databaseUrl)
  let ctx: AppContext
  try {
    ctx = await createContext(config, options)
  } catch (err) {
    lock?.release()
    throw err
  }
  let app: Awaited<ReturnType<typeof buildApp>> | null = null
  try {
    if (lock?.warning) ctx.logger.warn({ lock: lock.path }, lock.warning)
    for (const warning of servingWarnings(config)) ctx.logger.warn({ public_url: config.publicUrl }, warning)
    if (lock) {
      const released = await releaseClaimsOfDeadServer(ctx.storage.idempotency, ctx.clock.now())
      if (released > 0) ctx.logger.warn({ released }, 'Idempotency-Key claims left in progress by a server that stopped mid-request were given back: their retries run afresh')
    }
    app = await buildApp(ctx)
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    // The port taken, say: what was opened would keep the process alive, serving nothing, where it must exit.
    await app?.close()
    await ctx.close()
    lock?.release()
    throw err
  }
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : config.port
  ctx.worker.start()
  ctx.jobs.start()
  let stopping: Promise<void> | null = null
  const waiting = new Set<string>()
  const step = async (name: string, work: () => Promise<void>) => {
    waiting.add(name)
    try {
      await work()
    } finally {
      waiting.delete(name)
    }
  }
  return {
    ctx,
    app,
    address: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    stop() {
      // The webhook worker stops leasing at once, not after the last request: a request held by a hung database
      // must not keep it leasing (and failing) through the whole wait. Deliveries under way are still recorded.
      stopping ??= (async () => {
        // Each part finishes whatever another's failure: the database closes last in any case.
        const parts = await Promise.allSettled([
          step('HTTP requests in flight', () => app.close()),
          step('webhook deliveries under way', () => ctx.worker.stop()),
          step('background jobs under way', () => ctx.jobs.stop()),
        ])
        try {
          await step('closing the database', () => ctx.close())
        } finally {
          lock?.release()
        }
        const failed = parts.find((p): p is PromiseRejectedResult => p.status === 'rejected')
        if (failed) throw failed.reason
      })()
      return stopping
    },
    unfinished() {
      const left = [...waiting]
      const deliveries = ctx.worker.inflight
      if (deliveries > 0) left.push(`${deliveries} webhook request(s) still at their endpoints`)
      return left
    },
  }
}
