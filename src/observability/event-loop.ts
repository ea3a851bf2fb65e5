// How long the main thread kept requests waiting: the event loop's delay and V8's garbage-collection pauses, as
// /metrics families under the names Prometheus' Node.js client uses. Every request of a process waits behind the
// same loop, so a p99 that grows while the CPU is not full shows here first.
import { constants, PerformanceObserver, monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { Family, Sample } from './metrics.ts'

/** Pause lengths in seconds: a scavenge takes about a millisecond, a full collection of a large heap tens. */
export const GC_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] as const

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}

interface PauseCounts {
  within: number[]
  count: number
  seconds: number
}

export class EventLoopMonitor {
  readonly #delay: IntervalHistogram
  readonly #resolutionNs: number
  readonly #pauses = new Map<string, PauseCounts>()
  readonly #observer: PerformanceObserver

  /** `resolutionMs`: how often the loop is sampled (a timer's tick; what it is late by is the delay). */
  constructor(resolutionMs = 10) {
    this.#resolutionNs = resolutionMs * 1e6
    this.#delay = monitorEventLoopDelay({ resolution: resolutionMs })
    this.#delay.enable()
    this.#observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.recordPause((entry as unknown as { detail?: { kind?: number } }).detail?.kind, entry.duration / 1000)
    })
    this.#observer.observe({ entryTypes: ['gc'] })
  }

  /** One garbage-collection pause of `seconds`, by V8's kind of collection. */
  recordPause(kind: number | undefined, seconds: number): void {
    const name = (kind !== undefined && GC_KINDS[kind]) || 'other'
    let counts = this.#pauses.get(name)
    if (!counts) this.#pauses.set(name, (counts = { within: GC_BUCKETS.map(() => 0), count: 0, seconds: 0 }))
    GC_BUCKETS.forEach((le, i) => {
      if (seconds <= le) counts.within[i]!++
    })
    counts.count++
    counts.seconds += seconds
  }

  /**
   * The loop's delay since the last call (each scrape starts a new window, as Prometheus' Node.js client does; the
   * one sample that spans a scrape is not counted) and the pauses since the start.
   */
  families(): Family[] {
    const d = this.#delay
    // Each sample is the time between two of the monitor's timer ticks: the delay is what exceeds the interval.
    // Nothing sampled yet (a scrape within the first interval): 0, not the histogram's sentinel values.
    const seconds = (ns: number) => (d.count === 0 || !Number.isFinite(ns) ? 0 : Math.max(0, ns - this.#resolutionNs) / 1e9)
    const lag = (name: string, help: string, ns: number): Family => ({ name, help, samples: [{ labels: {}, value: seconds(ns) }] })
    const families: Family[] = [
      lag('nodejs_eventloop_lag_mean_seconds', 'Mean delay of the event loop since the last scrape', d.mean),
      lag('nodejs_eventloop_lag_p50_seconds', 'Median delay of the event loop since the last scrape', d.percentile(50)),
      lag('nodejs_eventloop_lag_p99_seconds', '99th percentile of the event loop delay since the last scrape', d.percentile(99)),
      lag('nodejs_eventloop_lag_max_seconds', 'Longest delay of the event loop since the last scrape', d.max),
      {
        name: 'nodejs_gc_duration_seconds',
        help: "Garbage-collection pauses of the main thread's V8 heap, by kind (minor: a scavenge; major: a full collection)",
        type: 'histogram',
        samples: [...this.#pauses].flatMap(([kind, c]): Sample[] => [
          ...GC_BUCKETS.map((le, i) => ({ suffix: '_bucket', labels: { kind, le: String(le) }, value: c.within[i]! })),
          { suffix: '_bucket', labels: { kind, le: '+Inf' }, value: c.count },
          { suffix: '_sum', labels: { kind }, value: c.seconds },
          { suffix: '_count', labels: { kind }, value: c.count },
        ]),
      },
    ]
    d.reset()
    return families
  }

  stop(): void {
    this.#delay.disable()
    this.#observer.disconnect()
  }
}
