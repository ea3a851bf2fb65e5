// Paying through the sandbox, events and signed webhooks over real HTTP, on SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api, ORDER } from './helpers/server.ts'
import { webhookSecretsAt } from '../src/merchants/merchant-directory.ts'
import { newWebhookSecret } from '../src/security/credentials.ts'
import { eventually, sleep, WebhookReceiver } from './helpers/webhook-receiver.ts'

describeEachDatabase('sandbox payments and webhooks', (t) => {
  const url = () => t.server.url
  const sk = () => t.server.merchant.test.secret
  const receiver = new WebhookReceiver()
  before(() => receiver.start())
  after(() => receiver.stop())

  it('pays an order once under 20 concurrent pays: one order.paid, one delivery, verified by standardwebhooks', async () => {
    const o = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'pay-20', notify_url: receiver.url })).body
    const results = await Promise.all(Array.from({ length: 20 }, () => api(url(), sk(), 'POST', `/v1/test_helpers/orders/${o.id}/pay`)))
    const ok = results.filter((r) => r.status === 200)
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)))
    assert.ok(results.filter((r) => r.status !== 200).every((r) => r.status === 409 && r.body.error.code === 'order_not_pending'))
    const paid = ok[0]!.body
    assert.equal(paid.status, 'paid')
    assert.equal(paid.channel, 'sandbox')
    assert.match(paid.channel_trade_no, /^sbx_/)
    assert.ok(paid.paid_at)

    await eventually(async () => receiver.received.some((w) => JSON.parse(w.body).data.id === o.id))
    await sleep(300)
    const mine = receiver.received.filter((w) => JSON.parse(w.body).data.id === o.id)
    assert.equal(mine.length, 1, 'exactly one delivery')
    const hook = mine[0]!
    const wh = new Webhook(t.server.merchant.webhook_secret)
    const verified = wh.verify(hook.body, {
      'webhook-id': String(hook.headers['webhook-id']),
      'webhook-timestamp': String(hook.headers['webhook-timestamp']),
      'webhook-signature': String(hook.headers['webhook-signature']),
    }) as any
    assert.equal(verified.type, 'order.paid')
    assert.match(verified.id, /^evt_/)
    assert.equal(hook.headers['webhook-id'], verified.id)
    assert.equal(hook.headers['content-type'], 'application/json')
    assert.deepEqual(verified.data, paid)
    assert.ok(!Number.isNaN(Date.parse(verified.timestamp)))
    assert.throws(() => wh.verify(hook.body.replace('1234', '1'), hook.headers as any), 'a changed body fails verification')

    const events = await api(url(), sk(), 'GET', `/v1/events?order_id=${o.id}`)
    assert.equal(events.body.data.length, 1)
    const event = await eventually(async () => {
      const e = await api(url(), sk(), 'GET', `/v1/events/${verified.id}`)
      return e.body.delivery_status === 'delivered' ? e.body : null
    })
    assert.equal(event.object, 'event')
    assert.equal(event.type, 'order.paid')
    assert.equal(event.order_id, o.id)
    assert.equal(event.attempts.length, 1)
    assert.equal(event.attempts[0].status_code, 200)
    assert.equal(event.attempts[0].error, null)
    assert.equal(typeof event.attempts[0].latency_ms, 'number')
  })

  it('refuses to pay an order that is not pending, and changes nothing', async () => {
    const o = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'pay-closed' })).body
    await api(url(), sk(), 'POST', `/v1/orders/${o.id}/close`)
    const res = await api(url(), sk(), 'POST', `/v1/test_helpers/orders/${o.id}/pay`)
    assert.equal(res.status, 409)
    assert.equal(res.body.error.code, 'order_not_pending')
    assert.equal((await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)).body.status, 'closed')
    const events = await api(url(), sk(), 'GET', `/v1/events?order_id=${o.id}`)
    assert.deepEqual(events.body.data.map((e: any) => e.type), ['order.closed'])
  })

  it('sends to the merchant default URL when the order has no notify_url', async () => {
    const m = await t.server.newMerchant('Default URL', receiver.url)
    const o = (await api(url(), m.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'default-url' })).body
    await api(url(), m.test.secret, 'POST', `/v1/test_helpers/orders/${o.id}/pay`)
    const hook = await eventually(async () => receiver.received.find((w) => JSON.parse(w.body).data.id === o.id))
    new Webhook(m.webhook_secret).verify(hook.body, hook.headers as any)
  })

  it('signs with the new webhook secret and the one it replaced while the old retires, each verifiable alone', async () => {
    const m = await t.server.newMerchant('Rolled secret', receiver.url)
    const { ctx } = t.server.server
    const fresh = newWebhookSecret()
    await ctx.storage.merchants.rollWebhookSecret(m.merchant_id, ctx.box.encrypt(fresh), Date.now() + 3_600_000, Date.now())
    const o = (await api(url(), m.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'rolled-secret' })).body
    await api(url(), m.test.secret, 'POST', `/v1/test_helpers/orders/${o.id}/pay`)
    const hook = await eventually(async () => receiver.received.find((w) => JSON.parse(w.body).data.id === o.id))
    assert.equal(String(hook.headers['webhook-signature']).split(' ').length, 2)
    for (const secret of [fresh, m.webhook_secret]) assert.equal((new Webhook(secret).verify(hook.body, hook.headers as any) as any).data.id, o.id)
    assert.throws(() => new Webhook(newWebhookSecret()).verify(hook.body, hook.headers as any))
    // The old one's time over: one signature, the new secret's.
    const later = await ctx.directory.merchant(m.merchant_id)
    assert.deepEqual(webhookSecretsAt(later!, Date.now() + 3_600_001), [fresh])
  })

  it('expires a pending order past expires_at without anyone asking, once, with order.expired', async () => {
    const o = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'expire-1', expires_in: 60, notify_url: receiver.url })).body
    // Move its deadline into the past, as the passing of a minute would.
    await t.server.server.ctx.storage.database.db.updateTable('orders').set({ expires_at: Date.now() - 1 }).where('id', '=', o.id).execute()
    const expired = await eventually(async () => {
      const r = await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)
      return r.body.status === 'expired' ? r.body : null
    })
    assert.equal(expired.status, 'expired')
    await sleep(300)
    const events = await api(url(), sk(), 'GET', `/v1/events?order_id=${o.id}`)
    assert.deepEqual(events.body.data.map((e: any) => e.type), ['order.expired'])
    const pay = await api(url(), sk(), 'POST', `/v1/test_helpers/orders/${o.id}/pay`)
    assert.equal(pay.status, 409)
    const close = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/close`)
    assert.equal(close.status, 409)
  })

  it('does not pay an order whose time ran out before the expiry job reached it', async () => {
    const o = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'expire-race', expires_in: 60 })).body
    await t.server.server.ctx.storage.database.db.updateTable('orders').set({ expires_at: Date.now() - 1 }).where('id', '=', o.id).execute()
    const pay = await api(url(), sk(), 'POST', `/v1/test_helpers/orders/${o.id}/pay`)
    assert.equal(pay.status, 409)
  })

  it('lists events newest first with pagination, and 404s another merchant’s event', async () => {
    const m = await t.server.newMerchant('Eventful')
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const o = (await api(url(), m.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: `ev-${i}` })).body
      await api(url(), m.test.secret, 'POST', `/v1/orders/${o.id}/close`)
      ids.push(o.id)
    }
    const p1 = await api(url(), m.test.secret, 'GET', '/v1/events?limit=2')
    assert.equal(p1.body.data.length, 2)
    assert.equal(p1.body.has_more, true)
    const p2 = await api(url(), m.test.secret, 'GET', `/v1/events?limit=2&cursor=${p1.body.next_cursor}`)
    assert.equal(p2.body.data.length, 1)
    assert.equal(p2.body.has_more, false)
    assert.deepEqual([...p1.body.data, ...p2.body.data].map((e: any) => e.order_id), [...ids].reverse())
    const other = await api(url(), sk(), 'GET', `/v1/events/${p1.body.data[0].id}`)
    assert.equal(other.status, 404)
  })
})

describeEachDatabase('webhook retries and the delivery log', (t) => {
  const url = () => t.server.url
  const sk = () => t.server.merchant.test.secret
  const receiver = new WebhookReceiver()
  before(() => receiver.start())
  after(() => receiver.stop())

  it('records a failure, retries on schedule, and delivers once the endpoint recovers', async () => {
    receiver.behaviour = 'fail'
    const o = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'retry-1', notify_url: receiver.url })).body
    await api(url(), sk(), 'POST', `/v1/test_helpers/orders/${o.id}/pay`)
    await receiver.waitFor(1)
    const eventId = String(receiver.received[0]!.headers['webhook-id'])
    const failed = await eventually(async () => {
      const e = (await api(url(), sk(), 'GET', `/v1/events/${eventId}`)).body
      return e.attempts.length === 1 ? e : null
    })
    assert.equal(failed.delivery_status, 'pending')
    assert.equal(failed.attempts[0].status_code, 500)
    assert.equal(failed.attempts[0].error, 'HTTP 500')
    const row = await t.server.server.ctx.storage.database.db.selectFrom('events').select(['next_attempt_at']).where('id', '=', eventId).executeTakeFirstOrThrow()
    // Counted from the attempt's end (its start plus its latency, which a loaded machine can stretch).
    const delay = Number(row.next_attempt_at) - (Date.parse(failed.attempts[0].at) + failed.attempts[0].latency_ms)
    assert.ok(delay >= 13_500 - 50 && delay <= 16_500 + 1000, `first retry after ~15 s ±10 %, got ${delay} ms`)

    // The merchant fixes its endpoint and asks for the event again.
    receiver.behaviour = 'ok'
    const redeliver = await api(url(), sk(), 'POST', `/v1/events/${eventId}/redeliver`)
    assert.equal(redeliver.status, 200)
    await receiver.waitFor(2)
    const delivered = await eventually(async () => {
      const e = (await api(url(), sk(), 'GET', `/v1/events/${eventId}`)).body
      return e.delivery_status === 'delivered' ? e : null
    })
    assert.deepEqual(delivered.attempts.map((a: any) => a.status_code), [500, 200])
    assert.equal(receiver.received[1]!.headers['webhook-id'], eventId, 'the same webhook-id on every try')
  })

  it('a redelivery of a delivered event sends exactly one more', async () => {
    receiver.behaviour = 'ok'
    const o = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'again-1', notify_url: receiver.url })).body
    await api(url(), sk(), 'POST', `/v1/orders/${o.id}/close`)
    const list = await api(url(), sk(), 'GET', `/v1/events?order_id=${o.id}`)
    const id = list.body.data[0].id
    await eventually(async () => (await api(url(), sk(), 'GET', `/v1/events/${id}`)).body.delivery_status === 'delivered')
    await api(url(), sk(), 'POST', `/v1/events/${id}/redeliver`)
    const after = await eventually(async () => {
      const e = (await api(url(), sk(), 'GET', `/v1/events/${id}`)).body
      return e.attempts.length === 2 && e.delivery_status === 'delivered' ? e : null
    })
    assert.equal(after.attempts.length, 2)
    await sleep(300)
    assert.equal(receiver.received.filter((w) => w.headers['webhook-id'] === id).length, 2)
    // Asked again with one Idempotency-Key (a client's retry): one more delivery, not two.
    const keyed = () => api(url(), sk(), 'POST', `/v1/events/${id}/redeliver`, undefined, { 'idempotency-key': 'again-1-redeliver' })
    assert.equal((await keyed()).status, 200)
    await eventually(async () => (await api(url(), sk(), 'GET', `/v1/events/${id}`)).body.attempts.length === 3)
    assert.equal((await keyed()).status, 200)
    await sleep(500)
    assert.equal(receiver.received.filter((w) => w.headers['webhook-id'] === id).length, 3)
  })
})

describeEachDatabase(
  'webhook timeouts',
  (t) => {
    const receiver = new WebhookReceiver()
    const healthy = new WebhookReceiver()
    before(async () => {
      await receiver.start()
      await healthy.start()
    })
    after(async () => {
      await receiver.stop()
      await healthy.stop()
    })

    it('gives up on a hanging endpoint at the timeout, and it does not hold up other merchants', async () => {
      receiver.behaviour = 'hang'
      const slow = t.server.merchant
      const fast = await t.server.newMerchant('Fast', healthy.url)
      for (let i = 0; i < 4; i++) {
        const o = (await api(t.server.url, slow.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: `hang-${i}`, notify_url: receiver.url })).body
        await api(t.server.url, slow.test.secret, 'POST', `/v1/test_helpers/orders/${o.id}/pay`)
      }
      await receiver.waitFor(2)
      await sleep(300)
      assert.equal(receiver.received.length, 2, 'at most 2 requests at once to one merchant, though 4 were due')
      const started = Date.now()
      const f = (await api(t.server.url, fast.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'fast-1' })).body
      await api(t.server.url, fast.test.secret, 'POST', `/v1/test_helpers/orders/${f.id}/pay`)
      await healthy.waitFor(1, 5000)
      assert.ok(Date.now() - started < 1000, 'the healthy merchant was served while the other hung')
      const hung = await eventually(async () => {
        const list = (await api(t.server.url, slow.test.secret, 'GET', '/v1/events?limit=1')).body
        const e = (await api(t.server.url, slow.test.secret, 'GET', `/v1/events/${list.data[0].id}`)).body
        return e.attempts.length > 0 ? e : null
      }, 10_000)
      assert.equal(hung.attempts[0].status_code, null)
      assert.match(hung.attempts[0].error, /timed out after 1000 ms/)
      assert.ok(hung.attempts[0].latency_ms >= 950)
    })
  },
  { env: { SCANPAY_WEBHOOK_TIMEOUT_MS: '1000', SCANPAY_WEBHOOK_CONCURRENCY_PER_MERCHANT: '2' } },
)
