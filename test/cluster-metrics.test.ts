// /metrics of a --workers 2 cluster on PostgreSQL: each scrape lands on either worker, and each answers for the
// whole cluster, so counters never jump between the processes' own values (which Prometheus reads as resets).
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { get } from 'node:http'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { POSTGRES_URL, postgresAvailable } from './helpers/databases.ts'
import { WORKER_DEATHS_WINDOW_MS } from '../src/cli/commands/start-workers.ts'
import { exited, runScanPay } from './helpers/cli.ts'
import { freePort } from './helpers/server.ts'
import { eventually } from './helpers/webhook-receiver.ts'

/** A GET on a connection of its own, so the cluster hands each request to a worker afresh. */
function fetchAlone(url: string, timeoutMs = 30_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
      .on('timeout', function (this: { destroy(err: Error): void }) {
        this.destroy(new Error('timed out'))
      })
      .on('error', reject)
  })
}

const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('/metrics of a --workers 2 cluster', { skip: (await postgresAvailable()) ? false : 'PostgreSQL unreachable' }, () => {
  const dbName = `scanpay_cm_${randomBytes(5).toString('hex')}`
  const dbUrl = (() => {
    const u = new URL(POSTGRES_URL)
    u.pathname = `/${dbName}`
    return u.toString()
  })()
  let child: ChildProcess & { output: () => string }
  let url = ''

  before(async () => {
    const admin = new pg.Client({ connectionString: POSTGRES_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${dbName}`)
    await admin.end()
    const port = await freePort()
    url = `http://127.0.0.1:${port}`
    child = runScanPay(['start', '--port', String(port), '--db', dbUrl, '--workers', '2'], {
      NODE_ENV: 'development',
      SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
    })
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`cluster exited:\n${child.output()}`)
      return /2 workers listening/.test(child.output())
    }, 60_000, 'cluster listening')
  })

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM')
      await exited(child)
    }
    const admin = new pg.Client({ connectionString: POSTGRES_URL })
    await admin.connect()
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
    await admin.end()
  })

  it('every scrape answers for both workers: counters summed, process gauges per worker, database gauges once', async () => {
    const REQUESTS = 20
    for (let i = 0; i < REQUESTS; i++) assert.equal((await fetchAlone(`${url}/healthz`)).status, 200)
    let lastScrapes = 0
    const pids = new Set<string>()
    for (let i = 0; i < 6; i++) {
      const { status, body } = await fetchAlone(`${url}/metrics`)
      assert.equal(status, 200)
      // The workers shared the health checks between them; every scrape, whichever worker took it, counts them all.
      assert.equal(sample(body, 'scanpay_http_requests_total{route="/healthz",status="200"}'), REQUESTS, body)
      // Scrapes count themselves once answered: never fewer than the scrapes before this one.
      const scrapes = sample(body, 'scanpay_http_requests_total{route="/metrics",status="200"}') ?? 0
      assert.equal(scrapes, i, body)
      assert.ok(scrapes >= lastScrapes)
      lastScrapes = scrapes
      assert.equal(sample(body, 'scanpay_metrics_workers{state="answered"}'), 2, body)
      assert.equal(sample(body, 'scanpay_metrics_workers{state="silent"}'), 0)
      // One memory sample per worker, told apart by its pid.
      const rss = body.split('\n').filter((l) => l.startsWith('process_resident_memory_bytes{'))
      assert.equal(rss.length, 2, rss.join('\n'))
      for (const l of rss) pids.add(/worker="(\d+)"/.exec(l)![1]!)
      // Read from the database once, not once per worker; and each family is described once.
      assert.equal(body.split('\n').filter((l) => l.startsWith('scanpay_webhook_queue_depth{state="due"}')).length, 1, body)
      assert.equal(body.split('\n').filter((l) => l === '# TYPE scanpay_http_requests_total counter').length, 1)
      assert.equal(sample(body, 'scanpay_database_up'), 1)
    }
    assert.equal(pids.size, 2)
  })

  it('a worker that does not answer is left out after the gather timeout, and the scrape says so', async () => {
    const body = (await fetchAlone(`${url}/metrics`)).body
    const pids = [...body.matchAll(/^process_resident_memory_bytes\{worker="(\d+)"\}/gm)].map((m) => Number(m[1]))
    assert.equal(pids.length, 2)
    process.kill(pids[0]!, 'SIGSTOP')
    try {
      // A scrape handed to the stopped worker hangs; the next connection goes to the other one.
      let answer: { status: number; body: string } | null = null
      for (let i = 0; i < 4 && !answer; i++) {
        const started = Date.now()
        answer = await fetchAlone(`${url}/metrics`, 4000).catch(() => null)
        if (answer) assert.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms`)
      }
      assert.ok(answer, 'a scrape answered')
      assert.equal(answer.status, 200)
      assert.equal(sample(answer.body, 'scanpay_metrics_workers{state="answered"}'), 1, answer.body)
      assert.equal(sample(answer.body, 'scanpay_metrics_workers{state="silent"}'), 1)
      assert.match(answer.body, new RegExp(`^# workers ${pids[0]} did not answer within 1 s`, 'm'))
      // Its counters are those of its last answer: a sum that fell would read as a reset (a false spike in rate()).
      assert.equal(sample(answer.body, 'scanpay_http_requests_total{route="/healthz",status="200"}'), 20, answer.body)
    } finally {
      process.kill(pids[0]!, 'SIGCONT')
    }
  })

  it("a worker that dies leaves its counters in the cluster's sums, so they never fall", async () => {
    const body = (await fetchAlone(`${url}/metrics`)).body
    const pids = [...body.matchAll(/^process_resident_memory_bytes\{worker="(\d+)"\}/gm)].map((m) => Number(m[1]))
    process.kill(pids[0]!, 'SIGKILL')
    let after = ''
    await eventually(async () => {
      const r = await fetchAlone(`${url}/metrics`, 4000).catch(() => null)
      after = r?.body ?? ''
      // The primary has started another worker, and both answer.
      return sample(after, 'scanpay_metrics_workers{state="answered"}') === 2 && !after.includes(`worker="${pids[0]}"`)
    }, 30_000, 'a new worker answering')
    assert.equal(sample(after, 'scanpay_http_requests_total{route="/healthz",status="200"}'), 20, after)
  })

  it('workers that all die at once are replaced: nothing else holds the primary open meanwhile', async () => {
    const body = (await fetchAlone(`${url}/metrics`)).body
    const pids = [...body.matchAll(/^process_resident_memory_bytes\{worker="(\d+)"\}/gm)].map((m) => Number(m[1]))
    assert.equal(pids.length, 2)
    for (const pid of pids) process.kill(pid, 'SIGKILL')
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`the primary exited (${child.exitCode}):\n${child.output()}`)
      const r = await fetchAlone(`${url}/metrics`, 4000).catch(() => null)
      return sample(r?.body ?? '', 'scanpay_metrics_workers{state="answered"}') === 2 && !pids.some((p) => r!.body.includes(`worker="${p}"`))
    }, 30_000, 'two new workers answering')
  })

  // Last: it ends the cluster.
  it('workers that keep dying stop the cluster, which exits 1 for its supervisor to see', async () => {
    const primary = child.pid!
    const workersOf = () => {
      try {
        return execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)
      } catch {
        return []
      }
    }
    const killer = setInterval(() => {
      for (const pid of workersOf()) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch (err) {
          // Listed, then gone before the signal (it died, or the primary stopped it): nothing left to kill.
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
        }
      }
    }, 300)
    try {
      await exited(child)
    } finally {
      clearInterval(killer)
    }
    assert.equal(child.exitCode, 1, child.output())
    assert.match(child.output(), new RegExp(`workers died within ${WORKER_DEATHS_WINDOW_MS / 1000} s: stopping the cluster`))
  })
})
