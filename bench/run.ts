// `npm run bench`: starts real ScanPay server processes, drives them over HTTP on 127.0.0.1 from a separate
// load-generator process (wrk when installed, else autocannon), measures the ceilings of the same machine in the same run (a bare
// node:http server; the raw database inserts), prints one table and writes it to bench/results/.
//
//   npm run bench                      the full run (about 11 minutes on 2 cores)
//   npm run bench -- --quick           a smoke run of a few seconds per scenario (CI proves the bench works)
//   npm run bench -- --only create-sqlite,checkout   some scenario groups only
//   npm run bench -- --profile         also profiles the create-order path (node --cpu-prof) and summarizes it
//   npm run bench -- --soak-seconds 60 a shorter memory soak
//   npm run bench -- --generator autocannon   drive the load with autocannon even when wrk is installed
//   npm run bench -- --create-rounds 7  rounds of the Bearer/signed create pair (default 5; 1 with --quick)
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { NewMerchantCredentials } from '../src/merchants/create-merchant.ts'
import {
  freshPostgres,
  freshSqlite,
  makeMerchants,
  postgresReachable,
  sampleOrders,
  seedEvents,
  seedSqliteOrders,
  type BenchDatabase,
} from './lib/databases.ts'
import { printSummary, summarizeProfile, type ProfileSummary } from './lib/cpu-profile.ts'
import { stealWindow } from './lib/steal.ts'
import { cpuMs, freePort, mainThreadCpuMs, killAll, newMasterKey, ROOT, runJson, sampleRss, sleep, startHelper, startScanPay, stopChild } from './lib/processes.ts'
import { machine, table, writeResults, type Row } from './lib/report.ts'
import { interleavedRounds, median, medianRound, pairedRatio, throughputs } from './lib/rounds.ts'
import { wrkAvailable } from './wrk.mjs'

const GROUPS = ['ceilings', 'create-sqlite', 'checkout', 'create-pg', 'pay-latency', 'pay-latency-pg', 'webhooks', 'webhooks-pg', 'growth', 'soak'] as const
type Group = (typeof GROUPS)[number]

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'soak-seconds': { type: 'string' },
    'growth-orders': { type: 'string' },
    connections: { type: 'string', default: '64' },
    generator: { type: 'string' },
    'create-rounds': { type: 'string', default: '5' },
    'growth-rounds': { type: 'string', default: '5' },
  },
})
const quick = args.quick!
const only = new Set((args.only?.split(',') ?? GROUPS) as Group[])
for (const g of only) if (!GROUPS.includes(g)) throw new Error(`unknown group ${g}; groups: ${GROUPS.join(', ')}`)
const CONNECTIONS = Number(args.connections)
const WARMUP = quick ? 1 : 3
const SECONDS = quick ? 3 : 10
/** Rounds of the Bearer and signed create pair (createSqliteGroup). */
const CREATE_ROUNDS = quick ? 1 : Number(args['create-rounds'])
if (!Number.isInteger(CREATE_ROUNDS) || CREATE_ROUNDS < 1) throw new Error('--create-rounds takes a whole number of at least 1')
const SOAK_SECONDS = Number(args['soak-seconds'] ?? (quick ? 5 : 300))
const GROWTH_ORDERS = Number(args['growth-orders'] ?? (quick ? 50_000 : 1_000_000))
/**
 * Rounds of the webhook group's pair (all endpoints answering, against one more that hangs): five, as for
 * creates, since single pairs of one code on one guest read 0.82–1.07 × (docs/performance.md, twentieth round).
 */
const WEBHOOK_ROUNDS = quick ? 1 : 5
/**
 * Rounds of the growth group's create pair (stored orders against an empty database): five, as for creates, since
 * three pairs of one code read medians of 0.79 to 1.03 × (docs/performance.md, thirtieth round).
 */
const GROWTH_ROUNDS = quick ? 1 : Number(args['growth-rounds'])
if (!Number.isInteger(GROWTH_ROUNDS) || GROWTH_ROUNDS < 1) throw new Error('--growth-rounds takes a whole number of at least 1')
const PAY_SECONDS = quick ? 3 : 30
const WEBHOOKS_PER_MERCHANT = quick ? 500 : 12_500
const RESULTS = join(ROOT, 'bench', 'results')
// wrk (C) costs a fraction of autocannon's CPU per request, and on 2 shared cores that CPU is the server's.
// autocannon stays for the soak, which needs a fixed rate (wrk has none), and where wrk is not installed.
const GENERATOR = (args.generator ?? (wrkAvailable() ? 'wrk' : 'autocannon')) as 'wrk' | 'autocannon'
if (GENERATOR !== 'wrk' && GENERATOR !== 'autocannon') throw new Error(`unknown generator ${GENERATOR}: wrk or autocannon`)

interface LoadResult {
  seconds: number
  requests: number
  allRequests?: number
  rssMb?: number
  cpuUsPerRequest?: number
  /** SQLite: the writer's commits during the run (warm-up included) per request sent. */
  commitsPerRequest?: number
  ok: number
  throughput: number
  latency: { p50: number; p90?: number; p99: number; max: number }
  errors: number
  statusCodes?: Record<string, number>
}

const rows: Row[] = []
const extra: Record<string, unknown> = {}
const log = (...a: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a)

function load(spec: Record<string, unknown>): Promise<LoadResult> {
  return runJson<LoadResult>([join(ROOT, 'bench', 'load-generator.mjs'), JSON.stringify({ warmupSeconds: WARMUP, seconds: SECONDS, connections: CONNECTIONS, generator: GENERATOR, ...spec })])
}

