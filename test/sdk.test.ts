// The SDK against a real ScanPay server, on SQLite and PostgreSQL: every v1 endpoint with Bearer and HMAC
// auth, typed errors, and a really delivered webhook verified by verifyWebhook and by standardwebhooks.
import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { buildPaymentLink, ScanPay, ScanPayError, verifyWebhook, WebhookVerificationError, type Order } from '../sdk/src/index.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { eventually, WebhookReceiver } from './helpers/webhook-receiver.ts'

describeEachDatabase('SDK against a real server', (t) => {
  const receiver = new WebhookReceiver()
  before(() => receiver.start())
  after(() => receiver.stop())
  const bearer = () => new ScanPay({ baseUrl: t.server.url, secret: t.server.merchant.test.secret })
  const hmac = () => new ScanPay({ baseUrl: t.server.url, secret: t.server.merchant.test.secret, keyId: t.server.merchant.test.key_id })

  for (const [name, make] of [['Bearer', bearer], ['HMAC', hmac]] as const) {
    it(`orders, test helper, refunds and events end to end (${name})`, async () => {
      const sp = make()
      const no = `sdk-${name}`
      const order = await sp.orders.create({ out_trade_no: no, amount: 1234, subject: 'Latte', notify_url: receiver.url, metadata: { table: '7' } })
      assert.equal(order.object, 'order')
      assert.equal(order.status, 'pending')
      // Retrying the create (a new automatic Idempotency-Key) lands on out_trade_no idempotency: same order.
      assert.deepEqual(await sp.orders.create({ out_trade_no: no, amount: 1234, subject: 'Latte', notify_url: receiver.url, metadata: { table: '7' } }), order)
      assert.deepEqual(await sp.orders.retrieve(order.id), order)
      const byNo = await sp.orders.list({ out_trade_no: no })
      assert.deepEqual(byNo.data.map((o) => o.id), [order.id])

      const paid = await sp.testHelpers.payOrder(order.id)
      assert.equal(paid.status, 'paid')
      const refund = await sp.refunds.create(order.id, { amount: 234, out_refund_no: `${no}-r1`, reason: 'spilt' })
      assert.equal(refund.status, 'succeeded')
      assert.deepEqual(await sp.refunds.retrieve(refund.id), refund)
      const rest = await sp.refunds.create(order.id, { amount: 1000, out_refund_no: `${no}-r2` })
      const refunds = []
      for await (const r of sp.refunds.iterate(order.id, { limit: 1 })) refunds.push(r.id)
      assert.deepEqual(refunds, [rest.id, refund.id])
      assert.equal((await sp.orders.retrieve(order.id)).status, 'refunded')

      const events = await sp.events.list({ order_id: order.id })
      assert.deepEqual(events.data.map((e) => e.type), ['refund.succeeded', 'refund.succeeded', 'order.paid'])
      // Each type's data is typed: a refund event's refund beside its order, checked by the compiler and then at run time.
      const first = events.data[0]!
      if (first.type === 'refund.succeeded') assert.deepEqual([first.data.id, first.data.refund.id], [order.id, rest.id])
      else assert.fail(`the newest event is ${first.type}`)
      const paidEvent = events.data[2]!
      const delivered = await eventually(async () => {
        const e = await sp.events.retrieve(paidEvent.id)
        return e.delivery_status === 'delivered' ? e : null
      })
      assert.equal(delivered.attempts.length, 1)
      const again = await sp.events.redeliver(paidEvent.id)
      assert.equal(again.id, paidEvent.id)
      await eventually(async () => (await sp.events.retrieve(paidEvent.id)).attempts.length === 2)

      const closable = await sp.orders.create({ out_trade_no: `${no}-close`, amount: 1, subject: 'x' })
      assert.equal((await sp.orders.close(closable.id)).status, 'closed')
      assert.equal((await sp.orders.close(closable.id)).status, 'closed')
    })
  }

  it('turns refusals into typed errors with type, code, param, status and request id', async () => {
    const sp = hmac()
    await sp.orders.create({ out_trade_no: 'sdk-err', amount: 100, subject: 'x' })
    const conflict = await sp.orders.create({ out_trade_no: 'sdk-err', amount: 101, subject: 'x' }).catch((e) => e)
    assert.ok(conflict instanceof ScanPayError)
    assert.equal(conflict.type, 'conflict')
    assert.equal(conflict.code, 'out_trade_no_conflict')
    assert.equal(conflict.param, 'out_trade_no')
    assert.equal(conflict.status, 409)
    assert.match(conflict.requestId ?? '', /^req_/)

    const invalid = await sp.orders.create({ out_trade_no: 'sdk-err-2', amount: 0, subject: 'x' }).catch((e) => e)
    assert.equal(invalid.type, 'invalid_request')
    assert.equal(invalid.code, 'amount_invalid')
    assert.equal(invalid.param, 'amount')
    const missing = await sp.refunds.retrieve('rfd_nope').catch((e) => e)
    assert.equal(missing.status, 404)
    assert.equal(missing.code, 'resource_missing')
    const notPaid = await sp.orders.create({ out_trade_no: 'sdk-err-3', amount: 100, subject: 'x' })
    const refuse = await sp.refunds.create(notPaid.id, { amount: 1, out_refund_no: 'sdk-err-3' }).catch((e) => e)
    assert.equal(refuse.code, 'order_not_refundable')

    const wrong = new ScanPay({ baseUrl: t.server.url, secret: 'sk_test_' + 'x'.repeat(32), keyId: t.server.merchant.test.key_id })
    const auth = await wrong.orders.list().catch((e) => e)
    assert.equal(auth.type, 'authentication')
    assert.equal(auth.code, 'signature_invalid')
    const live = new ScanPay({ baseUrl: t.server.url, secret: t.server.merchant.live.secret })
    const perm = await live.testHelpers.payOrder(notPaid.id).catch((e) => e)
    assert.equal(perm.status, 403)
    assert.equal(perm.type, 'permission')
    assert.equal(perm.code, 'test_mode_only')
  })

  it('verifies a really delivered webhook, as standardwebhooks does, and explains a re-serialized one', async () => {
    const sp = bearer()
    const order = await sp.orders.create({ out_trade_no: 'sdk-hook', amount: 4321, subject: 'Tea', notify_url: receiver.url })
    const paid = await sp.testHelpers.payOrder(order.id)
    const hook = await eventually(async () => receiver.received.find((w) => JSON.parse(w.body).data.id === order.id))
    const secret = t.server.merchant.webhook_secret
    const event = verifyWebhook<Order>({ rawBody: hook.body, headers: hook.headers, secret })
    assert.equal(event.type, 'order.paid')
    assert.equal(event.id, hook.headers['webhook-id'])
    assert.deepEqual(event.data, paid)
    assert.deepEqual(new Webhook(secret).verify(hook.body, hook.headers as Record<string, string>), event)

    const reserialized = JSON.stringify(JSON.parse(hook.body), null, 2)
    assert.throws(() => verifyWebhook({ rawBody: reserialized, headers: hook.headers, secret }), (err: unknown) => {
      assert.ok(err instanceof WebhookVerificationError)
      assert.match(err.message, /re-serialized/)
      return true
    })
    const other = await t.server.newMerchant('Other Hooks')
    assert.throws(() => verifyWebhook({ rawBody: hook.body, headers: hook.headers, secret: other.webhook_secret }), WebhookVerificationError)
  })

  it('builds payment links with the shared signing rules', () => {
    const link = buildPaymentLink({
      publicUrl: t.server.url,
      keyId: t.server.merchant.test.key_id,
      secret: t.server.merchant.test.secret,
      amount: 1234,
      outTradeNo: 'sdk-link',
      subject: 'Latte',
      expiresAt: Math.floor(Date.now() / 1000) + 600,
    })
    const u = new URL(link)
    assert.equal(u.pathname, `/l/${t.server.merchant.test.key_id}`)
    assert.match(u.searchParams.get('sig') ?? '', /^[A-Za-z0-9_-]{43}$/)
  })
})
