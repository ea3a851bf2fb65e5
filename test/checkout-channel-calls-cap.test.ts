// One merchant's checkouts have at most SCANPAY_CHANNEL_CALLS_PER_MERCHANT calls to open a payment under way at
// the channel at once, per node: while WeChat Pay is slow, one tap more is refused at once (429 rate_limited for the
// page's script, the page with a "try again" notice without it) and changes nothing; another merchant's customers
// are not held up, and the merchant's taps are taken again as the calls end. Over real HTTP, both databases.
import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { WechatPaySimulator } from '../src/channels/wechat-pay/simulator.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api, type ApiResponse } from './helpers/server.ts'
import { assertUnchanged, snapshot } from './helpers/snapshot.ts'

describeEachDatabase('checkout channel calls per merchant', (t) => {
  // Each merchant has its own WeChat Pay merchant account (here: its own simulator).
  const wx = new WechatPaySimulator({ retryScale: 0.002 })
  const otherWx = new WechatPaySimulator({ retryScale: 0.002 })
  const ctx = () => t.server.server.ctx
  let other: { merchant_id: string; live: { secret: string } }
  let seq = 0

  before(async () => {
    await wx.start()
    await otherWx.start()
    assert.ok((await ctx().channelCredentials.set(t.server.merchant.merchant_id, 'wechatpay', wx.credentialsDocument())).ok)
    other = await t.server.newMerchant('Other Shop')
    assert.ok((await ctx().channelCredentials.set(other.merchant_id, 'wechatpay', otherWx.credentialsDocument())).ok)
  })
  after(async () => {
    await wx.stop()
    await otherWx.stop()
  })

  async function liveOrder(secret = t.server.merchant.live.secret): Promise<{ id: string; pay_url: string }> {
    const res = await api(t.server.url, secret, 'POST', '/v1/orders', { out_trade_no: `CAP-${process.pid}-${++seq}`, amount: 1500, subject: 'Flat white', channels: ['wechatpay'] })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return res.body
  }

  const tap = (payUrl: string, json = true) =>
    fetch(`${payUrl}/channels/wechatpay`, { method: 'POST', redirect: 'manual', headers: json ? { accept: 'application/json' } : {} })

  const payments = (orderId: string) => ctx().storage.database.db.selectFrom('payments').select('id').where('order_id', '=', orderId).execute()

  it('refuses the tap beyond the cap at once while the channel is slow, and not another merchant’s', async () => {
    let open!: () => void
    wx.prepayGate = new Promise<void>((resolve) => (open = resolve))
    try {
      const [a, b, c, d] = [await liveOrder(), await liveOrder(), await liveOrder(), await liveOrder()]
      const prepays = wx.prepayRequests
      const held = [tap(a.pay_url), tap(b.pay_url)]
      for (const deadline = Date.now() + 10_000; wx.prepayRequests - prepays < 2; await new Promise((r) => setTimeout(r, 20))) {
        assert.ok(Date.now() < deadline, 'both calls reached WeChat')
      }
      const before = await snapshot(t.server)
      const refused = await tap(c.pay_url)
      assert.equal(refused.status, 429)
      assert.deepEqual(((await refused.json()) as ApiResponse['body']).error.code, 'rate_limited')
      // Without script: back to the page, which says to try again in a moment.
      const plain = await tap(d.pay_url, false)
      assert.equal(plain.status, 303)
      const page = plain.headers.get('location')!
      assert.match(page, /[?&]channel=wechatpay&error=busy$/)
      const html = await (await fetch(new URL(page, t.server.url))).text()
      assert.match(html, /Too many tries in a moment\. Please wait a few seconds and try again\./)
      await assertUnchanged(t.server, before)
      assert.equal(wx.prepayRequests - prepays, 2, 'and call WeChat for nothing')
      assert.deepEqual([(await payments(c.id)).length, (await payments(d.id)).length], [0, 0])

      // Another merchant's customer, meanwhile.
      const elsewhere = await tap((await liveOrder(other.live.secret)).pay_url)
      assert.equal(elsewhere.status, 200)

      open()
      assert.deepEqual((await Promise.all(held)).map((r) => r.status), [200, 200])
      const again = await tap(c.pay_url)
      assert.equal(again.status, 200, 'taken again once the calls ended')
    } finally {
      wx.prepayGate = null
      open?.()
    }
  })
}, { env: { SCANPAY_CHANNEL_CALLS_PER_MERCHANT: '2' } })