/** Runs the load against a server process, and reads its peak RSS and CPU time per request meanwhile. */
/** With countCommits, spec.url is a ScanPay server on SQLite whose writer's commits are counted too. */
async function loadOn(pid: number, spec: Record<string, unknown>, countCommits = false): Promise<LoadResult> {
  const cpu0 = cpuMs(pid)
  const commits0 = countCommits ? await sqliteCommits(String(spec.url)) : null
  const rss = sampleRss(pid)
  const r = await load(spec)
  const rssPeak = rss.stop()
  const n = r.allRequests ?? r.requests
  const commits = commits0 === null ? null : (await sqliteCommits(String(spec.url)))! - commits0
  // CPU time is robust to other work on the machine where throughput is not: it says what a request costs.
  // Commits per request count, whatever the machine's speed, how many fsyncs the group commit saved.
  return { ...r, rssMb: rssPeak, cpuUsPerRequest: ((cpuMs(pid) - cpu0) * 1000) / n, ...(commits !== null ? { commitsPerRequest: commits / n } : {}) }
}

/** The SQLite writer's commits so far, from the server's /metrics; null on PostgreSQL. */
async function sqliteCommits(url: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const m = /^scanpay_sqlite_commits_total (\d+)$/m.exec(text)
  return m ? Number(m[1]) : null
}

function raw(spec: Record<string, unknown>): Promise<LoadResult> {
  return runJson<LoadResult>(['--import', 'tsx', join(ROOT, 'bench', 'ceilings', 'raw-insert.ts'), JSON.stringify(spec)])
}

function row(scenario: string, r: LoadResult, extraFields: Partial<Row> = {}): Row {
  const out: Row = {
    scenario,
    throughput: r.throughput,
    unit: '/s',
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    ...(r.rssMb !== undefined ? { rssMb: r.rssMb } : {}),
    ...(r.cpuUsPerRequest !== undefined ? { cpuUsPerRequest: r.cpuUsPerRequest } : {}),
    ...extraFields,
  }
  rows.push(out)
  log(`${scenario}: ${Math.round(r.throughput)}/s p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms errors ${r.errors}`)
  return out
}

/**
 * With --profile, each ScanPay server a scenario starts runs under `node --cpu-prof`; once it has stopped, its
 * profile is summarized into the results (self time by area and by function) and printed.
 */
const profiles: Record<string, ProfileSummary & { file: string }> = {}
function profileFlags(name: string): string[] {
  if (!args.profile) return []
  const dir = join(RESULTS, 'profiles', name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return ['--cpu-prof', '--cpu-prof-dir', dir]
}
function collectProfile(name: string, title: string): void {
  if (!args.profile) return
  const dir = join(RESULTS, 'profiles', name)
  // The main thread's profile; tsx's loader thread writes a second one, which is not ScanPay's work.
  const file = readdirSync(dir).find((f) => f.endsWith('.0.001.cpuprofile')) ?? readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) return log(`no CPU profile for ${name} (the server did not exit cleanly)`)
  const summary = summarizeProfile(join(dir, file))
  profiles[name] = { file: `bench/results/profiles/${name}/${file}`, ...summary }
  console.log(`\nCPU profile of the server during ${title}:\n${printSummary(summary)}\n`)
}

const ceilings: { http?: number; sqlite?: number; postgres?: number } = {}

async function ceilingsGroup() {
  log('ceiling: bare node:http')
  const bare = await startHelper([join(ROOT, 'bench', 'ceilings', 'bare-http.mjs'), String(await freePort())])
  const r = await loadOn(bare.pid, { url: `http://127.0.0.1:${bare.port}/v1/orders`, kind: 'post-json', path: '/v1/orders' })
  await stopChild(bare.child)
  ceilings.http = r.throughput
  row('ceiling: bare node:http, POST JSON', r, { note: 'parses the same JSON body, answers small JSON' })

  const rawSeconds = quick ? 2 : 5
  for (const [label, spec] of [
    ['ceiling: raw SQLite insert, 1 tx/order, FULL', { synchronous: 'FULL' }],
    ['raw SQLite insert + nonce, 1 tx/order, FULL', { synchronous: 'FULL', nonce: true }],
    ['raw SQLite insert, 1 tx/order, NORMAL', { synchronous: 'NORMAL' }],
    ['raw SQLite insert, 64 orders/tx, FULL', { synchronous: 'FULL', perTransaction: 64 }],
  ] as const) {
    const db = freshSqlite()
    log(label)
    const r2 = await raw({ url: db.url, seconds: rawSeconds, concurrency: 1, ...spec })
    await db.drop()
    if (label.startsWith('ceiling')) ceilings.sqlite = r2.throughput
    row(label, r2, { unit: 'orders/s', note: 'better-sqlite3 directly, one process, WAL' })
  }
}

/** A fresh SQLite database with one merchant, and a ScanPay server on it. */
async function freshSqliteServer(profileName: string) {
  const db = freshSqlite()
  const masterKey = newMasterKey()
  const [m] = await makeMerchants(db.url, masterKey, [{ name: 'Bench Shop', webhookUrl: null }])
  const server = await startScanPay({ db: db.url, masterKey, nodeFlags: profileFlags(profileName) })
  return { db, m: m!, server }
}

