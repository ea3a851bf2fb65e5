// SIGTERM and SIGINT for `scanpay start`, a node or a cluster's primary alike: the first begins a graceful stop,
// a second one (an operator who will not wait) cuts it short.

/**
 * A signal within this long of the first is the same Ctrl-C arriving twice (to the terminal's process group, and
 * passed on by npx or a cluster primary), not an operator's second signal.
 */
export const SECOND_SIGNAL_AFTER_MS = 1000

export interface StopHandlers {
  /** The graceful stop; called once, by the first signal or by stop(). */
  first(reason: string): void
  /** An operator's second signal while the first is under way. */
  second(signal: NodeJS.Signals): void
}

/** Listens for the stop signals; returns stop(reason), which begins the graceful stop for another cause. */
export function onStopSignals(handlers: StopHandlers): (reason: string) => void {
  let firstAt: number | null = null
  const stop = (reason: string) => {
    if (firstAt !== null) return
    firstAt = Date.now()
    handlers.first(reason)
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstAt === null) return stop(signal)
    if (Date.now() - firstAt >= SECOND_SIGNAL_AFTER_MS) handlers.second(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return stop
}
