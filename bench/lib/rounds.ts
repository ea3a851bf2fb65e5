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

/**
 * Runs `a` and `b` once each per round, who goes first swapping every round, so that a drift of the machine's
 * speed touches both alike; pairedRatio then compares them round by round.
 */
export async function interleavedRounds<R>(rounds: number, a: () => Promise<R>, b: () => Promise<R>): Promise<{ a: R[]; b: R[] }> {
  const runs = { a: [] as R[], b: [] as R[] }
  for (let round = 1; round <= rounds; round++) {
    for (const side of round % 2 === 1 ? (['a', 'b'] as const) : (['b', 'a'] as const)) runs[side].push(await (side === 'a' ? a : b)())
  }
  return runs
}

/** The rounds' throughputs, as a note lists them: "17,150, 16,966, 14,381". */
export function throughputs(rounds: readonly { throughput: number }[]): string {
  return rounds.map((r) => Math.round(r.throughput).toLocaleString('en-US')).join(', ')
}