async function createSqliteGroup() {
  // Bearer and signed creates are compared in rounds, each pair within the same minute, in alternating order
  // (Bearer first, then signed first, ...), and each scenario's figure is the median of its rounds. This
  // machine's speed moves by a third within minutes: one run of each, minutes apart, gave ratios from 0.77 to
  // 0.97 for the same code, which said which minute each ran in, not what a signature costs.
  // Each run starts from an empty database on a new server: run second on the first one's orders, either
  // scenario measured 10-20 % slower (larger indexes, a WAL further along).
  const bearerRuns: LoadResult[] = []
  const hmacRuns: LoadResult[] = []
  let last: (Awaited<ReturnType<typeof freshSqliteServer>> & { kind: string }) | null = null
  for (let round = 1; round <= CREATE_ROUNDS; round++) {
    const order = round % 2 === 1 ? (['bearer', 'hmac'] as const) : (['hmac', 'bearer'] as const)
    for (const kind of order) {
      const isLast = round === CREATE_ROUNDS && kind === order[1]
      const name = `create-sqlite-${kind}`
      const run = await freshSqliteServer(name)
      log(`create order, ${kind === 'bearer' ? 'Bearer' : 'HMAC'}, SQLite, round ${round} of ${CREATE_ROUNDS}`)
      const r = await loadOn(
        run.server.pid,
        { url: run.server.url, kind: `create-${kind}`, secret: run.m.test.secret, ...(kind === 'hmac' ? { keyId: run.m.test.key_id } : {}) },
        true,
      )
      log(`  ${Math.round(r.throughput)}/s p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms errors ${r.errors} peak RSS ${Math.round(r.rssMb ?? 0)} MB`)
      ;(kind === 'bearer' ? bearerRuns : hmacRuns).push(r)
      // The last run's server and orders stay up for the checkout reads.
      if (isLast) {
        last = { ...run, kind }
        continue
      }
      await run.server.stop()
      if (round === CREATE_ROUNDS) collectProfile(name, `the last ${kind === 'bearer' ? 'Bearer' : 'HMAC'} create-order run`)
      await run.db.drop()
    }
  }
  const bearer = medianRound(bearerRuns)
  const hmac = medianRound(hmacRuns)
  // Paired: each round's signed figure against the Bearer figure of the same minute.
  const { ratios, median: ratio } = pairedRatio(bearerRuns, hmacRuns)
  const errors = (runs: LoadResult[]) => runs.reduce((n, r) => n + r.errors, 0)
  const figures = (r: LoadResult) => ({
    throughput: r.throughput,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    cpuUsPerRequest: r.cpuUsPerRequest,
    commitsPerRequest: r.commitsPerRequest,
    // Each round's own peak: the memory row reports the highest, and this says which round it was.
    rssMb: r.rssMb,
  })
  extra.createSqliteRounds = { rounds: CREATE_ROUNDS, bearer: bearerRuns.map(figures), hmac: hmacRuns.map(figures), ratios }
  const commits = (runs: LoadResult[]) => median(runs.map((r) => r.commitsPerRequest ?? 0)).toFixed(3)
  const roundsNote = (runs: LoadResult[]) =>
    `${CREATE_ROUNDS > 1 ? `median of ${CREATE_ROUNDS} rounds: ${throughputs(runs)}; ` : ''}${commits(runs)} commits per request`
  row(`create order, Bearer, SQLite, ${CONNECTIONS} conns`, { ...bearer, errors: errors(bearerRuns) }, {
    unit: 'orders/s',
    ceiling: 'bare http',
    ratio: ceilings.http ? bearer.throughput / ceilings.http : null,
    target: '≥ 10,000/s, p99 ≤ 20 ms, 0 errors, ≥ 0.25 × http',
    met: bearer.throughput >= 10_000 && bearer.latency.p99 <= 20 && errors(bearerRuns) === 0 && (!ceilings.http || bearer.throughput >= 0.25 * ceilings.http),
    note: roundsNote(bearerRuns),
  })
  row(`create order, HMAC-signed, SQLite, ${CONNECTIONS} conns`, { ...hmac, errors: errors(hmacRuns) }, {
    unit: 'orders/s',
    ceiling: 'Bearer',
    ratio,
    target: '≥ 0.9 × Bearer',
    met: ratio >= 0.9 && errors(hmacRuns) === 0,
    note: `${roundsNote(hmacRuns)}${CREATE_ROUNDS > 1 ? `; ratio: the median of each round's pair (${ratios.map((x) => x.toFixed(2)).join(', ')})` : ''}`,
  })
  const peakRss = (runs: LoadResult[]) => Math.max(...runs.map((r) => r.rssMb!))
  extra.memoryUnderCreateLoad = { bearerPeakMb: peakRss(bearerRuns), hmacPeakMb: peakRss(hmacRuns) }
  const rss = Math.max(peakRss(bearerRuns), peakRss(hmacRuns))
  rows.push({
    scenario: 'memory: peak RSS under create-order load',
    throughput: null,
    unit: '',
    p50: null,
    p99: null,
    errors: null,
    rssMb: rss,
    target: '≤ 250 MB',
    met: rss <= 250,
  })
  // The checkout reads the orders the last create run made.
  const { db, m, server, kind } = last!
  if (only.has('checkout')) await checkoutGroup(server.url, server.pid, db, m)
  await server.stop()
  collectProfile(`create-sqlite-${kind}`, `the last ${kind === 'bearer' ? 'Bearer' : 'HMAC'} create-order run and the checkout reads`)
  await db.drop()
}

