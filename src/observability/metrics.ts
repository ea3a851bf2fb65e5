// Prometheus counters kept in memory, and the families /metrics renders (with the gauges read on scrape: pending
// orders, queue depth) and a cluster's primary merges.

export type Labels = Record<string, string>

/** One series' value; a suffix names a histogram's series: _bucket, _sum, _count. */
export interface Sample {
  labels: Labels
  value: number
  suffix?: string
}

/** A metric with its samples, as /metrics renders it and cluster workers send it to their primary (plain JSON). */
export interface Family {
  name: string
  help: string
  type?: 'gauge' | 'counter' | 'histogram'
  samples: Sample[]
}

function escape(value: string): string {
  return String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function key(name: string, labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escape(labels[k]!)}"`)
  return parts.length ? `${name}{${parts.join(',')}}` : name
}

/** Families in the Prometheus text format; `notes` become comment lines at the top (a scrape that is partial). */
export function renderFamilies(families: Family[], notes: string[] = []): string {
  const lines = notes.map((note) => `# ${note.replace(/\n/g, ' ')}`)
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type ?? 'gauge'}`)
    for (const s of f.samples) lines.push(`${key(f.name + (s.suffix ?? ''), s.labels)} ${s.value}`)
  }
  return lines.join('\n') + '\n'
}

/**
 * One scrape's families from several processes (the workers of one cluster) as one: counters and histograms summed
 * per series, so a scrape reads the cluster's totals; a gauge keeps each process's own sample under a `worker` label
 * (memory, heap: summing them would hide the one that grows).
 */
export function mergeFamilies(parts: { worker: string; families: Family[] }[]): Family[] {
  const merged = new Map<string, { family: Family; sums: Map<string, Sample> }>()
  for (const { worker, families } of parts) {
    for (const f of families) {
      let m = merged.get(f.name)
      if (!m) {
        m = { family: { name: f.name, help: f.help, type: f.type, samples: [] }, sums: new Map() }
        merged.set(f.name, m)
      }
      for (const s of f.samples) {
        if ((f.type ?? 'gauge') === 'gauge') {
          m.family.samples.push({ ...s, labels: { ...s.labels, worker } })
          continue
        }
        const k = key(f.name + (s.suffix ?? ''), s.labels)
        const sum = m.sums.get(k)
        if (sum) sum.value += s.value
        else {
          const copy = { ...s }
          m.sums.set(k, copy)
          m.family.samples.push(copy)
        }
      }
    }
  }
  return [...merged.values()].map((m) => m.family)
}

export class Metrics {
  readonly #counters = new Map<string, number>()
  /** Each series' name and labels, kept when it is first seen, for families(). */
  readonly #seriesOf = new Map<string, { name: string; labels: Labels }>()
  readonly #help = new Map<string, string>()

  constructor() {
    this.describe('scanpay_http_requests_total', 'HTTP requests by route and status code')
    this.describe('scanpay_webhook_deliveries_total', 'Webhook delivery attempts by outcome')
    this.startAtZero('scanpay_webhook_deliveries_total', 'outcome', ['delivered', 'retrying', 'failed'])
  }

  /**
   * Shows each named series at 0 until it counts: an alert on increase() needs a sample before the first count,
   * or the first event (the one a person must act on) would read as no increase at all.
   */
  startAtZero(name: string, label: string, values: readonly string[], fixed: Labels = {}): void {
    for (const value of values) {
      const series = this.series(name, { ...fixed, [label]: value })
      if (!this.#counters.has(series)) this.#counters.set(series, 0)
    }
  }

  describe(name: string, help: string): void {
    this.#help.set(name, help)
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    this.incSeries(this.series(name, labels), by)
  }

  /** The key of one counter series, for a hot path to make once and pass to incSeries. */
  series(name: string, labels: Labels): string {
    const k = key(name, labels)
    if (!this.#seriesOf.has(k)) this.#seriesOf.set(k, { name, labels: { ...labels } })
    return k
  }

  incSeries(series: string, by = 1): void {
    this.#counters.set(series, (this.#counters.get(series) ?? 0) + by)
  }

  /** The described counters, each with its series so far. */
  families(): Family[] {
    const byName = new Map<string, Sample[]>()
    for (const [k, value] of this.#counters) {
      const { name, labels } = this.#seriesOf.get(k)!
      if (!byName.has(name)) byName.set(name, [])
      byName.get(name)!.push({ labels, value })
    }
    return [...this.#help].map(([name, help]) => ({ name, help, type: 'counter' as const, samples: byName.get(name) ?? [] }))
  }

}
