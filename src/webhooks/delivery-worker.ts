// The only code that calls merchants: leases due events, POSTs them signed (Standard Webhooks), records every
// attempt, and schedules retries. Each delivery runs on its own, capped globally and per merchant, so one
// slow or hanging endpoint cannot hold up the others.
import type { Logger } from 'pino'
import { signWebhook } from '../../sdk/src/signing.ts'
import type { StoredEvent } from '../core/events.ts'
import { newId } from '../core/ids.ts'
import type { Clock } from '../core/ports.ts'
import { webhookSecretsAt, type MerchantDirectory } from '../merchants/merchant-directory.ts'
import type { Metrics } from '../observability/metrics.ts'
import type { Lease, LeaseRequest, RecordedAttempt, SqlDeliveryQueue } from '../storage/delivery-queue.ts'
import { checkEndpoint } from './endpoint-guard.ts'
import { nextAttemptAt } from './retry-schedule.ts'
import { WebhookSender } from './sender.ts'

export interface DeliveryWorkerOptions {
  queue: SqlDeliveryQueue
  directory: MerchantDirectory
  clock: Clock
  logger: Logger
  metrics: Metrics
  timeoutMs: number
  concurrency: number
  concurrencyPerMerchant: number
  pollIntervalMs: number
  /** Refuse endpoints that resolve to internal addresses. */
  guardEndpoints: boolean
  /** When to try again after a failed attempt: the contract's schedule (retry-schedule.ts) unless a test says. */
  retryAt?: (attemptsMade: number, now: number) => number | null
}

/** The exact body a webhook carries; it is what the signature covers. */
export function webhookBody(event: StoredEvent): string {
  return JSON.stringify({ id: event.id, type: event.type, timestamp: new Date(event.createdAt).toISOString(), data: event.data })
}

/** Most finished attempts recorded in one transaction. */
const MAX_BATCH = 512

export class DeliveryWorker {
  readonly #o: DeliveryWorkerOptions
  /** Requests under way, in all and per merchant: at most the concurrency and the per-merchant cap. */
  #inflight = 0
  readonly #perMerchant = new Map<string, number>()
  /**
   * Leased events waiting for a request slot of their merchant, one round of the cap at most: when an attempt
   * ends, the merchant's next one starts at once instead of after the next record-and-lease round trip.
   */
  readonly #ready = new Map<string, Lease[]>()
  #readyCount = 0
  /** Merchants whose ready events to start once there is room: just leased, or held back by the global bounds. */
  readonly #waitingForRoom = new Set<string>()
  /** Finished attempts, recorded by the next lease in the same transaction. */
  #finished: RecordedAttempt[] = []
  #running = false
  #wake: (() => void) | null = null
  #woken = false
  /** Whether the next lease should read the whole queue for other merchants (see LeaseRequest.discover). */
  #discover = true
  #discoveredAt = 0
  #loop: Promise<void> | null = null
  #stopping: Promise<void> | null = null
  /** The earliest retry this worker scheduled and a timer to look for it then, not up to a poll interval late. */
  #retryAt: number | null = null
  #retryTimer: ReturnType<typeof setTimeout> | null = null
  readonly #sender: WebhookSender

