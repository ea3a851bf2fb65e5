// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per function and per
// area of the code (ScanPay's own folders, Fastify, Kysely, the SQLite driver, Node's internals, GC, idle).
import { existsSync, readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { fileURLToPath } from 'node:url'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  totalMs: number
  /** Busy time (not idle) in ms. */
  busyMs: number
  areas: { area: string; ms: number; share: number }[]
  functions: { fn: string; where: string; ms: number; share: number }[]
}

/**
 * The profile, its frames in the built server (dist/server/, one bundle) put back at their TypeScript sources
 * through the build's source maps, so time is told by source file as when the sources run.
 */
function readProfile(file: string): Profile {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const maps = new Map<string, SourceMap | null>()
  for (const { callFrame: frame } of p.nodes) {
    if (!/\/dist\/server\/[^/]+\.js$/.test(frame.url)) continue
    if (!maps.has(frame.url)) {
      const mapFile = `${fileURLToPath(frame.url)}.map`
      maps.set(frame.url, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : null)
    }
    const entry = maps.get(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber)
    if (!entry || !('originalSource' in entry)) continue
    frame.url = new URL(entry.originalSource, frame.url).href
    frame.lineNumber = entry.originalLine
  }
  return p
}

function areaOf(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle'
  if (fn === '(garbage collector)') return 'garbage collection'
  if (fn === '(program)') return 'native (program)'
  if (!url) return 'native'
  const m = /\/src\/([^/]+)\//.exec(url)
  if (m && !url.includes('node_modules')) return `scanpay src/${m[1]}`
  if (url.includes('/sdk/src/')) return 'scanpay sdk'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm) return nm[1]!
  if (url.startsWith('node:')) return `node ${url.slice(5).split('/')[0]}`
  return url
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const p = readProfile(file)
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000)
  const areas = new Map<string, number>()
  const fns = new Map<string, { where: string; ms: number }>()
  let total = 0
  let idle = 0
  for (const [id, ms] of self) {
    const n = byId.get(id)!
    const { functionName, url, lineNumber } = n.callFrame
    const area = areaOf(url, functionName)
    total += ms
    if (area === 'idle') idle += ms
    areas.set(area, (areas.get(area) ?? 0) + ms)
    const key = `${functionName || '(anonymous)'} ${url}:${lineNumber + 1}`
    const f = fns.get(key) ?? { where: `${url.replace(/^.*\/(node_modules|src|sdk)\//, '$1/')}:${lineNumber + 1}`, ms: 0 }
    f.ms += ms
    fns.set(key, f)
  }
  const busy = total - idle
  return {
    totalMs: total,
    busyMs: busy,
    areas: [...areas]
      .filter(([a]) => a !== 'idle')
      .map(([area, ms]) => ({ area, ms, share: ms / busy }))
      .sort((a, b) => b.ms - a.ms),
    functions: [...fns]
      .filter(([k]) => !k.startsWith('(idle)'))
      .map(([k, f]) => ({ fn: k.split(' ')[0]!, where: f.where, ms: f.ms, share: f.ms / busy }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  }
}

export function printSummary(s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)} %`
  return [
    `busy ${(s.busyMs / 1000).toFixed(1)} s of ${(s.totalMs / 1000).toFixed(1)} s sampled`,
    'by area (self time):',
    ...s.areas.slice(0, 18).map((a) => `  ${pct(a.share)}  ${a.area}`),
    'top functions (self time):',
    ...s.functions.map((f) => `  ${pct(f.share)}  ${f.fn}  ${f.where}`),
  ].join('\n')
}

/**
 * Inclusive time (self plus everything called) of the functions whose name or file matches each pattern,
 * as a share of busy time: where a request's time goes, stage by stage.
 */
export function inclusiveShares(file: string, patterns: Record<string, RegExp>): Record<string, number> {
  const p = readProfile(file)
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000)
  const out: Record<string, number> = Object.fromEntries(Object.keys(patterns).map((k) => [k, 0]))
  let busy = 0
  for (const [id, ms] of self) {
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue
    busy += ms
    const hit = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const { functionName, url } = byId.get(cur)!.callFrame
      for (const [name, re] of Object.entries(patterns)) if (!hit.has(name) && re.test(`${functionName} ${url}`)) hit.add(name)
    }
    for (const name of hit) out[name]! += ms
  }
  for (const k of Object.keys(out)) out[k] = out[k]! / busy
  return out
}
