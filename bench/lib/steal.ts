// How much CPU the hypervisor took from this guest while a scenario ran ("steal" in /proc/stat). On a shared
// virtual machine the host can take a core away for seconds; every figure of those seconds then reads low or
// slow, whatever ScanPay does. The benchmark prints the share beside each scenario so such a run tells on itself.
import { readFileSync } from 'node:fs'

/** The machine-wide CPU counters, in clock ticks since boot. */
export interface CpuTicks {
  steal: number
  all: number
}

/**
 * Reads the aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal (guest and
 * guest_nice are already counted in user and nice, so they are left out of the sum).
 */
export function parseProcStat(text: string): CpuTicks | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '))
  if (!line) return null
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number)
  if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return null
  return { steal: fields[7]!, all: fields.reduce((a, b) => a + b, 0) }
}

/** The stolen share (0 to 1) of the CPU time between two readings; null when it cannot be told. */
export function stolenShare(before: CpuTicks | null, after: CpuTicks | null): number | null {
  if (!before || !after) return null
  const all = after.all - before.all
  return all > 0 ? (after.steal - before.steal) / all : null
}

function readTicks(): CpuTicks | null {
  try {
    return parseProcStat(readFileSync('/proc/stat', 'utf8'))
  } catch {
    return null // not Linux
  }
}

/** Starts a window; the function it returns gives the share stolen since (null off Linux). */
export function stealWindow(): () => number | null {
  const before = readTicks()
  return () => stolenShare(before, readTicks())
}
