// Child processes of a benchmark run: ScanPay servers, the bare-HTTP ceiling, load generators and sinks.
// Everything the run starts is stopped by the run, by its own process id.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const children = new Set<ChildProcess>()

/** Stops every child still running (called on exit and on Ctrl-C). */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL')
}
process.on('exit', killAll)

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Resident set size of a process and all its descendants (a --workers launcher counts its workers), in MB. */
export function rssMb(pid: number): number {
  let kb = 0
  const visit = (p: number) => {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))
      if (m) kb += Number(m[1])
      for (const child of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(child))
    } catch {
      // The process ended between two reads.
    }
  }
  visit(pid)
  return kb / 1024
}

/** CPU time (user + system) a process and its descendants have used so far, in ms (Linux clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  let ticks = 0
  const visit = (p: number) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
      for (const child of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(child))
    } catch {
      // The process ended between two reads.
    }
  }
  visit(pid)
  return ticks * 10
}

/** CPU time of every postgres process so far (backends, WAL writer, checkpointer), in ms; run nothing else. */
export function postgresCpuMs(): number {
  let ticks = 0
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (!stat.includes('(postgres)')) continue
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks * 10
}

/** CPU time (user + system) of a process's main thread so far, in ms: where a Node server's JavaScript runs. */
export function mainThreadCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return Number.NaN
  }
}

/** Samples RSS every interval until stopped; reports the peak and every sample. */
export function sampleRss(pid: number, intervalMs = 500) {
  const samples: { at: number; mb: number }[] = []
  const timer = setInterval(() => samples.push({ at: Date.now(), mb: rssMb(pid) }), intervalMs)
  return {
    samples,
    stop() {
      clearInterval(timer)
      return Math.max(0, ...samples.map((s) => s.mb))
    },
  }
}

export interface ServerProcess {
  url: string
  pid: number
  child: ChildProcess
  stop(): Promise<void>
}

export interface ServerOptions {
  db: string
  masterKey: string
  /** production (the default) or development: webhook scenarios need development to call loopback receivers. */
  nodeEnv?: 'production' | 'development'
  workers?: number
  env?: Record<string, string>
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[]
  /** Another checkout to run instead of this one (A/B comparisons of two versions of the code). */
  root?: string
  /** Copy the server's stderr to ours. */
  echo?: boolean
}

export function newMasterKey(): string {
  return randomBytes(32).toString('base64')
}

const built = new Set<string>()

/**
 * Builds a checkout's server once a run (scripts/build.js), so that its servers run the build, as `npm ci`
 * leaves it in production; a checkout from before the build existed runs its sources.
 */
function buildOnce(root: string): void {
  if (built.has(root)) return
  built.add(root)
  const script = join(root, 'scripts', 'build.js')
  // Its output only if it fails, in the error (execFileSync puts stderr there).
  if (existsSync(script)) execFileSync(process.execPath, [script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Starts `scanpay start` as its own process and waits until /readyz answers. */
export async function startScanPay(o: ServerOptions): Promise<ServerProcess> {
  buildOnce(o.root ?? ROOT)
  const port = await freePort()
  const args = [...(o.nodeFlags ?? []), join(o.root ?? ROOT, 'bin', 'scanpay.js'), 'start', '--port', String(port), '--host', '127.0.0.1', '--db', o.db]
  if (o.workers) args.push('--workers', String(o.workers))
  const child = spawn(process.execPath, args, {
    cwd: o.root ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: o.nodeEnv ?? 'production',
      // Production wants an https public URL (TLS at a load balancer); the load reaches the port directly.
      PUBLIC_URL: 'https://pay.bench.example',
      SCANPAY_MASTER_KEY: o.masterKey,
      // The limiter is not what is measured.
      SCANPAY_RATE_LIMIT: '10000000',
      LOG_LEVEL: 'warn',
      ...o.env,
    },
  })
  children.add(child)
  let output = ''
  child.stdout!.on('data', (d) => (output = (output + d).slice(-4000)))
  child.stderr!.on('data', (d) => (output = (output + d).slice(-4000)))
  if (o.echo) child.stderr!.pipe(process.stderr)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`scanpay exited with ${child.exitCode}:\n${output}`)
    try {
      const res = await fetch(`${url}/readyz`)
      if (res.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`scanpay did not become ready:\n${output}`)
    await sleep(100)
  }
  return {
    url,
    pid: child.pid!,
    child,
    stop: () => stopChild(child, 30_000),
  }
}

/** SIGTERM, then wait for a graceful exit (SIGKILL after the grace period). */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
  children.delete(child)
}

/** Runs a node script to completion and parses the last line of its stdout as JSON. */
export function runJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    children.add(child)
    let out = ''
    let err = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)))
    child.on('exit', (code) => {
      children.delete(child)
      const line = out.trim().split('\n').pop() ?? ''
      try {
        if (code !== 0) throw new Error(`exit ${code}`)
        resolve(JSON.parse(line) as T)
      } catch (e) {
        reject(new Error(`${args.join(' ')} failed (${(e as Error).message}):\n${err}\n${out.slice(-2000)}`))
      }
    })
  })
}

/** Starts a long-running helper that prints `listening PORT` once ready. */
export async function startHelper(args: string[]): Promise<{ port: number; ports: number[]; pid: number; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const deadline = Date.now() + 30_000
  for (;;) {
    const m = /listening ([\d,]+)\n/.exec(out)
    if (m) {
      const ports = m[1]!.split(',').map(Number)
      return { port: ports[0]!, ports, pid: child.pid!, child, output: () => out }
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${args.join(' ')} did not start:\n${out}`)
    await sleep(50)
  }
}
