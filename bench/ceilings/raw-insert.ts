// The database ceiling: the same INSERT ScanPay makes for one order (one transaction each, as the API does),
// issued directly through the driver with nothing else around it. Runs in its own process and prints JSON.
//   node --import tsx bench/ceilings/raw-insert.ts '<json spec>'
//   spec: { url, pgSchema?, seconds, concurrency, perTransaction?, synchronous?, nonce? }
// SQLite: better-sqlite3 in one process (one connection, as ScanPay has). PostgreSQL: `concurrency` clients,
// each looping the INSERT alone (autocommit, as ScanPay sends it) or BEGIN; INSERT; COMMIT.
import { randomBytes } from 'node:crypto'
import SQLite from 'better-sqlite3'
import pg from 'pg'
import { newId } from '../../src/core/ids.ts'
import { dialectOf, migrate, openDatabase } from '../../src/storage/database.ts'

interface Spec {
  url: string
  pgSchema?: string
  seconds: number
  concurrency: number
  /** Orders per transaction: 1 is what the API does per request; more shows what group commit could reach. */
  perTransaction?: number
  /** SQLite only: FULL (ScanPay's setting) or NORMAL, to price the durability guarantee. */
  synchronous?: 'FULL' | 'NORMAL'
  /** Also insert the replay-guard nonce a signed request writes. */
  nonce?: boolean
  /**
   * PostgreSQL: send the lone INSERT without BEGIN/COMMIT, as ScanPay's create-order does (one statement is
   * atomic and durable by itself). Default: an explicit transaction around each order.
   */
  autocommit?: boolean
}

const spec = JSON.parse(process.argv[2]!) as Spec
const perTx = spec.perTransaction ?? 1
const merchantId = newId('mch')

const COLUMNS = [
  'id', 'merchant_id', 'mode', 'status', 'out_trade_no', 'amount', 'amount_refunded', 'currency', 'subject',
  'description', 'metadata', 'channels', 'notify_url', 'return_url', 'pay_token', 'channel', 'channel_trade_no',
  'request_hash', 'created_at', 'expires_at', 'paid_at', 'closed_at', 'updated_at',
]
let seq = 0
function row(): unknown[] {
  const now = Date.now()
  seq++
  return [
    newId('ord', now), merchantId, 'test', 'pending', `raw-${seq}-${randomBytes(4).toString('hex')}`, 1234, 0, 'CNY', 'Latte',
    null, '{"table":"7"}', '["sandbox"]', null, null, randomBytes(32).toString('base64url'), null, null, randomBytes(32).toString('hex'),
    now, now + 900_000, null, null, now,
  ]
}

// Migrations run first through ScanPay's own code, so the table and its indexes are exactly the real ones.
const setup = await openDatabase(spec.url, { pgSchema: spec.pgSchema })
await migrate(setup.db)
await setup.close()

const latencies: number[] = []
let orders = 0
const deadline = performance.now() + spec.seconds * 1000
const started = performance.now()

if (dialectOf(spec.url) === 'sqlite') {
  const db = new SQLite(spec.url.slice('sqlite:'.length))
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${spec.synchronous ?? 'FULL'}`)
  const insert = db.prepare(
    `INSERT INTO orders (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (merchant_id, mode, out_trade_no) DO NOTHING RETURNING id`,
  )
  const nonce = db.prepare('INSERT INTO nonces (key_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (key_id, nonce) DO NOTHING RETURNING nonce')
  const begin = db.prepare('BEGIN')
  const commit = db.prepare('COMMIT')
  while (performance.now() < deadline) {
    const t = performance.now()
    begin.run()
    // A signed create's nonce claim shares its order's commit, as in the API since the sixth session (the
    // SDK's nonce shape: the time, then random bits).
    for (let i = 0; i < perTx; i++) {
      if (spec.nonce) nonce.get('key_test_raw', Date.now().toString(36).padStart(8, '0') + randomBytes(12).toString('base64url'), Date.now() + 900_000)
      insert.get(...row())
    }
    commit.run()
    const dt = performance.now() - t
    for (let i = 0; i < perTx; i++) latencies.push(dt)
    orders += perTx
  }
  db.close()
} else {
  const pool = new pg.Pool({
    connectionString: spec.url,
    max: spec.concurrency,
    ...(spec.pgSchema ? { options: `-c search_path=${spec.pgSchema}` } : {}),
  })
  const text = `INSERT INTO orders (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (merchant_id, mode, out_trade_no) DO NOTHING RETURNING id`
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      const client = await pool.connect()
      try {
        while (performance.now() < deadline) {
          const t = performance.now()
          if (spec.nonce) {
            await client.query({ name: 'raw-nonce', text: 'INSERT INTO nonces (key_id, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT (key_id, nonce) DO NOTHING RETURNING nonce', values: ['key_test_raw', randomBytes(12).toString('hex'), Date.now() + 900_000] })
          }
          if (spec.autocommit && perTx === 1) {
            await client.query({ name: 'raw-order', text, values: row() })
          } else {
            await client.query('BEGIN')
            for (let i = 0; i < perTx; i++) await client.query({ name: 'raw-order', text, values: row() })
            await client.query('COMMIT')
          }
          const dt = performance.now() - t
          for (let i = 0; i < perTx; i++) latencies.push(dt)
          orders += perTx
        }
      } finally {
        client.release()
      }
    }),
  )
  await pool.end()
}

const seconds = (performance.now() - started) / 1000
latencies.sort((a, b) => a - b)
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? 0
process.stdout.write(
  JSON.stringify({ seconds, requests: orders, ok: orders, throughput: orders / seconds, latency: { p50: pct(50), p99: pct(99), max: pct(100) }, errors: 0 }) + '\n',
)
