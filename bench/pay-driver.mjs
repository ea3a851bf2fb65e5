// Pay → order.paid latency, measured from outside the server: this process creates orders whose notify_url is
// its own receiver, then pays them through POST /v1/test_helpers/orders/{id}/pay at a fixed rate (open loop:
// a slow answer does not slow the schedule), and times each order from the pay request leaving to its
// order.paid webhook arriving. The first warmupSeconds of payments (3 unless given) run at the same rate but
// are reported apart, as every other scenario's warm-up is: they time a process whose pay and webhook paths
// have not run yet (on a 2-core guest their p99 was 0.4-0.8 s for the first two seconds, then under 0.1 s).
// Prints one JSON line.
//   node bench/pay-driver.mjs '{"url","secret","rate","seconds","warmupSeconds"}'
import { createServer, Agent, request } from 'node:http'

const spec = JSON.parse(process.argv[2])
const agent = new Agent({ keepAlive: true, maxSockets: 128 })
const sentAt = new Map()
/** The orders paid during the warm-up: their webhooks are timed into warmupLatencies. */
const warmupIds = new Set()
const latencies = []
const warmupLatencies = []
const payLatencies = []
/** The slowest pay → webhook time of each second of the run (from the first pay), to tell a stall from a drift. */
const slowestBySecond = new Map()
let duplicates = 0
let payErrors = 0
const seen = new Set()

const receiver = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const now = performance.now()
    res.writeHead(200).end('ok')
    const id = req.headers['webhook-id']
    if (seen.has(id)) return void duplicates++
    seen.add(id)
    const event = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    const t = sentAt.get(event.data.id)
    if (event.type !== 'order.paid' || t === undefined) return
    ;(warmupIds.has(event.data.id) ? warmupLatencies : latencies).push(now - t)
    const second = Math.floor((t - started) / 1000)
    slowestBySecond.set(second, Math.max(slowestBySecond.get(second) ?? 0, now - t))
  })
})
receiver.keepAliveTimeout = 60_000
await new Promise((r) => receiver.listen(0, '127.0.0.1', r))
let started = 0
const notifyUrl = `http://127.0.0.1:${receiver.address().port}/hooks`

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const req = request(
      spec.url + path,
      { method, agent, headers: { authorization: `Bearer ${spec.secret}`, ...(data ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }))
      },
    )
    req.on('error', reject)
    req.end(data)
  })
}

// 1. The orders to pay, made beforehand at full speed with 32 requests in flight.
const warmup = Math.round(spec.rate * (spec.warmupSeconds ?? 3))
const measured = Math.round(spec.rate * spec.seconds)
const total = warmup + measured
const ids = []
let next = 0
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < total) {
      const i = next++
      const r = await call('POST', '/v1/orders', { out_trade_no: `pay-${process.pid}-${i}`, amount: 1234, subject: 'Latte', notify_url: notifyUrl, expires_in: 3600 })
      if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.body}`)
      ids.push(JSON.parse(r.body).id)
    }
  }),
)

// 2. Pays at the fixed rate, in 10 ms ticks.
started = performance.now()
let sent = 0
const pending = []
await new Promise((resolve) => {
  const tick = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * spec.rate))
    while (sent < due) {
      const id = ids[sent]
      if (sent++ < warmup) warmupIds.add(id)
      const t = performance.now()
      sentAt.set(id, t)
      pending.push(
        call('POST', `/v1/test_helpers/orders/${id}/pay`).then(
          (r) => {
            if (!warmupIds.has(id)) payLatencies.push(performance.now() - t)
            if (r.status !== 200) payErrors++
          },
          () => payErrors++,
        ),
      )
    }
    if (sent >= total) {
      clearInterval(tick)
      resolve()
    }
  }, 10)
})
const sendSeconds = (performance.now() - started) / 1000 - warmup / spec.rate
await Promise.all(pending)
// 3. Waits for the last webhooks (at most 30 s).
const deadline = performance.now() + 30_000
while (latencies.length + warmupLatencies.length < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50))

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] : null
}
process.stdout.write(
  JSON.stringify({
    payments: measured,
    seconds: sendSeconds,
    rate: measured / sendSeconds,
    webhooks: latencies.length,
    // Every payment, the warm-up's too, must be told exactly once.
    missing: total - latencies.length - warmupLatencies.length,
    duplicates,
    payErrors,
    latency: { p50: pct(latencies, 50), p99: pct(latencies, 99), max: pct(latencies, 100) },
    payLatency: { p50: pct(payLatencies, 50), p99: pct(payLatencies, 99) },
    slowestSeconds: [...slowestBySecond]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([second, ms]) => ({ second, ms: Math.round(ms) })),
    // Every second's slowest, in order: how long a backlog from the warm-up takes to drain.
    worstBySecond: [...slowestBySecond].sort((a, b) => a[0] - b[0]).map(([, ms]) => Math.round(ms)),
    warmup: { payments: warmup, latency: { p50: pct(warmupLatencies, 50), p99: pct(warmupLatencies, 99), max: pct(warmupLatencies, 100) } },
  }) + '\n',
)
agent.destroy()
receiver.closeAllConnections()
receiver.close()
