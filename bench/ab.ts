// A/B of two versions of ScanPay creating orders, with the CPU per request of each server's main thread and of
// its other threads (the SQLite writer) read from /proc. The machine's speed moves by a third within minutes, so
// both versions run side by side, each on a new server and an empty SQLite database, and take the load in short
// alternating bursts (who goes first swaps every burst). Printed last: the median per version, and the median
// of B − A over the pairs of bursts, which is the figure to read.
//
//   git worktree add ../base <commit> && ln -s "$PWD/node_modules" ../base/node_modules
//   node --import tsx bench/ab.ts ../base . [--bursts 8] [--seconds 4] [--rounds 1] [--kinds create-bearer,create-hmac]
//                                 [--rate 5000]   a fixed rate (autocannon) instead of saturating (wrk)
//                                 [--a-flags "…"] [--b-flags "…"]   node flags for one version's server
//   The same checkout twice with different flags compares the flags (--b-flags --max-semi-space-size=64).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { makeMerchants } from './lib/databases.ts'
import { newMasterKey, ROOT, runJson, startScanPay } from './lib/processes.ts'

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '1' },
    bursts: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '4' },
    kinds: { type: 'string', default: 'create-bearer,create-hmac' },
    rate: { type: 'string' },
    'a-flags': { type: 'string', default: '' },
    'b-flags': { type: 'string', default: '' },
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

interface Server {
  stop(): Promise<void>
  pid: number
  url: string
}

/** A new server of one version on an empty SQLite database, with a merchant to drive it. */
async function startVersion(root: string, nodeFlags: string) {
  const dir = mkdtempSync(join(tmpdir(), 'scanpay-ab-'))
  const url = `sqlite:${join(dir, 'ab.db')}`
  const masterKey = newMasterKey()
  const [m] = await makeMerchants(url, masterKey, [{ name: 'A/B Shop', webhookUrl: null }])
  const server: Server = await startScanPay({ db: url, masterKey, root, nodeFlags: nodeFlags.split(' ').filter(Boolean) })
  return {
    server,
    merchant: m!,
    async stop() {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!
const totals = new Map<string, number[]>()
/** B's total minus A's in the same pair of bursts, per kind. */
const differences = new Map<string, number[]>()
const bursts = Number(opts.bursts)
for (let round = 1; round <= Number(opts.rounds); round++) {
  for (const kind of opts.kinds!.split(',')) {
    // Both versions run side by side (the idle one costs nothing) and take the load in turns, so that a
    // change of the machine's speed touches both alike.
    const versions = [await startVersion(roots[0]!, opts['a-flags']!), await startVersion(roots[1]!, opts['b-flags']!)]
    try {
      for (let burst = 1; burst <= bursts; burst++) {
        // A then B in odd bursts, B then A in even ones: whichever goes second is not always the same.
        const pair: number[] = []
        for (const i of burst % 2 === 1 ? [0, 1] : [1, 0]) {
          const { server, merchant } = versions[i]!
          const before = threadCpuMs(server.pid)
          const spec = { url: server.url, kind, secret: merchant.test.secret, keyId: merchant.test.key_id, connections: 64, seconds: Number(opts.seconds), warmupSeconds: burst === 1 ? 2 : 0 }
          const fixed = opts.rate ? { generator: 'autocannon', overallRate: Number(opts.rate) } : { generator: 'wrk' }
          const r = await runJson<{ throughput: number; requests: number; allRequests?: number; errors: number; latency: { p50: number; p99: number } }>([
            join(ROOT, 'bench', 'load-generator.mjs'),
            JSON.stringify({ ...spec, ...fixed }),
          ])
          const after = threadCpuMs(server.pid)
          const n = r.allRequests ?? r.requests
          const main = ((after.main - before.main) * 1000) / n
          const other = ((after.other - before.other) * 1000) / n
          const label = `${'AB'[i]} ${kind}`
          totals.set(label, [...(totals.get(label) ?? []), main + other])
          pair[i] = main + other
          console.log(
            `round ${round} burst ${burst} ${label.padEnd(15)} ${Math.round(r.throughput)}/s p50 ${r.latency.p50} p99 ${r.latency.p99} errors ${r.errors}` +
              ` | CPU µs per request: main ${main.toFixed(1)}, other threads ${other.toFixed(1)}, total ${(main + other).toFixed(1)}`,
          )
        }
        differences.set(kind, [...(differences.get(kind) ?? []), pair[1]! - pair[0]!])
      }
    } finally {
      for (const v of versions) await v.stop()
    }
  }
}
for (const [label, list] of totals) {
  console.log(`median ${label}: ${median(list).toFixed(1)} µs per request (min ${Math.min(...list).toFixed(1)})`)
}
for (const [kind, list] of differences) {
  console.log(`median B − A ${kind}: ${median(list) >= 0 ? '+' : ''}${median(list).toFixed(1)} µs per request over ${list.length} pairs of bursts`)
}
