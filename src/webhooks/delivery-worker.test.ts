// The delivery worker against a real SQLite queue and a local endpoint: a merchant whose retry falls due is
// served while another merchant's backlog keeps the worker busy (the worker looks at the whole queue at least
// once a poll interval, not only when it runs out of work), and every attempt is recorded once.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import type { MerchantDirectory } from '../merchants/merchant-directory.ts'
import { Metrics } from '../observability/metrics.ts'
import { migrate, openDatabase, type OpenDatabase } from '../storage/database.ts'
import { SqlDeliveryQueue, type Lease, type LeaseRequest, type RecordedAttempt } from '../storage/delivery-queue.ts'
import { DeliveryWorker, type DeliveryWorkerOptions } from './delivery-worker.ts'
import { insertDueEvents } from '../../test/helpers/events.ts'

describe('DeliveryWorker', () => {
  let database: OpenDatabase
  let server: Server
  let url: string
  const arrivals: { merchant: string; at: number }[] = []
  /** Requests each merchant has open at the endpoint now, and the most it ever had. */
  const open = new Map<string, number>()
  const mostOpen = new Map<string, number>()

  before(async () => {
    database = await openDatabase(`sqlite:${join(mkdtempSync(join(tmpdir(), 'scanpay-dw-')), 'x.db')}`)
    await migrate(database.db)
    server = createServer((req, res) => {
      const merchant = req.url!.slice(1)
      open.set(merchant, (open.get(merchant) ?? 0) + 1)
      mostOpen.set(merchant, Math.max(mostOpen.get(merchant) ?? 0, open.get(merchant)!))
      req.resume()
      req.on('end', () => {
        // This merchant's endpoint fails its first request, so the event is retried.
        if (merchant === 'mch_flaky' && !arrivals.some((a) => a.merchant === merchant)) res.statusCode = 500
        arrivals.push({ merchant, at: Date.now() })
        // Slow enough that the busy merchant's backlog outlasts the test's waiting.
        setTimeout(() => {
          open.set(merchant, open.get(merchant)! - 1)
          res.end('ok')
        }, 5)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server.close()
    await database.close()
  })

  const workerOn = (queue: SqlDeliveryQueue, directory: MerchantDirectory, pollIntervalMs: number, retryAt?: DeliveryWorkerOptions['retryAt']) =>
    new DeliveryWorker({
      retryAt,
      queue,
      directory,
      clock: { now: () => Date.now() },
      logger: pino({ level: 'silent' }),
      metrics: new Metrics(),
      timeoutMs: 2_000,
      concurrency: 8,
      concurrencyPerMerchant: 2,
      pollIntervalMs,
      guardEndpoints: false,
    })

  const due = (merchantId: string, count: number, at: number) =>
    insertDueEvents(database.db, merchantId, count, at, { notifyUrl: `${url}/${merchantId}` })

  it('serves a merchant whose event falls due while another keeps it busy, and records every attempt', async () => {
    const now = Date.now()
    await due('mch_busy', 300, now)
    await due('mch_later', 1, now + 150)
    const directory = {
      merchant: async (id: string) => ({ id, name: id, webhookUrl: null, webhookSecret: 'whsec_' + Buffer.from('k'.repeat(32)).toString('base64') }),
    } as unknown as MerchantDirectory
    const worker = workerOn(new SqlDeliveryQueue(database.db, 'sqlite'), directory, 50)
    worker.start()
    const deadline = Date.now() + 5_000
    while (!arrivals.some((a) => a.merchant === 'mch_later') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    await worker.stop()
    const later = arrivals.find((a) => a.merchant === 'mch_later')
    assert.ok(later, 'the later event was delivered')
    const busyBefore = arrivals.filter((a) => a.merchant === 'mch_busy' && a.at <= later.at).length
    assert.ok(busyBefore < 300, `delivered while the busy merchant still had a backlog (${busyBefore} of 300 done)`)
    // Stopping waits for attempts under way to be recorded: one record per request the endpoint saw.
    const recorded = await database.db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    assert.equal(Number(recorded.n), arrivals.length)
    const delivered = await database.db.selectFrom('events').select('id').where('delivery_status', '=', 'delivered').execute()
    assert.equal(delivered.length, arrivals.length)
  })

  it('keeps a merchant within its cap while more of its events wait leased, and gives those back on stop', async () => {
    // Alone in the queue: what the test before left undelivered is done with.
    await database.db.updateTable('events').set({ delivery_status: 'failed', next_attempt_at: null, locked_until: null }).where('delivery_status', '=', 'pending').execute()
    await due('mch_cap', 400, Date.now())
    const directory = {
      merchant: async (id: string) => ({ id, name: id, webhookUrl: null, webhookSecret: 'whsec_' + Buffer.from('k'.repeat(32)).toString('base64') }),
    } as unknown as MerchantDirectory
    const worker = workerOn(new SqlDeliveryQueue(database.db, 'sqlite'), directory, 50)
    worker.start()
    let mostInflight = 0
    const sampler = setInterval(() => (mostInflight = Math.max(mostInflight, worker.inflight)), 1)
    const deadline = Date.now() + 5_000
    while (arrivals.filter((a) => a.merchant === 'mch_cap').length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    await worker.stop()
    clearInterval(sampler)
    // The worker's own count, and what the endpoint saw (the sender's pool has as many connections).
    assert.ok(mostInflight <= 2, `never more attempts under way than the per-merchant cap of 2 (saw ${mostInflight})`)
    assert.ok(mostOpen.get('mch_cap')! <= 2, `never more requests at once than the per-merchant cap of 2 (saw ${mostOpen.get('mch_cap')})`)
    const events = await database.db.selectFrom('events').select(['delivery_status', 'locked_until']).where('merchant_id', '=', 'mch_cap').execute()
    const delivered = events.filter((e) => e.delivery_status === 'delivered').length
    assert.equal(delivered, arrivals.filter((a) => a.merchant === 'mch_cap').length)
    assert.ok(delivered < 400, `stopped with events left (${delivered} of 400 delivered)`)
    // What was leased but not started is free at once, not when its lease would have run out.
    assert.deepEqual(events.filter((e) => e.locked_until !== null), [])
  })

  it('stops once an attempt under way when stop() was called is recorded, without waiting for the poll', async () => {
    // The merchant look-up is held open, so the attempt is still under way when stop() is called.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let lookedUp!: () => void
    const underWay = new Promise<void>((resolve) => (lookedUp = resolve))
    const directory = {
      merchant: async (id: string) => {
        lookedUp()
        await held
        return { id, name: id, webhookUrl: null, webhookSecret: 'whsec_' + Buffer.from('k'.repeat(32)).toString('base64') }
      },
    } as unknown as MerchantDirectory
    const recorded: RecordedAttempt[] = []
    let leased = false
    const lease: Lease = {
      event: { id: 'evt_stop', merchantId: 'mch_stop', type: 'order.paid', data: {}, createdAt: Date.now(), attemptCount: 0, notifyUrl: null } as unknown as Lease['event'],
      oneShot: false,
      leaseUntil: Date.now() + 60_000,
    }
    const queue = {
      async recordAndLease(finished: readonly RecordedAttempt[], request: { limit: number } | null): Promise<Lease[]> {
        recorded.push(...finished)
        if (leased || !request || request.limit === 0) return []
        leased = true
        return [lease]
      },
    } as unknown as SqlDeliveryQueue
    // A poll far away: only the attempt's end can let the loop finish in time.
    const worker = workerOn(queue, directory, 60_000)
    worker.start()
    await underWay
    const stopped = worker.stop()
    await new Promise((resolve) => setTimeout(resolve, 20))
    release()
    let timer!: NodeJS.Timeout
    const outcome = await Promise.race([
      stopped.then(() => 'stopped'),
      new Promise((resolve) => (timer = setTimeout(() => resolve('still running after 2 s'), 2_000))),
    ])
    clearTimeout(timer)
    assert.equal(outcome, 'stopped')
    assert.equal(recorded.length, 1, 'the attempt under way was recorded before stop() returned')
    assert.equal(recorded[0]!.outcome.error, 'no webhook URL: the order has no notify_url and the merchant no default')
  })

  it('makes a retry when it falls due, not at the next poll', async () => {
    await due('mch_flaky', 1, Date.now())
    const directory = {
      merchant: async (id: string) => ({ id, name: id, webhookUrl: null, webhookSecret: 'whsec_' + Buffer.from('k'.repeat(32)).toString('base64') }),
    } as unknown as MerchantDirectory
    // A poll a minute away and a retry 300 ms after the failure: only the retry's own timer can make it in time.
    const worker = workerOn(new SqlDeliveryQueue(database.db, 'sqlite'), directory, 60_000, (_n, now) => now + 300)
    worker.start()
    // Far inside the poll, with room for a loaded machine.
    const deadline = Date.now() + 15_000
    while (arrivals.filter((a) => a.merchant === 'mch_flaky').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    await worker.stop()
    const [first, second] = arrivals.filter((a) => a.merchant === 'mch_flaky')
    const row = await database.db.selectFrom('events').selectAll().where('merchant_id', '=', 'mch_flaky').executeTakeFirst()
    assert.ok(first && second, `the event was retried within 15 s (attempts: ${first ? 1 : 0}, the event now: ${JSON.stringify(row)}, at ${Date.now()})`)
    const gap = second.at - first.at
    assert.ok(gap >= 290 && gap < 10_000, `retried ${gap} ms after the failure`)
  })

  it('looks for a retry again when its timer runs before the clock the lease reads reaches it', async () => {
    const directory = {
      merchant: async (id: string) => ({ id, name: id, webhookUrl: null, webhookSecret: 'whsec_' + Buffer.from('k'.repeat(32)).toString('base64') }),
    } as unknown as MerchantDirectory
    let offset = 0
    let retryAt = 0
    let leased = false
    const looks: number[] = []
    const queue = {
      async recordAndLease(finished: readonly RecordedAttempt[], request: LeaseRequest | null): Promise<Lease[]> {
        for (const attempt of finished) {
          retryAt = attempt.outcome.nextAttemptAt!
          // The wall clock steps back half a second once the retry's timer is set: it runs before the retry is due.
          setTimeout(() => (offset = -500), 50)
        }
        if (request?.discover && retryAt > 0) looks.push(request.now)
        if (leased || !request) return []
        leased = true
        const event = { id: 'evt_step', merchantId: 'mch_step', type: 'order.paid', data: {}, createdAt: Date.now(), attemptCount: 0, notifyUrl: null }
        return [{ event: event as unknown as Lease['event'], oneShot: false, leaseUntil: Date.now() + 60_000 }]
      },
      async release() {},
    } as unknown as SqlDeliveryQueue
    const worker = new DeliveryWorker({
      retryAt: (_n, now) => now + 300,
      queue,
      directory,
      clock: { now: () => Date.now() + offset },
      logger: pino({ level: 'silent' }),
      metrics: new Metrics(),
      timeoutMs: 2_000,
      concurrency: 8,
      concurrencyPerMerchant: 2,
      pollIntervalMs: 60_000,
      guardEndpoints: false,
    })
    worker.start()
    const deadline = Date.now() + 5_000
    while (!looks.some((now) => now >= retryAt) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    await worker.stop()
    assert.ok(retryAt > 0, 'the attempt failed and was given a retry')
    assert.ok(
      looks.some((now) => now >= retryAt),
      `a look at the queue once the retry was due by the lease's clock (looks at ${looks.map((n) => n - retryAt).join(', ')} ms from it)`,
    )
  })
})
