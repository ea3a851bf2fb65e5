// The webhook lease's look for other merchants' due events (SqlDeliveryQueue, discover), on SQLite, with a
// merchant whose endpoint hangs: its 12,500 due events sit in the queue, skipped as at its cap, beside four
// merchants mostly drained. Times the look through the due index the migrations make (events_due_merchant_ix,
// which names each entry's merchant) against the due-time index it replaced (events_due_ix, before migration
// 0011), and what a lease and a record cost the writes with each.
//
//   node --import tsx bench/micro/webhook-discover.ts
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate, openDatabase } from '../../src/storage/database.ts'

const PER_MERCHANT = 12_500
const MERCHANTS = ['mch_a', 'mch_b', 'mch_c', 'mch_d', 'mch_hang']
const dir = mkdtempSync(join(tmpdir(), 'scanpay-micro-'))

async function queue(index: 'events_due_merchant_ix' | 'events_due_ix'): Promise<Database.Database> {
  const file = join(dir, `${index}.db`)
  const database = await openDatabase(`sqlite:${file}`)
  await migrate(database.db)
  await database.close()
  const db = new Database(file)
  if (index === 'events_due_ix') db.exec('DROP INDEX events_due_merchant_ix; CREATE INDEX events_due_ix ON events (next_attempt_at)')
  const now = Date.now()
  const insert = db.prepare(`INSERT INTO events (merchant_id, id, mode, order_id, type, data, notify_url, created_at, delivery_status, attempt_count, next_attempt_at, locked_until, one_shot)
    VALUES (?, ?, 'test', ?, 'order.paid', ?, 'http://127.0.0.1/hook', ?, 'pending', 0, ?, NULL, 0)`)
  const data = JSON.stringify({ id: 'ord_x', object: 'order', mode: 'test', status: 'paid', out_trade_no: 'wh-1', amount: 1234, amount_refunded: 0, currency: 'CNY', subject: 'Latte' })
  // Interleaved and due at once, as the benchmark's webhook runs seed them.
  db.transaction(() => {
    for (let i = 0; i < PER_MERCHANT; i++) for (const m of MERCHANTS) insert.run(m, `evt_${String(i).padStart(8, '0')}_${m}`, `ord_${i}`, data, now, now)
  })()
  // The four answering merchants 72 % delivered; the hanging one's first 64 leased.
  db.prepare(`UPDATE events SET next_attempt_at = NULL, delivery_status = 'delivered' WHERE merchant_id != 'mch_hang' AND id < 'evt_00009000'`).run()
  db.prepare(`UPDATE events SET locked_until = ? WHERE merchant_id = 'mch_hang' AND id < 'evt_00000064'`).run(now + 40_000)
  return db
}

for (const index of ['events_due_merchant_ix', 'events_due_ix'] as const) {
  const db = await queue(index)
  const now = Date.now()
  // The look's text as SqlDeliveryQueue compiles it: two merchants just finished (recent), one at its cap.
  const look = db.prepare(`SELECT merchant_id, id FROM events
    WHERE next_attempt_at <= ? AND delivery_status = 'pending' AND (locked_until IS NULL OR locked_until <= ?)
      AND merchant_id NOT IN (?, ?, ?) ORDER BY next_attempt_at LIMIT ?`)
  const args = [now, now, 'mch_hang', 'mch_a', 'mch_b', 512] as const
  const plan = db.prepare(`EXPLAIN QUERY PLAN ${look.source}`).all(...args) as { detail: string }[]
  for (let i = 0; i < 20; i++) look.all(...args)
  const rounds = 100
  let t = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) look.all(...args)
  const lookMs = Number(process.hrtime.bigint() - t) / 1e6 / rounds
  // A lease then a record of 2,000 events, each in one transaction, as the worker's rounds batch them.
  const lease = db.prepare('UPDATE events SET locked_until = ? WHERE merchant_id = ? AND id = ?')
  const record = db.prepare(`UPDATE events SET next_attempt_at = NULL, delivery_status = 'delivered', locked_until = NULL, attempt_count = attempt_count + 1 WHERE merchant_id = ? AND id = ?`)
  const ids = Array.from({ length: 2_000 }, (_, i) => `evt_${String(9_000 + i).padStart(8, '0')}_mch_c`)
  t = process.hrtime.bigint()
  db.transaction(() => ids.forEach((id) => lease.run(now + 40_000, 'mch_c', id)))()
  db.transaction(() => ids.forEach((id) => record.run('mch_c', id)))()
  const writeUs = Number(process.hrtime.bigint() - t) / 1e3 / ids.length
  console.log(`${index.padEnd(22)}  look ${lookMs.toFixed(2)} ms (${plan.map((p) => p.detail).join('; ')}); lease + record ${writeUs.toFixed(1)} µs an event`)
  db.close()
}
rmSync(dir, { recursive: true, force: true })
