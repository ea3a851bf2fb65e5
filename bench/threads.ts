// Where two kinds of request spend their CPU, on one server: per request, the user and system time of the
// server's main thread and of each other thread (the SQLite writer is the busy one), and the load generator's
// (wrk's) own time, which it takes from the same two cores. The kinds take the load in alternating bursts (who
// goes first swaps every burst), so a change of the machine's speed touches both alike. Printed last: the
// median per kind and thread.
//
//   node --import tsx bench/threads.ts [--bursts 6] [--seconds 5] [--kinds create-bearer,create-hmac] [--root ../other]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { makeMerchants } from './lib/databases.ts'
import { newMasterKey, ROOT, runJson, startScanPay } from './lib/processes.ts'

const { values: opts } = parseArgs({
  options: {
    bursts: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '5' },
    kinds: { type: 'string', default: 'create-bearer,create-hmac' },
    root: { type: 'string' },
  },
})

/** [user, system] CPU ms of /proc/<pid>/task/<tid>/stat, or of /proc/<pid>/stat without a tid. */
function cpuOf(path: string): [number, number] {
  const stat = readFileSync(path, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return [Number(fields[11]) * 10, Number(fields[12]) * 10]
}

/** CPU ms per thread of the server so far, keyed 'main user', 'main system', 'thread <tid> user', … */
function threadCpu(pid: number): Map<string, number> {
  const cpu = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let user: number, system: number
    try {
      ;[user, system] = cpuOf(`/proc/${pid}/task/${tid}/stat`)
    } catch {
      continue // the thread ended meanwhile
    }
    const name = Number(tid) === pid ? 'main' : `thread ${tid}`
    cpu.set(`${name} user`, user)
    cpu.set(`${name} system`, system)
  }
  return cpu
}

/**
 * Follows the load generator's wrk process while it runs: its CPU is read every 100 ms, and the last reading
 * before it exits is what it used (up to 100 ms short). wrk's setup (loading the prepared requests) is included.
 */
function followWrk(): () => number {
  let ms = 0
  const timer = setInterval(() => {
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue
      try {
        if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() !== 'wrk') continue
        const [user, system] = cpuOf(`/proc/${p}/stat`)
        ms = user + system
      } catch {
        // gone meanwhile
      }
    }
  }, 100)
  return () => {
    clearInterval(timer)
    return ms
  }
}

const dir = mkdtempSync(join(tmpdir(), 'scanpay-threads-'))
const url = `sqlite:${join(dir, 'threads.db')}`
const masterKey = newMasterKey()
const [merchant] = await makeMerchants(url, masterKey, [{ name: 'Threads Shop', webhookUrl: null }])
const server = await startScanPay({ db: url, masterKey, root: opts.root ? resolve(opts.root) : undefined })
const kinds = opts.kinds!.split(',')
/** kind → column → µs per request, one per burst. */
const figures = new Map<string, Map<string, number[]>>()
const throughputs = new Map<string, number[]>()
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!
try {
  for (let burst = 1; burst <= Number(opts.bursts); burst++) {
    for (const kind of burst % 2 === 1 ? kinds : [...kinds].reverse()) {
      const before = threadCpu(server.pid)
      const wrkMs = followWrk()
      const spec = { url: server.url, kind, secret: merchant!.test.secret, keyId: merchant!.test.key_id, connections: 64, seconds: Number(opts.seconds), warmupSeconds: burst === 1 ? 2 : 0, generator: 'wrk' }
      const r = await runJson<{ throughput: number; requests: number; allRequests?: number }>([join(ROOT, 'bench', 'load-generator.mjs'), JSON.stringify(spec)])
      const after = threadCpu(server.pid)
      after.set('wrk', wrkMs())
      const n = r.allRequests ?? r.requests
      throughputs.set(kind, [...(throughputs.get(kind) ?? []), r.throughput])
      const columns = figures.get(kind) ?? new Map<string, number[]>()
      figures.set(kind, columns)
      const line: string[] = []
      for (const [column, ms] of after) {
        const us = ((ms - (before.get(column) ?? 0)) * 1000) / n
        // Threads that barely ran (V8's helpers, libuv's pool) are left out of the line, not of the medians.
        if (us >= 0.5) line.push(`${column} ${us.toFixed(1)}`)
        columns.set(column, [...(columns.get(column) ?? []), us])
      }
      console.log(`burst ${burst} ${kind.padEnd(14)} ${Math.round(r.throughput)}/s | µs per request: ${line.join(', ')}`)
    }
  }
} finally {
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
}
for (const [kind, columns] of figures) {
  const line = [...columns].map(([column, list]) => [column, median(list)] as const).filter(([, us]) => us >= 0.5)
  console.log(`median ${kind}: ${Math.round(median(throughputs.get(kind)!))}/s | ${line.map(([column, us]) => `${column} ${us.toFixed(1)}`).join(', ')}`)
}