async function checkoutGroup(url: string, pid: number, db: BenchDatabase, m: NewMerchantCredentials) {
  const sample = await sampleOrders(db.url, m.merchant_id, 2000)
  for (const [label, suffix, target, min] of [
    ['checkout page view GET /pay/{token}', '', '≥ 15,000/s', 15_000],
    ['status poll GET /pay/{token}/status', '/status', '≥ 20,000/s', 20_000],
  ] as const) {
    const probe = await fetch(`${url}/pay/${sample[0]!.token}${suffix}`)
    await probe.arrayBuffer()
    if (probe.status !== 200) {
      log(`${label}: answers ${probe.status}, not measured`)
      rows.push({ scenario: label, throughput: null, unit: '/s', p50: null, p99: null, errors: null, target, met: null, note: `answers ${probe.status}: not built yet` })
      continue
    }
    log(label)
    const r = await loadOn(pid, { url, kind: 'get', paths: sample.map((s) => `/pay/${s.token}${suffix}`) })
    row(label, r, { ceiling: 'bare http', ratio: ceilings.http ? r.throughput / ceilings.http : null, target, met: r.throughput >= min && r.errors === 0 })
  }
}

async function createPgGroup() {
  if (!(await postgresReachable())) {
    log('PostgreSQL unreachable: skipping')
    rows.push({ scenario: 'create order, PostgreSQL', throughput: null, unit: '', p50: null, p99: null, errors: null, note: 'PostgreSQL unreachable' })
    return
  }
  // The ceiling sends what ScanPay sends for one order: the lone INSERT, in autocommit. The same INSERT inside
  // BEGIN … COMMIT is measured beside it, to show what the two extra round trips cost.
  const rawDb = await freshPostgres()
  log(`ceiling: raw PostgreSQL insert, ${CONNECTIONS} clients`)
  const ceiling = await raw({ url: rawDb.url, seconds: quick ? 2 : 5, concurrency: CONNECTIONS, autocommit: true })
  const explicit = await raw({ url: rawDb.url, seconds: quick ? 2 : 5, concurrency: CONNECTIONS })
  await rawDb.drop()
  ceilings.postgres = ceiling.throughput
  row(`ceiling: raw PostgreSQL insert, autocommit, ${CONNECTIONS} clients`, ceiling, { unit: 'orders/s', note: 'pg directly, the statement ScanPay sends' })
  row(`raw PostgreSQL insert, BEGIN/INSERT/COMMIT, ${CONNECTIONS} clients`, explicit, { unit: 'orders/s', note: 'pg directly, explicit transaction' })

  for (const workers of [1, 2]) {
    const db = await freshPostgres()
    const masterKey = newMasterKey()
    const [m] = await makeMerchants(db.url, masterKey, [{ name: 'Bench Shop', webhookUrl: null }])
    const server = await startScanPay({ db: db.url, masterKey, workers: workers > 1 ? workers : undefined, nodeFlags: workers > 1 ? [] : profileFlags('create-pg') })
    log(`create order, Bearer, PostgreSQL, ${workers} worker(s)`)
    const r = await loadOn(server.pid, { url: server.url, kind: 'create-bearer', secret: m!.test.secret })
    await server.stop()
    await db.drop()
    if (workers === 1) collectProfile('create-pg', 'the PostgreSQL create-order run')
    row(`create order, Bearer, PostgreSQL, ${CONNECTIONS} conns${workers > 1 ? `, --workers ${workers}` : ''}`, r, {
      unit: 'orders/s',
      ceiling: 'raw pg',
      ratio: r.throughput / ceiling.throughput,
      ...(workers === 1
        ? { target: '≥ 5,000/s and ≥ 0.5 × raw pg', met: r.throughput >= 5_000 && r.throughput >= 0.5 * ceiling.throughput && r.errors === 0 }
        : { note: 'two full nodes on one PostgreSQL, same 2 cores' }),
    })
  }
}

/** The same on PostgreSQL (one process), for deployments of several nodes; no target of its own. */
async function payLatencyPgGroup() {
  if (!(await postgresReachable())) {
    log('PostgreSQL unreachable: skipping')
    return
  }
  await payLatencyGroup(true)
}

