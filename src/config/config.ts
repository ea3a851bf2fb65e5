// The only reader of process.env: builds one validated, frozen configuration from flags and the environment.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { withoutPassword } from '../storage/database.ts'
import { realDatabaseFile } from '../storage/real-database-file.ts'

/** A setting (a flag or an environment variable) that cannot be used: the command cannot run as written. */
export class ConfigError extends Error {}

export interface Config {
  readonly production: boolean
  readonly host: string
  readonly port: number
  /** Origin put into pay_url, without a trailing slash. */
  readonly publicUrl: string
  readonly databaseUrl: string
  readonly masterKey: Buffer
  /** Master keys rotated out (SCANPAY_PREVIOUS_MASTER_KEYS): they still open what they sealed, and old pay links. */
  readonly previousMasterKeys: readonly Buffer[]
  readonly logLevel: string
  /** Requests per second each API key may make (token bucket, burst of twice this). */
  readonly rateLimitPerSecond: number
  /** How often background jobs (expiry, delivery polling) look for work. */
  readonly jobIntervalMs: number
  readonly webhookTimeoutMs: number
  /** Most webhook requests in flight at once, and per merchant, so one slow merchant cannot starve the rest. */
  readonly webhookConcurrency: number
  readonly webhookConcurrencyPerMerchant: number
  /** Most calls to open a payment at WeChat Pay or Alipay under way at once for one merchant's checkouts. */
  readonly channelCallsPerMerchant: number
  /** PostgreSQL: run repeated statements as named prepared statements (off behind a transaction-mode pooler). */
  readonly pgPreparedStatements: boolean
  /** How long a graceful stop may take before the process gives up what is left and exits 1. */
  readonly shutdownTimeoutMs: number
}

export interface Flags {
  port?: string | number
  host?: string
  db?: string
  publicUrl?: string
}

export const DEFAULT_DATABASE_URL = 'sqlite:./data/scanpay.db'

function positiveInt(name: string, raw: string | number | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
  if (n > max) throw new ConfigError(`${name} must be at most ${max}, got ${JSON.stringify(raw)}`)
  return n
}

/** The longest delay a Node timer keeps: a longer one fires at once, so a timeout beyond it would end every try. */
const MAX_TIMER_MS = 2_147_483_647

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function logLevelOf(raw: string | undefined, fallback: string): string {
  if (raw === undefined || raw === '') return fallback
  if (!LOG_LEVELS.includes(raw)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`)
  return raw
}

function onOff(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback
  if (raw === 'on') return true
  if (raw === 'off') return false
  throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(raw)}`)
}

/** SCANPAY_PREVIOUS_MASTER_KEYS: comma-separated, each base64 of 32 bytes, none the current key. */
function loadPreviousMasterKeys(raw: string | undefined, current: Buffer): Buffer[] {
  if (!raw?.trim()) return []
  return raw.split(',').map((part, i) => {
    const key = Buffer.from(part.trim(), 'base64')
    if (key.length !== 32) throw new ConfigError(`SCANPAY_PREVIOUS_MASTER_KEYS: key ${i + 1} must be base64 of 32 bytes`)
    if (key.equals(current)) throw new ConfigError(`SCANPAY_PREVIOUS_MASTER_KEYS: key ${i + 1} is SCANPAY_MASTER_KEY itself`)
    return key
  })
}

/**
 * In development, a missing master key is generated once into the data folder beside the SQLite file: the file
 * itself, whatever name (a symbolic link) it is opened by, so that every name of it finds the same key. A key
 * beside the name given, where an earlier version made it, is still used.
 */
function loadMasterKey(raw: string | undefined, production: boolean, databaseUrl: string): Buffer {
  if (raw) {
    const key = Buffer.from(raw, 'base64')
    if (key.length !== 32) throw new ConfigError('SCANPAY_MASTER_KEY must be base64 of 32 bytes (openssl rand -base64 32)')
    return key
  }
  if (production) throw new ConfigError('SCANPAY_MASTER_KEY is required when NODE_ENV=production')
  const sqliteFile = databaseUrl.startsWith('sqlite:') && !databaseUrl.includes(':memory:') ? databaseUrl.slice('sqlite:'.length) : null
  const folder = sqliteFile ? dirname(realDatabaseFile(sqliteFile)) : resolve('data')
  const file = join(folder, 'master.key')
  const byGivenName = sqliteFile ? join(dirname(resolve(sqliteFile)), 'master.key') : file
  for (const found of [file, byGivenName]) {
    if (existsSync(found)) return loadMasterKey(readFileSync(found, 'utf8').trim(), production, databaseUrl)
  }
  mkdirSync(folder, { recursive: true })
  const key = randomBytes(32)
  try {
    // Created only if absent: of two first starts at once, one key wins and both use it (an overwritten key
    // would leave whatever the other sealed unreadable).
    writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadMasterKey(readFileSync(file, 'utf8').trim(), production, databaseUrl)
    throw err
  }
  return key
}

