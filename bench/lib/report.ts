// The benchmark's one table (printed) and its JSON record (bench/results/<timestamp>.json and latest.json).
import { cpus, loadavg, totalmem } from 'node:os'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Row {
  scenario: string
  /** Requests (or orders, deliveries) per second; null where the scenario measures latency only. */
  throughput: number | null
  unit: string
  p50: number | null
  p99: number | null
  errors: number | null
  /** What the figure is compared with, and the ratio to it. */
  ceiling?: string
  ratio?: number | null
  rssMb?: number | null
  /** Server CPU time (user + system) per request, in µs: unlike throughput, other load on the machine barely moves it. */
  cpuUsPerRequest?: number | null
  /** The share of the machine's CPU (%) the hypervisor took while the scenario's group ran (bench/lib/steal.ts). */
  stealPct?: number | null
  target?: string
  /** true: target met; false: missed; null: informational or not measurable here. */
  met?: boolean | null
  note?: string
}

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  return {
    nproc: cpus().length,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown',
    ramGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    /** Other work on the machine while the run started (1, 5, 15 min): a loaded machine lowers every figure. */
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    platform: `${process.platform} ${process.arch}`,
  }
}

const fmt = (n: number | null | undefined, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n) ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

const HEAD = ['scenario', 'throughput', 'p50 ms', 'p99 ms', 'errors', 'ratio to ceiling', 'RSS MB', 'CPU µs/req', 'steal %', 'target', 'met']

/** One row's cells; `met` is worded by the caller (the terminal shouts NO, Markdown bolds **no**). */
function cells(r: Row, met: string): string[] {
  return [
    r.scenario,
    r.throughput === null ? '—' : `${fmt(r.throughput)} ${r.unit}`,
    fmt(r.p50, 1),
    fmt(r.p99, 1),
    fmt(r.errors),
    r.ratio === undefined || r.ratio === null ? '—' : `${fmt(r.ratio, 2)} × ${r.ceiling}`,
    fmt(r.rssMb),
    fmt(r.cpuUsPerRequest),
    fmt(r.stealPct, 1),
    r.target ?? '',
    met,
  ]
}

export function table(rows: Row[]): string {
  const head = HEAD
  const body = rows.map((r) => cells(r, r.met === undefined || r.met === null ? '' : r.met ? 'yes' : 'NO'))
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

/** The same table in Markdown, for docs/performance.md. */
export function markdown(rows: Row[]): string {
  const head = HEAD
  const body = rows.map((r) => {
    const met = r.met === undefined || r.met === null ? '' : r.met ? 'yes' : '**no**'
    // The note says how a figure was made (median of rounds, the pay request's own latency): kept beside it.
    return cells(r, [met, r.note ?? ''].filter(Boolean).join(': '))
  })
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((b) => `| ${b.join(' | ').replace(/\n/g, ' ')} |`)].join('\n')
}

/** Writes the run as <timestamp>[-label].json; a complete full run also becomes latest.json and latest.md. */
export function writeResults(dir: string, record: object, label: string | null): string {
  mkdirSync(dir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const file = join(dir, `${stamp}${label ? `-${label}` : ''}.json`)
  const text = JSON.stringify(record, null, 2) + '\n'
  writeFileSync(file, text)
  if (label === null) {
    writeFileSync(join(dir, 'latest.json'), text)
    const rows = (record as { rows?: Row[] }).rows
    if (rows) writeFileSync(join(dir, 'latest.md'), markdown(rows) + '\n')
  }
  return file
}