async function payLatencyGroup(postgres = false) {
  const db = postgres ? await freshPostgres() : freshSqlite()
  const masterKey = newMasterKey()
  const [m] = await makeMerchants(db.url, masterKey, [{ name: 'Bench Shop', webhookUrl: null }])
  const name = postgres ? 'pay-latency-pg' : 'pay-latency'
  const on = postgres ? ', PostgreSQL' : ''
  // Development mode: the receiver is on loopback, which production refuses as a webhook target.
  const server = await startScanPay({ db: db.url, masterKey, nodeEnv: 'development', nodeFlags: profileFlags(name) })
  log(`pay → order.paid webhook${on}, 500/s for ${PAY_SECONDS} s`)
  const rss = sampleRss(server.pid)
  const r = await runJson<{
    payments: number
    rate: number
    webhooks: number
    missing: number
    duplicates: number
    payErrors: number
    latency: { p50: number; p99: number; max: number }
    payLatency: { p50: number; p99: number }
    slowestSeconds: { second: number; ms: number }[]
    worstBySecond: number[]
    warmup: { payments: number; latency: { p50: number | null; p99: number | null; max: number | null } }
  }>([join(ROOT, 'bench', 'pay-driver.mjs'), JSON.stringify({ url: server.url, secret: m!.test.secret, rate: 500, seconds: PAY_SECONDS, warmupSeconds: WARMUP })])
  const peak = rss.stop()
  const commits = postgres ? 'PostgreSQL commits its own writes' : await slowCommits(server.url)
  await server.stop()
  await db.drop()
  collectProfile(name, `the pay → webhook run${on}`)
  extra[postgres ? 'payLatencyPostgres' : 'payLatency'] = r
  const met = r.latency.p50 !== null && r.latency.p50 <= 20 && r.latency.p99 <= 100 && r.missing === 0 && r.payErrors === 0
  rows.push({
    scenario: `pay → order.paid received${on}, ${Math.round(r.rate)} payments/s for ${PAY_SECONDS} s`,
    throughput: r.rate,
    unit: 'payments/s',
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.payErrors + r.missing + r.duplicates,
    rssMb: peak,
    // The target is read on the default database; on PostgreSQL the row says how the same load fares.
    ...(postgres ? {} : { target: 'p50 ≤ 20 ms, p99 ≤ 100 ms', met }),
    note: `pay request itself p50 ${r.payLatency.p50?.toFixed(1)} ms, p99 ${r.payLatency.p99?.toFixed(1)} ms; the ${WARMUP} s warm-up before (${r.warmup.payments} payments, not in the figures): p50 ${r.warmup.latency.p50?.toFixed(1)} ms, p99 ${r.warmup.latency.p99?.toFixed(1)} ms; ${commits}`,
  })
  log(`pay latency${on} p50 ${r.latency.p50?.toFixed(1)} p99 ${r.latency.p99?.toFixed(1)} missing ${r.missing}; warm-up p99 ${r.warmup.latency.p99?.toFixed(1)}`)
  log(`slowest seconds (from the first pay, warm-up included): ${r.slowestSeconds.map((s) => `${s.second} s: ${s.ms} ms`).join(', ')}; ${commits}`)
  log(`each second's slowest, ms: ${r.worstBySecond.join(' ')}`)
}

/**
 * How many of the server's SQLite commits took over 100 ms (its /metrics histogram): a disk that stalls holds
 * up every write waiting for that commit, whatever ScanPay does, and shows here.
 */
async function slowCommits(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const bucket = (le: string) => Number(text.match(new RegExp(`^scanpay_sqlite_commit_seconds_bucket\\{le="${le}"\\} (\\d+)$`, 'm'))?.[1])
  const all = bucket('\\+Inf')
  if (!Number.isFinite(all)) return 'commit times not reported'
  return `commits over 100 ms: ${all - bucket('0.1')} of ${all} (over 500 ms: ${all - bucket('0.5')})`
}

/**
 * Times GET /healthz, one at a time with 2 ms between, until stopped: how long the server's main thread makes an
 * API request wait while it does other work (here, draining a webhook backlog).
 */
function probeLatency(url: string) {
  const ms: number[] = []
  let running = true
  const done = (async () => {
    while (running) {
      const started = performance.now()
      await (await fetch(`${url}/healthz`)).text()
      ms.push(performance.now() - started)
      await sleep(2)
    }
  })()
  return {
    async stop() {
      running = false
      await done
      return { p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), count: ms.length }
    },
  }
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

type WebhookRunResult = Awaited<ReturnType<typeof webhookRun>>

async function webhookRun(healthy: number, hanging: number, { probe = false, postgres = false, workers = 1 } = {}) {
  // One origin per merchant endpoint, as distinct merchants' servers would be.
  const sink = await startHelper([join(ROOT, 'bench', 'webhook-sink.mjs'), String(healthy + hanging)])
  const base = `http://127.0.0.1:${sink.port}`
  const origin = (i: number) => `http://127.0.0.1:${sink.ports[i]}`
  const db = postgres ? await freshPostgres() : freshSqlite()
  const masterKey = newMasterKey()
  const specs = [
    ...Array.from({ length: healthy }, (_, i) => ({ name: `ok${i}`, webhookUrl: `${origin(i)}/ok/${i}` })),
    ...Array.from({ length: hanging }, (_, i) => ({ name: `hang${i}`, webhookUrl: `${origin(healthy + i)}/hang/${i}` })),
  ]
  const merchants = await makeMerchants(db.url, masterKey, specs)
  await seedEvents(db, merchants.map((m, i) => ({ id: m.merchant_id, notifyUrl: specs[i]!.webhookUrl })), WEBHOOKS_PER_MERCHANT)
  const server = await startScanPay({ db: db.url, masterKey, nodeEnv: 'development', workers: workers > 1 ? workers : undefined, nodeFlags: profileFlags(`webhooks-${hanging}`) })
  const rss = sampleRss(server.pid)
  const want = healthy * WEBHOOKS_PER_MERCHANT
  type Stats = Record<string, { count: number; distinct: number; first: number; last: number }>
  let stats: Stats = {}
  const deadline = Date.now() + (quick ? 60_000 : 120_000)
  // CPU per delivery, of the server and of the sink, from the first look on (start-up is not delivery work).
  const cpu0 = { server: cpuMs(server.pid), main: mainThreadCpuMs(server.pid), sink: cpuMs(sink.pid) }
  let got0: number | null = null
  let got = 0
  const probing = probe ? probeLatency(server.url) : null
  for (;;) {
    stats = (await (await fetch(`${base}/__stats`)).json()) as Stats
    got = Object.entries(stats).filter(([p]) => p.startsWith('/ok/')).reduce((n, [, s]) => n + s.count, 0)
    got0 ??= got
    if (got >= want || Date.now() > deadline) break
    await sleep(100)
  }
  const apiLatency = await probing?.stop()
  const counted = Math.max(1, got - got0!)
  const cpuUsPerDelivery = ((cpuMs(server.pid) - cpu0.server) * 1000) / counted
  const mainCpuUsPerDelivery = ((mainThreadCpuMs(server.pid) - cpu0.main) * 1000) / counted
  const sinkCpuUsPerDelivery = ((cpuMs(sink.pid) - cpu0.sink) * 1000) / counted
  const peak = rss.stop()
  await server.stop()
  collectProfile(`webhooks-${hanging}`, `webhook delivery (${healthy} endpoints answering, ${hanging} hanging)`)
  await stopChild(sink.child)
  await db.drop()
  const ok = Object.entries(stats).filter(([p]) => p.startsWith('/ok/')).map(([, s]) => s)
  const delivered = ok.reduce((n, s) => n + s.count, 0)
  const distinct = ok.reduce((n, s) => n + s.distinct, 0)
  const first = Math.min(...ok.map((s) => s.first))
  const last = Math.max(...ok.map((s) => s.last))
  return {
    delivered,
    want,
    duplicates: delivered - distinct,
    seconds: (last - first) / 1000,
    throughput: delivered / Math.max(0.001, (last - first) / 1000),
    rssMb: peak,
    cpuUsPerDelivery,
    mainCpuUsPerDelivery,
    sinkCpuUsPerDelivery,
    apiLatency,
  }
}