  constructor(options: DeliveryWorkerOptions) {
    this.#o = options
    // One connection pool per merchant and origin, each at most the per-merchant cap. In production every
    // connection goes through a lookup that refuses internal addresses, so the address checked is the address
    // connected to.
    this.#sender = new WebhookSender({
      timeoutMs: options.timeoutMs,
      connectionsPerOrigin: options.concurrencyPerMerchant,
      guardEndpoints: options.guardEndpoints,
    })
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#sender.warmUp()
    this.#loop = this.#run()
  }

  /** Looks for work now instead of at the next poll (called after events are committed). */
  wake(): void {
    this.#discover = true
    this.#nudge()
  }

  /**
   * Stops leasing new work, waits for deliveries in flight to finish and be recorded, and gives back the leases
   * of events it had not started.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop(): Promise<void> {
    this.#running = false
    if (this.#retryTimer) clearTimeout(this.#retryTimer)
    this.#retryTimer = null
    this.#retryAt = null
    this.#nudge()
    await this.#loop
    const unstarted = [...this.#ready.values()].flat()
    this.#ready.clear()
    this.#readyCount = 0
    if (unstarted.length > 0) {
      try {
        await this.#o.queue.release(unstarted)
      } catch (err) {
        // Their leases run out on their own; the events are attempted then.
        this.#o.logger.error({ err }, 'webhook leases not given back')
      }
    }
    await this.#sender.close()
  }

  get inflight(): number {
    return this.#inflight
  }

  /** Runs the loop again soon; alone (a finished attempt) it gives room only to merchants already seen. */
  #nudge(): void {
    this.#woken = true
    this.#wake?.()
  }

  async #run(): Promise<void> {
    while (this.#running || this.#inflight > 0 || this.#finished.length > 0) {
      let more = false
      try {
        more = await this.#recordAndLease()
      } catch (err) {
        this.#o.logger.error({ err }, 'webhook lease failed')
      }
      // Otherwise the loop waits for a reason to look again: finished attempts, new events, or the poll.
      if (more || this.#finished.length > 0) continue
      // Stopping, and the last attempt under way is recorded: nothing is left to wake the loop but the poll,
      // whose timer does not keep the process alive, so a shutdown could end before stop() returned.
      if (!this.#running && this.#inflight === 0 && this.#finished.length === 0) break
      await this.#sleep()
    }
  }

  #sleep(): Promise<void> {
    if (this.#woken) {
      this.#woken = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#o.pollIntervalMs)
      timer.unref?.()
      const self = this
      function done() {
        clearTimeout(timer)
        self.#wake = null
        self.#woken = false
        resolve()
      }
      this.#wake = done
    })
  }

  /**
   * Records the attempts finished so far and leases what the slots (and one ready round per merchant) can
   * take, in one transaction, then starts what has room. True when the lease was full, so more may be due.
   */
  async #recordAndLease(): Promise<boolean> {
    const finished = this.#finished.splice(0, MAX_BATCH)
    const recent = new Set(finished.map(({ lease }) => lease.event.merchantId))
    const cap = this.#o.concurrencyPerMerchant
    // Leases cover the requests under way and a round ready behind them.
    const free = this.#running ? 2 * this.#o.concurrency - this.#inflight - this.#readyCount : 0
    if (free <= 0 && finished.length === 0) return false
    const now = this.#o.clock.now()
    // Retries fall due with time, and other processes add events: at least once a poll interval, busy or not,
    // the lease reads everything. A round with no room to lease leaves a look asked for to the next that has room.
    const discover = free > 0 && (this.#discover || now - this.#discoveredAt >= this.#o.pollIntervalMs)
    if (discover) {
      this.#discover = false
      this.#discoveredAt = now
    }
    const held = (merchantId: string) => (this.#perMerchant.get(merchantId) ?? 0) + (this.#ready.get(merchantId)?.length ?? 0)
    const request: LeaseRequest = {
      now,
      // The lease outlives the request timeout, so no other worker retries an attempt still under way.
      leaseUntil: now + this.#o.timeoutMs + 30_000,
      limit: Math.max(0, free),
      room: (merchantId) => 2 * cap - held(merchantId),
      recent: [...recent],
      atCap: [...new Set([...this.#perMerchant.keys(), ...this.#ready.keys()])].filter((m) => held(m) >= 2 * cap),
      discover,
    }
    let leases: Lease[]
    try {
      leases = await this.#o.queue.recordAndLease(finished, request)
    } catch (err) {
      if (discover) this.#discover = true
      if (finished.length > 0) await this.#recordAlone(finished)
      throw err
    }
    for (const attempt of finished) {
      this.#reportRecorded(attempt)
      if (attempt.outcome.nextAttemptAt !== null) this.#lookAt(attempt.outcome.nextAttemptAt)
    }
    for (const lease of leases) {
      const merchantId = lease.event.merchantId
      const ready = this.#ready.get(merchantId)
      if (ready) ready.push(lease)
      else this.#ready.set(merchantId, [lease])
      this.#readyCount++
      this.#waitingForRoom.add(merchantId)
    }
    this.#startWaiting()
    // A full lease may have left more behind, anywhere in the queue.
    const full = request.limit > 0 && leases.length === request.limit
    if (full) this.#discover = true
    return full
  }

  /**
   * Looks for due events at `at` (a retry just scheduled), so the retry goes within milliseconds of its time
   * rather than at the next poll. One timer, for the earliest; the poll still finds everything else.
   */
  #lookAt(at: number): void {
    if (!this.#running || (this.#retryAt !== null && this.#retryAt <= at)) return
    if (this.#retryTimer) clearTimeout(this.#retryTimer)
    this.#retryAt = at
    this.#retryTimer = setTimeout(() => {
      this.#retryAt = null
      this.#retryTimer = null
      // A timer can run before the clock the lease reads says `at` (the wall clock stepped back, say): a look now
      // would not see the retry due, so wait out the rest.
      if (this.#o.clock.now() < at) this.#lookAt(at)
      else this.wake()
    }, Math.max(0, at - this.#o.clock.now()))
    this.#retryTimer.unref?.()
  }

  /** After a failed batch: one attempt the database refuses must not cost the others their records. */
  async #recordAlone(finished: RecordedAttempt[]): Promise<void> {
    for (const attempt of finished) {
      try {
        await this.#o.queue.recordAndLease([attempt], null)
        this.#reportRecorded(attempt)
        if (attempt.outcome.nextAttemptAt !== null) this.#lookAt(attempt.outcome.nextAttemptAt)
      } catch (err) {
        // Unrecorded, the event stays leased until its lease runs out, then is attempted again.
        this.#o.logger.error({ err, event_id: attempt.lease.event.id }, 'webhook attempt not recorded')
      }
    }
  }

  /** Starts the merchant's ready events its cap and the global concurrency have room for. */
  #startReady(merchantId: string): void {
    const ready = this.#ready.get(merchantId)
    while (ready && ready.length > 0 && this.#running && (this.#perMerchant.get(merchantId) ?? 0) < this.#o.concurrencyPerMerchant) {
      // Unrecorded attempts wait in memory: past a bound, nothing starts until a round has recorded them.
      if (this.#inflight >= this.#o.concurrency || this.#finished.length >= MAX_BATCH) {
        this.#waitingForRoom.add(merchantId)
        return
      }
      this.#readyCount--
      this.#dispatch(ready.shift()!)
    }
    if (ready?.length === 0) this.#ready.delete(merchantId)
  }

  /** Starts ready events of merchants that were waiting for global room, while there is some. */
  #startWaiting(): void {
    for (const merchantId of [...this.#waitingForRoom]) {
      if (this.#inflight >= this.#o.concurrency || this.#finished.length >= MAX_BATCH) return
      this.#waitingForRoom.delete(merchantId)
      this.#startReady(merchantId)
    }
  }

  #dispatch(lease: Lease): void {
    const merchantId = lease.event.merchantId
    this.#inflight++
    this.#perMerchant.set(merchantId, (this.#perMerchant.get(merchantId) ?? 0) + 1)
    this.#deliver(lease)
      .then(
        (attempt) => this.#finished.push(attempt),
        (err) => this.#o.logger.error({ err, event_id: lease.event.id }, 'webhook delivery crashed'),
      )
      .finally(() => {
        this.#release(merchantId)
        this.#startReady(merchantId)
        if (this.#waitingForRoom.size > 0) this.#startWaiting()
        this.#nudge()
      })
  }

  #release(merchantId: string): void {
    this.#inflight--
    const n = (this.#perMerchant.get(merchantId) ?? 1) - 1
    if (n <= 0) this.#perMerchant.delete(merchantId)
    else this.#perMerchant.set(merchantId, n)
  }

  #reportRecorded({ lease: { event }, outcome }: RecordedAttempt): void {
    const result = outcome.delivered ? 'delivered' : outcome.nextAttemptAt === null ? 'failed' : 'retrying'
    this.#o.metrics.inc('scanpay_webhook_deliveries_total', { outcome: result })
    this.#o.logger.info(
      // Without its query: merchants put tokens there, and the log is not theirs (the attempt rows keep it whole).
      { event_id: event.id, url: outcome.url?.split('?')[0] ?? null, status_code: outcome.statusCode, latency_ms: outcome.latencyMs, error: outcome.error, outcome: result },
      'webhook attempt',
    )
  }

  /** Makes one attempt; what it returns is recorded by the next lease. */
  async #deliver(lease: Lease): Promise<RecordedAttempt> {
    const { event, oneShot } = lease
    const at = this.#o.clock.now()
    const started = performance.now()
    let url: string | null = null
    let statusCode: number | null = null
    let error: string | null = null
    try {
      const merchant = await this.#o.directory.merchant(event.merchantId)
      url = event.notifyUrl ?? merchant?.webhookUrl ?? null
      if (!merchant) error = 'merchant not found'
      else if (!url) error = 'no webhook URL: the order has no notify_url and the merchant no default'
      else if (this.#o.guardEndpoints) error = checkEndpoint(url)
      if (merchant && url && error === null) {
        const body = webhookBody(event)
        const timestamp = Math.floor(Date.now() / 1000)
        const target = new URL(url)
        const response = await this.#sender.send({
          poolKey: event.merchantId,
          origin: target.origin,
          path: target.pathname + target.search,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'ScanPay-Webhooks/1',
            'webhook-id': event.id,
            'webhook-timestamp': String(timestamp),
            // During a secret's roll, one signature per secret, space-separated, as Standard Webhooks defines.
            'webhook-signature': webhookSecretsAt(merchant, timestamp * 1000).map((secret) => signWebhook(secret, event.id, timestamp, body)).join(' '),
          },
          body,
        })
        statusCode = response.statusCode
        error = response.error
      }
      if (statusCode !== null && (statusCode < 200 || statusCode > 299)) error = `HTTP ${statusCode}`
    } catch (err) {
      // Whatever failed (the request, DNS, the guard, or reading the merchant), it is an attempt that counts.
      const e = err as Error & { code?: string }
      error = e.name === 'TimeoutError' ? e.message : (e.code ?? e.message)
    }
    const latencyMs = Math.round(performance.now() - started)
    const delivered = error === null
    const retryAt = delivered || oneShot ? null : (this.#o.retryAt ?? nextAttemptAt)(event.attemptCount + 1, this.#o.clock.now())
    return {
      lease,
      outcome: { attemptId: newId('whd', at), url, at, statusCode, latencyMs, error, delivered, nextAttemptAt: retryAt },
    }
  }
}