/** The database to use: --db, then DATABASE_URL, then the embedded default. */
export function databaseUrlOf(flags: Flags = {}, env: NodeJS.ProcessEnv = process.env): string {
  const url = flags.db ?? env.DATABASE_URL ?? DEFAULT_DATABASE_URL
  // Without a path SQLite would open a database in memory, lost on exit: only when asked for by name.
  if (url === 'sqlite:' || url === 'sqlite://') throw new ConfigError(`DATABASE_URL ${url} names no file: sqlite:./data/scanpay.db, or sqlite::memory: for a database lost on exit`)
  // sqlite://data/x.db reads as a relative path, but the two slashes make it /data/x.db: refused rather than guessed.
  if (/^sqlite:\/\/(?!\/)/.test(url)) throw new ConfigError(`DATABASE_URL ${url} is ambiguous: write sqlite:./relative/path.db or sqlite:///absolute/path.db`)
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(url)) throw new ConfigError(`DATABASE_URL (or --db) must start with sqlite: or postgres://, got ${JSON.stringify(withoutPassword(url))}`)
  return url
}

export function loadConfig(flags: Flags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production'
  const host = flags.host ?? env.HOST ?? '127.0.0.1'
  // Named as the operator gave it: --port on the command line, else the environment's PORT.
  const port = positiveInt(flags.port !== undefined ? '--port' : 'PORT', flags.port ?? env.PORT, 8080, 65_535)
  const databaseUrl = databaseUrlOf(flags, env)
  const publicUrl = (flags.publicUrl ?? env.PUBLIC_URL ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/+$/, '')
  if (!/^https?:\/\/[^/]+$/.test(publicUrl)) throw new ConfigError(`PUBLIC_URL must be an http(s) origin, got ${publicUrl}`)
  const masterKey = loadMasterKey(env.SCANPAY_MASTER_KEY, production, databaseUrl)
  return Object.freeze({
    production,
    host,
    port,
    publicUrl,
    databaseUrl,
    masterKey,
    previousMasterKeys: loadPreviousMasterKeys(env.SCANPAY_PREVIOUS_MASTER_KEYS, masterKey),
    logLevel: logLevelOf(env.LOG_LEVEL, env.NODE_ENV === 'test' ? 'silent' : 'info'),
    rateLimitPerSecond: positiveInt('SCANPAY_RATE_LIMIT', env.SCANPAY_RATE_LIMIT, 1000),
    jobIntervalMs: positiveInt('SCANPAY_JOB_INTERVAL_MS', env.SCANPAY_JOB_INTERVAL_MS, 1000, MAX_TIMER_MS),
    webhookTimeoutMs: positiveInt('SCANPAY_WEBHOOK_TIMEOUT_MS', env.SCANPAY_WEBHOOK_TIMEOUT_MS, 10_000, MAX_TIMER_MS),
    webhookConcurrency: positiveInt('SCANPAY_WEBHOOK_CONCURRENCY', env.SCANPAY_WEBHOOK_CONCURRENCY, 256),
    webhookConcurrencyPerMerchant: positiveInt('SCANPAY_WEBHOOK_CONCURRENCY_PER_MERCHANT', env.SCANPAY_WEBHOOK_CONCURRENCY_PER_MERCHANT, 32),
    channelCallsPerMerchant: positiveInt('SCANPAY_CHANNEL_CALLS_PER_MERCHANT', env.SCANPAY_CHANNEL_CALLS_PER_MERCHANT, 32),
    pgPreparedStatements: onOff('SCANPAY_PG_PREPARED_STATEMENTS', env.SCANPAY_PG_PREPARED_STATEMENTS, true),
    shutdownTimeoutMs: positiveInt('SCANPAY_SHUTDOWN_TIMEOUT_MS', env.SCANPAY_SHUTDOWN_TIMEOUT_MS, 25_000, MAX_TIMER_MS),
  })
}
