// How the benchmark reports a scenario measured in several rounds: the machine's speed drifts within minutes,
// so a figure is the median of its rounds, and a comparison pairs the rounds run in the same minutes.

/** The middle value (the lower middle of an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values')
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

/** The round whose throughput is the median: its latencies and errors stand for the scenario. */
export function medianRound<R extends { throughput: number }>(rounds: readonly R[]): R {
  const m = median(rounds.map((r) => r.throughput))
  return rounds.find((r) => r.throughput === m)!
}

/** Each round's `b` against the `a` of the same round, and the median of those ratios. */
export function pairedRatio(a: readonly { throughput: number }[], b: readonly { throughput: number }[]): { ratios: number[]; median: number } {
  if (a.length !== b.length) throw new Error(`rounds to pair differ in number: ${a.length} and ${b.length}`)
  const ratios = b.map((r, i) => r.throughput / a[i]!.throughput)
  return { ratios, median: median(ratios) }
}
