// One /metrics answer for a whole `--workers N` cluster. The connection of a scrape goes to whichever worker
// accepts it, so a worker answering for itself alone would make counters jump between processes (Prometheus reads
// each drop as a counter reset). Instead the worker asks the primary, which asks every live worker for its own
// families over the cluster's IPC channel and sends back their merge; the worker adds the database's gauges once.
import cluster, { type Worker } from 'node:cluster'
import { randomUUID } from 'node:crypto'
import { mergeFamilies, type Family } from './metrics.ts'

/** How long the primary waits for the workers' families; a worker that has not answered by then is left out. */
export const GATHER_TIMEOUT_MS = 1000
/** How long a worker waits for the primary's merge before it answers with its own families alone. */
export const ASK_TIMEOUT_MS = 1500

type Message =
  | { type: 'scanpay:metrics-request'; id: string }
  | { type: 'scanpay:metrics-collect'; id: string }
  | { type: 'scanpay:metrics-part'; id: string; families: Family[] }
  | { type: 'scanpay:metrics-result'; id: string; families: Family[]; notes: string[] }

const isMessage = (m: unknown): m is Message => typeof m === 'object' && m !== null && String((m as { type?: unknown }).type).startsWith('scanpay:metrics-')

/** A cluster's metrics for one scrape, and comment lines that say when it is partial. */
export interface Gathered {
  families: Family[]
  notes: string[]
}

/**
 * In a cluster worker: answers the primary's requests for this process's families, and returns what asks the
 * primary for the whole cluster's (null outside a cluster, where a process answers for itself), and a stop.
 */
export function joinClusterMetrics(own: () => Family[]): { ask: () => Promise<Gathered>; stop: () => void } | null {
  if (!cluster.isWorker || !process.send) return null
  const waiting = new Map<string, (result: Gathered) => void>()
  const onMessage = (m: unknown) => {
    if (!isMessage(m)) return
    // A primary gone meanwhile: nothing to answer (the callback keeps the error from becoming an uncaught one).
    if (m.type === 'scanpay:metrics-collect') process.send?.({ type: 'scanpay:metrics-part', id: m.id, families: own() }, undefined, undefined, () => {})
    else if (m.type === 'scanpay:metrics-result') waiting.get(m.id)?.({ families: m.families, notes: m.notes })
  }
  process.on('message', onMessage)
  const ask = () =>
    new Promise<Gathered>((resolve) => {
      const id = randomUUID()
      const done = (result: Gathered) => {
        clearTimeout(timer)
        waiting.delete(id)
        resolve(result)
      }
      // Its own counters are still worth a scrape; the note says the totals are this worker's alone.
      const alone = (why: string) => done({ families: mergeFamilies([{ worker: String(process.pid), families: own() }]), notes: [`${why}: only worker ${process.pid}'s own metrics, not the cluster's`] })
      const timer = setTimeout(() => alone(`the cluster primary did not answer within ${ASK_TIMEOUT_MS / 1000} s`), ASK_TIMEOUT_MS)
      waiting.set(id, done)
      // A closed channel does not throw: it calls back with the error (and would emit it on process without one).
      process.send!({ type: 'scanpay:metrics-request', id }, undefined, undefined, (err) => {
        if (err) alone('the cluster primary is gone')
      })
    })
  return { ask, stop: () => process.off('message', onMessage) }
}

/** A worker's counters and histograms: what must never go back (gauges say only what is now). */
const countersOf = (families: Family[]): Family[] => families.filter((f) => (f.type ?? 'gauge') !== 'gauge')

/**
 * In the cluster primary: answers each worker's request with every live worker's families, merged.
 *
 * A cluster's counters are sums over its workers, and Prometheus reads any fall of a counter as a reset, adding
 * the whole new value to rate() and increase(): a false spike, and alerts on increase() firing. So a sum never
 * falls: a worker that does not answer in time counts with the counters of its last answer, and a worker that
 * has exited leaves its last counters in a base every later sum includes (what it counted after its last answer is
 * lost, which reads as a slower minute, not a reset).
 */
export function serveClusterMetrics(live: () => Iterable<Worker>): void {
  const gathering = new Map<string, (worker: Worker, families: Family[]) => void>()
  const lastCounters = new Map<number, Family[]>()
  let departed: Family[] = []
  cluster.on('exit', (worker: Worker) => {
    const last = lastCounters.get(worker.id)
    lastCounters.delete(worker.id)
    if (last) departed = mergeFamilies([{ worker: 'departed', families: departed }, { worker: 'departed', families: last }])
  })
  cluster.on('message', (from: Worker, m: unknown) => {
    if (!isMessage(m)) return
    if (m.type === 'scanpay:metrics-part') return void gathering.get(m.id)?.(from, m.families)
    if (m.type !== 'scanpay:metrics-request') return
    const asked = [...live()].filter((w) => w.isConnected())
    const parts = new Map<Worker, Family[]>()
    const id = randomUUID()
    const finish = () => {
      clearTimeout(timer)
      gathering.delete(id)
      const silent = asked.filter((w) => !parts.has(w))
      const families = mergeFamilies([
        ...[...parts].map(([w, f]) => ({ worker: String(w.process.pid), families: f })),
        ...silent.map((w) => ({ worker: String(w.process.pid), families: lastCounters.get(w.id) ?? [] })),
        { worker: 'departed', families: departed },
      ])
      families.push({
        name: 'scanpay_metrics_workers',
        help: `Cluster workers whose metrics this scrape holds (answered) or lacks (silent: no answer within ${GATHER_TIMEOUT_MS / 1000} s)`,
        samples: [
          { labels: { state: 'answered' }, value: parts.size },
          { labels: { state: 'silent' }, value: silent.length },
        ],
      })
      const pids = silent.map((w) => w.process.pid)
      const notes = silent.length ? [`workers ${pids.join(', ')} did not answer within ${GATHER_TIMEOUT_MS / 1000} s: their counters are those of their last answer, their gauges are missing`] : []
      if (from.isConnected()) from.send({ type: 'scanpay:metrics-result', id: m.id, families, notes })
    }
    const timer = setTimeout(finish, GATHER_TIMEOUT_MS)
    gathering.set(id, (w, families) => {
      parts.set(w, families)
      lastCounters.set(w.id, countersOf(families))
      if (parts.size === asked.length) finish()
    })
    for (const w of asked) w.send({ type: 'scanpay:metrics-collect', id })
  })
}
