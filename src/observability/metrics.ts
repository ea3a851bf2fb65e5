// Prometheus counters kept in memory, plus gauges read on scrape (orders by status, queue depth).

type Labels = Record<string, string>

function key(name: string, labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
  return parts.length ? `${name}{${parts.join(',')}}` : name
}

export class Metrics {
  readonly #counters = new Map<string, number>()
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
      const series = key(name, { ...fixed, [label]: value })
      if (!this.#counters.has(series)) this.#counters.set(series, 0)
    }
  }

  describe(name: string, help: string): void {
    this.#help.set(name, help)
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    this.incSeries(key(name, labels), by)
  }

  /** The key of one counter series, for a hot path to make once and pass to incSeries. */
  series(name: string, labels: Labels): string {
    return key(name, labels)
  }

  incSeries(series: string, by = 1): void {
    this.#counters.set(series, (this.#counters.get(series) ?? 0) + by)
  }

  /**
   * Renders counters and the given gauges (or counters and histograms kept elsewhere) in the Prometheus text
   * format. A sample's suffix names a histogram's series: _bucket, _sum, _count.
   */
  render(gauges: { name: string; help: string; type?: 'gauge' | 'counter' | 'histogram'; samples: { labels: Labels; value: number; suffix?: string }[] }[]): string {
    const lines: string[] = []
    const byName = new Map<string, string[]>()
    for (const [k, v] of this.#counters) {
      const name = k.split('{')[0]!
      if (!byName.has(name)) byName.set(name, [])
      byName.get(name)!.push(`${k} ${v}`)
    }
    for (const [name, help] of this.#help) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, ...(byName.get(name) ?? []))
    }
    for (const g of gauges) {
      lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} ${g.type ?? 'gauge'}`)
      for (const s of g.samples) lines.push(`${key(g.name + (s.suffix ?? ''), s.labels)} ${s.value}`)
    }
    return lines.join('\n') + '\n'
  }
}
