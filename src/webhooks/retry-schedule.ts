// The contract's retry schedule: the delay before each retry, with ±10 % jitter, then give up.

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE

/** Delay before retry n (n = 1 is the retry after the first failed attempt). */
export const RETRY_DELAYS_MS: readonly number[] = [
  15 * SECOND, 15 * SECOND, 30 * SECOND, 3 * MINUTE, 10 * MINUTE, 20 * MINUTE, 30 * MINUTE, 30 * MINUTE,
  30 * MINUTE, 60 * MINUTE, 3 * HOUR, 3 * HOUR, 3 * HOUR, 6 * HOUR, 6 * HOUR,
]

/**
 * When to try again after `attemptsMade` failed attempts, or null when the schedule is spent.
 * `random` returns [0, 1); the jitter spreads retries so a recovering endpoint is not hit all at once.
 */
export function nextAttemptAt(attemptsMade: number, now: number, random: () => number = Math.random): number | null {
  const delay = RETRY_DELAYS_MS[attemptsMade - 1]
  if (delay === undefined) return null
  const jitter = 1 + (random() * 0.2 - 0.1)
  return now + Math.round(delay * jitter)
}