async function webhooksGroup() {
  // Endpoints that all answer, against the same with one more merchant whose endpoint hangs, in interleaved
  // rounds paired by round (as the create-sqlite group pairs its two kinds): one run of each had read the
  // hang's cost at 0.80–1.04 × in full runs of one code on one guest.
  let round = 0
  const run = (hanging: number) => async () => {
    log(`webhook delivery: 4 merchants × ${WEBHOOKS_PER_MERCHANT} events, endpoints answer 200${hanging ? ', and one merchant whose endpoint hangs' : ''}; round ${Math.ceil(++round / 2)} of ${WEBHOOK_ROUNDS}`)
    const r = await webhookRun(4, hanging)
    log(`  ${Math.round(r.throughput)}/s, ${Math.round(r.cpuUsPerDelivery)} µs of server CPU a delivery (main thread ${Math.round(r.mainCpuUsPerDelivery)})`)
    return r
  }
  const { a: baseRuns, b: hangRuns } = await interleavedRounds(WEBHOOK_ROUNDS, run(0), run(1))
  const base = medianRound(baseRuns)
  const hang = medianRound(hangRuns)
  const { ratios, median: ratio } = pairedRatio(baseRuns, hangRuns)
  const lost = (runs: WebhookRunResult[]) => runs.reduce((n, r) => n + r.want - r.delivered + r.duplicates, 0)
  const rounds = (runs: WebhookRunResult[]) => (WEBHOOK_ROUNDS > 1 ? `median of ${WEBHOOK_ROUNDS} rounds: ${throughputs(runs)}; ` : '')
  rows.push({
    scenario: `webhook delivery, 4 endpoints answering 200`,
    throughput: base.throughput,
    unit: 'deliveries/s',
    p50: null,
    p99: null,
    errors: lost(baseRuns),
    rssMb: base.rssMb,
    cpuUsPerRequest: base.cpuUsPerDelivery,
    note: `${rounds(baseRuns)}server main thread ${Math.round(base.mainCpuUsPerDelivery)} µs, sink ${Math.round(base.sinkCpuUsPerDelivery)} µs CPU per delivery`,
    target: '≥ 5,000/s',
    met: base.throughput >= 5_000 && lost(baseRuns) === 0,
  })
  rows.push({
    scenario: `webhook delivery, same + 1 endpoint that hangs`,
    throughput: hang.throughput,
    unit: 'deliveries/s',
    p50: null,
    p99: null,
    errors: lost(hangRuns),
    ceiling: 'no hang',
    ratio,
    rssMb: hang.rssMb,
    cpuUsPerRequest: hang.cpuUsPerDelivery,
    note: `${rounds(hangRuns)}server main thread ${Math.round(hang.mainCpuUsPerDelivery)} µs, sink ${Math.round(hang.sinkCpuUsPerDelivery)} µs CPU per delivery${WEBHOOK_ROUNDS > 1 ? `; ratio: the median of each round's pair (${ratios.map((x) => x.toFixed(2)).join(', ')})` : ''}`,
    target: 'others lose < 10 %',
    met: ratio >= 0.9 && lost(hangRuns) === 0,
  })
  log(`webhooks: ${Math.round(base.throughput)}/s; with a hanging endpoint ${Math.round(hang.throughput)}/s, ${ratio.toFixed(2)} × (pairs ${ratios.map((x) => x.toFixed(2)).join(', ')})`)
  log('API requests while the 4 endpoints\' backlog drains')
  const busy = await webhookRun(4, 0, { probe: true })
  const api = busy.apiLatency!
  rows.push({
    scenario: `GET /healthz while that webhook backlog drains, one at a time`,
    throughput: null,
    unit: '',
    p50: api.p50,
    p99: api.p99,
    errors: 0,
    note: `${api.count} requests; the drain meanwhile: ${Math.round(busy.throughput)} deliveries/s`,
  })
  log(`/healthz during a drain: p50 ${api.p50?.toFixed(1)} p99 ${api.p99?.toFixed(1)} ms`)
  extra.webhooks = { base, hang, busy, rounds: { base: baseRuns.map((r) => r.throughput), hang: hangRuns.map((r) => r.throughput), ratios } }
}

