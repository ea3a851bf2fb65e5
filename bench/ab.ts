// A/B of two versions of ScanPay creating orders: interleaved rounds, each version on a new server and an
// empty SQLite database, with the CPU per request of the server's main thread and of its other threads (the
// SQLite writer) read from /proc. The machine's speed moves by a third within minutes, so only rounds of both
// versions in the same minutes compare; the median per version is printed last.
//
//   git worktree add ../base <commit> && ln -s "$PWD/node_modules" ../base/node_modules
//   node --import tsx bench/ab.ts ../base . [--rounds 3] [--seconds 8] [--kinds create-bearer,create-hmac]
//                                 [--rate 8000]   a fixed rate (autocannon) instead of saturating (wrk)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { makeMerchants } from './lib/databases.ts'
import { newMasterKey, ROOT, runJson, startScanPay } from './lib/processes.ts'

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    kinds: { type: 'string', default: 'create-bearer,create-hmac' },
    rate: { type: 'string' },
  },
})
if (positionals.length !== 2) throw new Error('usage: bench/ab.ts <checkout A> <checkout B> [options]')
const roots = positionals.map((p) => resolve(p))

/** CPU ms per thread of a process so far: 'main' for the main thread, 'other' for the rest together. */
function threadCpuMs(pid: number): { main: number; other: number } {
  const cpu = { main: 0, other: 0 }
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    cpu[Number(tid) === pid ? 'main' : 'other'] += (Number(fields[11]) + Number(fields[12])) * 10
  }
  return cpu
}

const totals = new Map<string, number[]>()
for (let round = 1; round <= Number(opts.rounds); round++) {
  for (const [i, root] of roots.entries()) {
    for (const kind of opts.kinds!.split(',')) {
      const dir = mkdtempSync(join(tmpdir(), 'scanpay-ab-'))
      const url = `sqlite:${join(dir, 'ab.db')}`
      const masterKey = newMasterKey()
      const [m] = await makeMerchants(url, masterKey, [{ name: 'A/B Shop', webhookUrl: null }])
      const server = await startScanPay({ db: url, masterKey, root })
      const before = threadCpuMs(server.pid)
      const spec = { url: server.url, kind, secret: m!.test.secret, keyId: m!.test.key_id, connections: 64, seconds: Number(opts.seconds), warmupSeconds: 2 }
      const fixed = opts.rate ? { generator: 'autocannon', overallRate: Number(opts.rate) } : { generator: 'wrk' }
      const r = await runJson<{ throughput: number; requests: number; allRequests?: number; errors: number; latency: { p50: number; p99: number } }>([
        join(ROOT, 'bench', 'load-generator.mjs'),
        JSON.stringify({ ...spec, ...fixed }),
      ])
      const after = threadCpuMs(server.pid)
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
      const n = r.allRequests ?? r.requests
      const main = ((after.main - before.main) * 1000) / n
      const other = ((after.other - before.other) * 1000) / n
      const label = `${'AB'[i]} ${kind}`
      totals.set(label, [...(totals.get(label) ?? []), main + other])
      console.log(
        `round ${round} ${label.padEnd(15)} ${Math.round(r.throughput)}/s p50 ${r.latency.p50} p99 ${r.latency.p99} errors ${r.errors}` +
          ` | CPU µs per request: main ${main.toFixed(1)}, other threads ${other.toFixed(1)}, total ${(main + other).toFixed(1)}`,
      )
    }
  }
}
for (const [label, list] of totals) {
  const sorted = [...list].sort((a, b) => a - b)
  console.log(`median ${label}: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} µs per request (min ${sorted[0]!.toFixed(1)})`)
}
