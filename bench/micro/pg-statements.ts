// PostgreSQL's own CPU per payment, the pay transaction's statements sent unnamed (parsed and planned on every
// call, node-postgres's default) against named prepared statements (parsed once per connection, what ScanPay's
// pool does since the fourteenth session: src/storage/pg-prepared.ts). 16 clients, rounds of 5,000 payments
// alternating between the two; the CPU is every postgres process's, read from /proc, so run nothing else.
//
//   node --import tsx bench/micro/pg-statements.ts [--rounds 3] [--custom-plans]
//   --custom-plans: plan_cache_mode = force_custom_plan, i.e. what naming saves when every call is still planned
import { parseArgs } from 'node:util'
import pg from 'pg'
import { migrate, openDatabase } from '../../src/storage/database.ts'
import { freshPostgres } from '../lib/databases.ts'
import { postgresCpuMs } from '../lib/processes.ts'

const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, 'custom-plans': { type: 'boolean', default: false } } })
const PAYMENTS = 5_000

// The statements of a payment as the server sends them (Kysely's text).
const SELECT_ORDER = 'select * from "orders" where "merchant_id" = $1 and "id" = $2'
const MARK_PAID = 'update "orders" set "status" = $1, "channel" = $2, "channel_trade_no" = $3, "paid_at" = $4, "updated_at" = $5 where "merchant_id" = $6 and "id" = $7 and "status" = $8 and "expires_at" > $9'
const INSERT_PAYMENT = 'insert into "payments" ("id", "merchant_id", "order_id", "channel", "status", "amount", "currency", "channel_trade_no", "unexpected", "created_at", "updated_at", "qr_content", "next_check_at", "check_count") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)'
const INSERT_EVENT = 'insert into "events" ("id", "merchant_id", "mode", "order_id", "type", "data", "notify_url", "created_at", "delivery_status", "attempt_count", "next_attempt_at", "locked_until", "one_shot") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)'


const target = await freshPostgres()
const schema = await openDatabase(target.url)
await migrate(schema.db)
await schema.close()
const rounds = Number(opts.rounds)
const pool = new pg.Pool({ connectionString: target.url, max: 16, ...(opts['custom-plans'] ? { options: '-c plan_cache_mode=force_custom_plan' } : {}) })
pool.on('error', () => {})
await pool.query(
  `INSERT INTO orders (merchant_id, id, mode, status, out_trade_no, amount, amount_refunded, currency, subject, description, metadata, channels, notify_url, return_url, pay_token, channel, channel_trade_no, request_hash, created_at, expires_at, paid_at, closed_at, updated_at)
   SELECT 'mch_1', 'ord_' || lpad(i::text, 26, '0'), 'test', 'pending', 'otn_' || i, 100, 0, 'CNY', 'A cup of tea', NULL, '{}', 'sandbox', 'https://shop.example/hooks', NULL, 'tok_' || i, NULL, NULL, 'h', i, 9e15, NULL, NULL, i
   FROM generate_series(1, $1::int) i`,
  [PAYMENTS * rounds * 2],
)
await pool.query('ANALYZE')

let paid = 0
async function round(named: boolean): Promise<void> {
  const run = (c: pg.PoolClient, name: string, text: string, values: unknown[]) => (named ? c.query({ name, text, values }) : c.query(text, values))
  const end = paid + PAYMENTS
  const cpu0 = postgresCpuMs()
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (paid < end) {
        const i = ++paid
        const id = `ord_${String(i).padStart(26, '0')}`
        const c = await pool.connect()
        try {
          await run(c, 'select_order', SELECT_ORDER, ['mch_1', id])
          await c.query('BEGIN')
          await run(c, 'mark_paid', MARK_PAID, ['paid', 'sandbox', `ctn_${i}`, i, i, 'mch_1', id, 'pending', 0])
          await run(c, 'insert_payment', INSERT_PAYMENT, [`pay_${i}`, 'mch_1', id, 'sandbox', 'succeeded', 100, 'CNY', `ctn_${i}`, 0, i, i, null, null, 0])
          await run(c, 'insert_event', INSERT_EVENT, [`evt_${i}`, 'mch_1', 'test', id, 'order.paid', '{"amount":100}', 'https://shop.example/hooks', i, 'pending', 0, i, null, 0])
          await c.query('COMMIT')
        } finally {
          c.release()
        }
      }
    }),
  )
  const seconds = (performance.now() - t0) / 1000
  const cpuUs = ((postgresCpuMs() - cpu0) * 1000) / PAYMENTS
  console.log(`${named ? 'named  ' : 'unnamed'}: ${Math.round(PAYMENTS / seconds)} payments/s, PostgreSQL's CPU ${Math.round(cpuUs)} µs a payment`)
}

for (let r = 0; r < rounds; r++) {
  await round(false)
  await round(true)
}
await pool.end()
await target.drop()
