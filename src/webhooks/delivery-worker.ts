// The only code that calls merchants: leases due events, POSTs them signed (Standard Webhooks), records every
// attempt, and schedules retries. Each delivery runs on its own, capped globally and per merchant, so one
// slow or hanging endpoint cannot hold up the others.
import type { Logger } from 'pino'
import { signWebhook } from '../../sdk/src/signing.ts'
import type { StoredEvent } from '../core/events.ts'
import { newId } from '../core/ids.ts'
import type { Clock } from '../core/ports.ts'
import type { MerchantDirectory } from '../merchants/merchant-directory.ts'
import type { Metrics } from '../observability/metrics.ts'
import type { Lease, SqlDeliveryQueue } from '../storage/delivery-queue.ts'
import { Agent, fetch } from 'undici'
import { checkEndpoint, guardedLookup } from './endpoint-guard.ts'
import { nextAttemptAt } from './retry-schedule.ts'

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
}

/** The exact body a webhook carries; it is what the signature covers. */
export function webhookBody(event: StoredEvent): string {
  return JSON.stringify({ id: event.id, type: event.type, timestamp: new Date(event.createdAt).toISOString(), data: event.data })
}

export class DeliveryWorker {
  readonly #o: DeliveryWorkerOptions
  readonly #inflight = new Set<Promise<void>>()
  readonly #perMerchant = new Map<string, number>()
  #running = false
  #wake: (() => void) | null = null
  #woken = false
  #loop: Promise<void> | null = null
  readonly #dispatcher: Agent

  constructor(options: DeliveryWorkerOptions) {
    this.#o = options
    // In production every connection goes through a lookup that refuses internal addresses, so the address
    // checked is the address connected to.
    this.#dispatcher = new Agent({
      connections: options.concurrencyPerMerchant,
      keepAliveTimeout: 10_000,
      ...(options.guardEndpoints ? { connect: { lookup: guardedLookup } } : {}),
    })
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#loop = this.#run()
  }

  /** Looks for work now instead of at the next poll (called after events are committed). */
  wake(): void {
    this.#woken = true
    this.#wake?.()
  }

  /** Stops leasing new work and waits for deliveries in flight to finish. */
  async stop(): Promise<void> {
    this.#running = false
    this.wake()
    await this.#loop
    await Promise.allSettled([...this.#inflight])
    await this.#dispatcher.close()
  }

  get inflight(): number {
    return this.#inflight.size
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let leased = 0
      try {
        leased = await this.#leaseAndDispatch()
      } catch (err) {
        this.#o.logger.error({ err }, 'webhook lease failed')
      }
      if (leased > 0 && this.#inflight.size < this.#o.concurrency) continue
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

  async #leaseAndDispatch(): Promise<number> {
    const free = this.#o.concurrency - this.#inflight.size
    if (free <= 0) return 0
    const now = this.#o.clock.now()
    const room = (merchantId: string) => this.#o.concurrencyPerMerchant - (this.#perMerchant.get(merchantId) ?? 0)
    // The lease outlives the request timeout, so no other worker retries an attempt still under way.
    const leases = await this.#o.queue.lease(now, now + this.#o.timeoutMs + 30_000, free, room)
    for (const lease of leases) {
      const merchantId = lease.event.merchantId
      this.#perMerchant.set(merchantId, (this.#perMerchant.get(merchantId) ?? 0) + 1)
      const p = this.#deliver(lease)
        .catch((err) => this.#o.logger.error({ err, event_id: lease.event.id }, 'webhook delivery crashed'))
        .finally(() => {
          this.#inflight.delete(p)
          const n = (this.#perMerchant.get(merchantId) ?? 1) - 1
          if (n <= 0) this.#perMerchant.delete(merchantId)
          else this.#perMerchant.set(merchantId, n)
          // A freed slot may let a waiting merchant's events through.
          if (this.#running) this.wake()
        })
      this.#inflight.add(p)
    }
    return leases.length
  }

  async #deliver(lease: Lease): Promise<void> {
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
        const res = await fetch(url, {
          method: 'POST',
          redirect: 'manual',
          signal: AbortSignal.timeout(this.#o.timeoutMs),
          dispatcher: this.#dispatcher,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'ScanPay-Webhooks/1',
            'webhook-id': event.id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signWebhook(merchant.webhookSecret, event.id, timestamp, body),
          },
          body,
        })
        statusCode = res.status
        await res.body?.cancel().catch(() => {})
        if (res.status < 200 || res.status > 299) error = `HTTP ${res.status}`
      }
    } catch (err) {
      // Whatever failed (the request, DNS, the guard, or reading the merchant), it is an attempt that counts.
      const e = err as Error & { cause?: { code?: string; message?: string } }
      error = e.name === 'TimeoutError' ? `timed out after ${this.#o.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message)
    }
    const latencyMs = Math.round(performance.now() - started)
    const delivered = error === null
    const attemptsMade = event.attemptCount + 1
    const finished = this.#o.clock.now()
    const retryAt = delivered || oneShot ? null : nextAttemptAt(attemptsMade, finished)
    await this.#o.queue.record(lease, {
      attemptId: newId('whd', at),
      url,
      at,
      statusCode,
      latencyMs,
      error,
      delivered,
      nextAttemptAt: retryAt,
    })
    const outcome = delivered ? 'delivered' : retryAt === null ? 'failed' : 'retrying'
    this.#o.metrics.inc('scanpay_webhook_deliveries_total', { outcome })
    this.#o.logger.info({ event_id: event.id, url, status_code: statusCode, latency_ms: latencyMs, error, outcome }, 'webhook attempt')
  }
}