/** The same delivery on PostgreSQL, by one process and by two (each due event claimed by exactly one). */
async function webhooksPgGroup() {
  if (!(await postgresReachable())) {
    log('PostgreSQL unreachable: skipping')
    return
  }
  const runs = []
  for (const workers of [1, 2]) {
    const label = workers === 1 ? '' : `, --workers ${workers}`
    log(`webhook delivery on PostgreSQL${label}: 4 merchants × ${WEBHOOKS_PER_MERCHANT} events`)
    const r = await webhookRun(4, 0, { postgres: true, workers })
    rows.push({
      scenario: `webhook delivery, PostgreSQL, 4 endpoints answering 200${label}`,
      throughput: r.throughput,
      unit: 'deliveries/s',
      p50: null,
      p99: null,
      errors: r.want - r.delivered + r.duplicates,
      rssMb: r.rssMb,
      cpuUsPerRequest: r.cpuUsPerDelivery,
      // PostgreSQL's own CPU is not in the server's figure; with several workers the parent's main thread is idle.
      note: `${workers === 1 ? `server main thread ${Math.round(r.mainCpuUsPerDelivery)} µs, ` : ''}sink ${Math.round(r.sinkCpuUsPerDelivery)} µs CPU per delivery; PostgreSQL's own CPU not counted`,
    })
    log(`webhooks on PostgreSQL${label}: ${Math.round(r.throughput)}/s, ${Math.round(r.cpuUsPerDelivery)} µs of server CPU a delivery, ${r.duplicates} delivered twice`)
    runs.push({ workers, ...r })
  }
  extra.webhooksPostgres = runs
}

async function growthGroup() {
  const db = freshSqlite()
  const masterKey = newMasterKey()
  const [m] = await makeMerchants(db.url, masterKey, [{ name: 'Old Shop', webhookUrl: null }])
  log(`growth: seeding ${GROWTH_ORDERS.toLocaleString()} orders by direct SQL`)
  const seedSeconds = seedSqliteOrders(db.url, m!.merchant_id, GROWTH_ORDERS)
  log(`seeded in ${seedSeconds.toFixed(1)} s`)
  // Seeding writes without syncing: its hundreds of MB would otherwise go to the disk during the first rounds, a
  // cost of the set-up, not of creating orders beside a million old ones.
  execFileSync('sync')
  const sample = await sampleOrders(db.url, m!.merchant_id, 2000)
  // Creates on the stored orders against creates on an empty database, in interleaved rounds (who goes first
  // swaps every round) and paired by round, as the create-sqlite group pairs its two kinds: one run of each, even
  // in the same minute, read 0.78 and 1.07 × in two full runs of the same code on one guest. Each empty run has
  // a new database; the stored orders stay, and each round of creates adds to them.
  const label = `${(GROWTH_ORDERS / 1e6).toLocaleString()} M`
  let round = 0
  const onEmpty = async () => {
    log(`growth: create order on an empty database, round ${Math.ceil(++round / 2)} of ${GROWTH_ROUNDS}`)
    const empty = await freshSqliteServer('growth-empty')
    const r = await loadOn(empty.server.pid, { url: empty.server.url, kind: 'create-bearer', secret: empty.m.test.secret })
    await empty.server.stop()
    await empty.db.drop()
    return r
  }
  const onStored = async () => {
    log(`growth: create order on ${label} stored orders, round ${Math.ceil(++round / 2)} of ${GROWTH_ROUNDS}`)
    const stored = await startScanPay({ db: db.url, masterKey })
    const r = await loadOn(stored.pid, { url: stored.url, kind: 'create-bearer', secret: m!.test.secret })
    await stored.stop()
    return r
  }
  const { a: emptyRuns, b: storedRuns } = await interleavedRounds(GROWTH_ROUNDS, onEmpty, onStored)
  const create = medianRound(storedRuns)
  const { ratios, median: ratio } = pairedRatio(emptyRuns, storedRuns)
  row(`growth: create order, ${label} orders stored`, { ...create, errors: storedRuns.reduce((n, r) => n + r.errors, 0) }, {
    unit: 'orders/s',
    ceiling: 'empty db',
    ratio,
    target: 'within 15 % of empty',
    met: ratio >= 0.85 && storedRuns.every((r) => r.errors === 0),
    note: `rounds on the stored orders ${throughputs(storedRuns)}/s, on an empty database ${throughputs(emptyRuns)}/s; ratio: the median of each round's pair (${ratios.map((x) => x.toFixed(2)).join(', ')})`,
  })
  const server = await startScanPay({ db: db.url, masterKey, nodeFlags: profileFlags('growth-reads') })
  const url = server.url
  // Latency targets are read at a moderate load (8 connections), not at saturation where queueing dominates.
  for (const [name, paths, target, max] of [
    ['get by id', sample.map((s) => `/v1/orders/${s.id}`), 'p99 ≤ 5 ms', 5],
    ['get by out_trade_no', sample.map((s) => `/v1/orders?out_trade_no=${encodeURIComponent(s.outTradeNo)}`), 'p99 ≤ 5 ms', 5],
    ['list page of 50', ['/v1/orders?limit=50', '/v1/orders?status=paid&limit=50', `/v1/orders?limit=50&created_lt=${Math.floor(Date.now() / 1000) - 86400 * 10}`], 'p99 ≤ 10 ms', 10],
  ] as const) {
    const r = await loadOn(server.pid, { url, kind: 'get', paths, secret: m!.test.secret, connections: 8 })
    row(`growth: ${name}, ${label} stored, 8 conns`, r, { target, met: r.latency.p99 <= max && r.errors === 0 })
  }
  await server.stop()
  await db.drop()
  collectProfile('growth-reads', 'the reads on a million stored orders')
  extra.growth = { orders: GROWTH_ORDERS, seedSeconds, createRounds: { stored: storedRuns.map((r) => r.throughput), empty: emptyRuns.map((r) => r.throughput), ratios } }
}

