// Starts a real ScanPay server on a free port for integration tests, with helpers to act as a merchant.
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { createServer } from 'node:net'
import { authorizationHeader } from '../../sdk/src/signing.ts'
import { loadConfig } from '../../src/config/config.ts'
import { createMerchant, type NewMerchantCredentials } from '../../src/merchants/create-merchant.ts'
import { startServer, type RunningServer } from '../../src/server.ts'
import { dropSchema, freshDatabase, type TestDatabase } from './databases.ts'

export interface TestServer {
  db: TestDatabase
  url: string
  server: RunningServer
  merchant: NewMerchantCredentials
  newMerchant(name?: string, webhookUrl?: string | null): Promise<NewMerchantCredentials>
  stop(): Promise<void>
}

export interface TestServerOptions {
  env?: Record<string, string>
  clock?: { now(): number }
  /** The server's logger instead of one on stdout (a test that reads what was logged). */
  logger?: Logger
}

export async function startTestServer(kind: TestDatabase['name'], options: TestServerOptions = {}): Promise<TestServer> {
  const db = freshDatabase(kind)
  const config = loadConfig(
    { port: await freePort(), host: '127.0.0.1', db: db.url },
    {
      NODE_ENV: 'test',
      SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'),
      SCANPAY_JOB_INTERVAL_MS: '100',
      ...options.env,
    },
  )
  const server = await startServer(config, { pgSchema: db.pgSchema, clock: options.clock, logger: options.logger })
  const url = server.address
  const newMerchant = (name = 'Test Shop', webhookUrl: string | null = null) =>
    createMerchant(server.ctx.storage.merchants, server.ctx.box, { name, webhookUrl })
  return {
    db,
    url,
    server,
    merchant: await newMerchant(),
    newMerchant,
    async stop() {
      await server.stop()
      await dropSchema(db)
    },
  }
}

/**
 * A port nobody listens on now, so PUBLIC_URL can name it before the server starts. It is drawn below the
 * kernel's ephemeral range (32768+), where the many outgoing connections of parallel suites take their local
 * ports, so nothing else grabs it between this probe and the server's listen.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 22_000)
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer()
      probe.once('error', () => resolve(false))
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
    })
    if (free) return port
  }
}

export interface ApiResponse<T = any> {
  status: number
  headers: Headers
  body: T
}

/** fetch, but a failure names its cause (undici's own message is only "fetch failed"). */
async function fetchExplained(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    throw new Error(`${init.method ?? 'GET'} ${url}: ${(err as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}`, { cause: err })
  }
}

/** Calls the API with a Bearer secret. */
export async function api<T = any>(
  base: string,
  secret: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const res = await fetchExplained(base + path, {
    method,
    headers: {
      authorization: `Bearer ${secret}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? safeJson(text) : null }
}

/** Calls the API with an HMAC-signed request. */
export async function signedApi<T = any>(
  base: string,
  key: { key_id: string; secret: string },
  method: string,
  pathAndQuery: string,
  body?: unknown,
  overrides: { timestamp?: number; nonce?: string } = {},
): Promise<ApiResponse<T>> {
  const raw = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)
  const timestamp = overrides.timestamp ?? Math.floor(Date.now() / 1000)
  const nonce = overrides.nonce ?? randomBytes(16).toString('hex')
  const authorization = authorizationHeader(key.key_id, key.secret, { method, pathAndQuery, timestamp, nonce, body: raw })
  const res = await fetchExplained(base + pathAndQuery, {
    method,
    headers: { authorization, ...(raw ? { 'content-type': 'application/json' } : {}) },
    body: raw || undefined,
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? safeJson(text) : null }
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export const ORDER = { out_trade_no: 'A-1001', amount: 1234, subject: 'Latte' }
