// An operator command's log, for a person at a terminal: each of pino's JSON lines becomes one plain line on
// stderr ("error: the refund was refused (payment_id=pay_…, err=…)"), as the command's own messages are. The
// server keeps JSON lines, which log shippers read.
import type { DestinationStream } from 'pino'

const LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }
/** pino's own fields, and the process's, which say nothing to the person who ran the command. */
const NOT_SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'msg'])

/** One of pino's lines as a person reads it; a line that is not pino's JSON is passed on as it is. */
export function plainLogLine(json: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`
  }
  const details = Object.entries(entry)
    .filter(([key]) => !NOT_SHOWN.has(key))
    .map(([key, value]) => `${key}=${detail(value)}`)
  const level = LEVELS[Number(entry.level)] ?? String(entry.level)
  return `${level}: ${String(entry.msg ?? '')}${details.length > 0 ? ` (${details.join(', ')})` : ''}\n`
}

function detail(value: unknown): string {
  // An error as pino serializes it: its message is what a person needs, not its stack.
  if (typeof value === 'object' && value !== null && 'message' in value) return String((value as { message: unknown }).message)
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** A pino destination writing plain lines to stderr. */
export function plainStderr(): DestinationStream {
  return { write: (line: string) => void process.stderr.write(plainLogLine(line)) }
}