async function soakGroup() {
  // The group before may have left the disk busy writing back (the growth group writes and deletes a database
  // of a million orders): the soak's first seconds then read a stall that is not ScanPay's.
  execFileSync('sync')
  await sleep(3000)
  const db = freshSqlite()
  const masterKey = newMasterKey()
  const [m] = await makeMerchants(db.url, masterKey, [{ name: 'Soak Shop', webhookUrl: null }])
  const server = await startScanPay({ db: db.url, masterKey })
  const rate = 2000
  log(`memory soak: create orders at ${rate}/s for ${SOAK_SECONDS} s`)
  const rss = sampleRss(server.pid, 2000)
  const r = await runJson<LoadResult>([
    join(ROOT, 'bench', 'load-generator.mjs'),
    JSON.stringify({ url: server.url, kind: 'create-bearer', secret: m!.test.secret, connections: CONNECTIONS, seconds: SOAK_SECONDS, warmupSeconds: 0, overallRate: rate }),
  ])
  const peak = rss.stop()
  await server.stop()
  await db.drop()
  // Growth: the last tenth of the soak against the samples after the first tenth (the heap has warmed up).
  const s = rss.samples.map((x) => x.mb)
  const tenth = Math.max(1, Math.floor(s.length / 10))
  const early = Math.max(...s.slice(tenth, 2 * tenth))
  const late = Math.max(...s.slice(-tenth))
  const growth = late / early - 1
  extra.soak = { seconds: SOAK_SECONDS, rate, samples: rss.samples, earlyMb: early, lateMb: late, growth }
  row(`memory soak: create at ${rate}/s for ${SOAK_SECONDS} s`, r, {
    unit: 'orders/s',
    rssMb: peak,
    target: 'RSS growth ≤ 10 %',
    met: growth <= 0.1 && r.errors === 0,
    note: `RSS ${early.toFixed(0)} MB after warm-up → ${late.toFixed(0)} MB at the end (${(growth * 100).toFixed(1)} %)`,
  })
  log(`soak RSS ${early.toFixed(0)} → ${late.toFixed(0)} MB`)
}

const started = Date.now()
const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100)
const busy = loadavg()[0]! > cpus().length * 0.5
if (busy) log(`the machine is busy before the run (load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores): expect low figures`)
process.on('SIGINT', () => {
  killAll()
  process.exit(130)
})
/** Runs a group of scenarios and marks its rows with the share of CPU the host took meanwhile. */
async function group(run: () => Promise<void>): Promise<void> {
  const first = rows.length
  const stolen = stealWindow()
  await run()
  const share = stolen()
  for (const row of rows.slice(first)) row.stealPct = share === null ? null : share * 100
  if (share !== null && share >= 0.05) log(`the host took ${(share * 100).toFixed(1)} % of the CPU during these scenarios: their figures read low`)
}

try {
  if (only.has('ceilings')) await group(ceilingsGroup)
  if (only.has('create-sqlite')) await group(createSqliteGroup)
  if (only.has('create-pg')) await group(createPgGroup)
  if (only.has('pay-latency')) await group(() => payLatencyGroup())
  if (only.has('pay-latency-pg')) await group(payLatencyPgGroup)
  if (only.has('webhooks')) await group(webhooksGroup)
  if (only.has('webhooks-pg')) await group(webhooksPgGroup)
  if (only.has('growth')) await group(growthGroup)
  if (only.has('soak') && SOAK_SECONDS > 0) await group(soakGroup)
} finally {
  killAll()
}
const record = {
  at: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  groups: [...only],
  seconds: Math.round((Date.now() - started) / 1000),
  machine: { ...machine(), loadavgAtStart: loadAtStart },
  settings: { connections: CONNECTIONS, warmupSeconds: WARMUP, seconds: SECONDS, loadGenerator: `${GENERATOR === 'wrk' ? 'wrk 4 (2 threads)' : 'autocannon 9'} in its own process; the soak: autocannon 9 at a fixed rate` },
  rows,
  ...extra,
  ...(args.profile ? { profiles } : {}),
}
console.log(`\nScanPay benchmark (${record.mode}, ${record.seconds} s) on ${record.machine.nproc} × ${record.machine.cpu}, ${record.machine.ramGb} GB, Node ${record.machine.node}, load from ${GENERATOR}\n`)
console.log(table(rows))
// Only a complete full run becomes latest.json; a smoke run, a partial one, or one slowed by the profiler is
// kept under its own name.
const label = quick ? 'quick' : args.only ? 'partial' : args.profile ? 'profile' : null
const file = writeResults(RESULTS, record, label)
console.log(`\nwritten to ${file.slice(ROOT.length + 1)}${label === null ? ' and bench/results/latest.json, latest.md' : ''}`)
// The smoke run proves the benchmark still works: every scenario that ran must have measured something, and
// ScanPay must not have answered errors. Targets are not asserted: a shared CI machine says nothing of them.
const broken = rows.filter((r) => (r.throughput !== null && !(r.throughput > 0)) || (r.errors !== null && r.errors > 0))
if (broken.length > 0) {
  console.error(`\nscenarios that measured nothing or saw errors: ${broken.map((r) => r.scenario).join('; ')}`)
  process.exitCode = 1
}
