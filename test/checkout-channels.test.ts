// The checkout connected to the real channels, over real HTTP on SQLite and PostgreSQL, against the WeChat Pay
// and Alipay simulators: the customer chooses a channel, sees the channel's own QR (which decodes to exactly the
// simulator's code_url / qr_code), pays at the simulator, and the page's status follows; closing an order closes
// its channel orders at once; ten simultaneous first opens make one channel order.
import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import jsqr from 'jsqr'
import { PNG } from 'pngjs'
import { AlipaySimulator } from '../src/channels/alipay/simulator.ts'
import { openChannelPayment } from '../src/channels/open-channel-payment.ts'
import { CODE_URL_LIFETIME_MS, WechatPaySimulator } from '../src/channels/wechat-pay/simulator.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { assertPageBudget } from './helpers/page-budget.ts'
import { api, freePort } from './helpers/server.ts'
import { assertUnchanged, snapshot } from './helpers/snapshot.ts'
import { eventually, WebhookReceiver } from './helpers/webhook-receiver.ts'

// jsqr is CommonJS whose types declare a default export: under NodeNext that is the `default` property.
const jsQR = jsqr.default

interface Choice {
  status: string
  channel: string
  qr_content: string
  qr_url: string
  /** How long the channel takes the code; null for a code that does not expire. */
  qr_left_ms: number | null
  page_url: string
}

async function decodePng(url: string): Promise<string | undefined> {
  const res = await fetch(url)
  assert.equal(res.status, 200, `${url} answered ${res.status}`)
  assert.equal(res.headers.get('content-type'), 'image/png')
  const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()))
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data
}

/** Reads a status stream until it says `want` (or fails after the timeout). */
async function streamUntil(url: string, want: string, timeoutMs = 10_000): Promise<string[]> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: AbortSignal.timeout(timeoutMs) })
  assert.equal(res.status, 200)
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  const seen: string[] = []
  let buffer = ''
  try {
    for (;;) {
      const chunk = await reader.read()
      if (chunk.done) return seen
      buffer += decoder.decode(chunk.value, { stream: true })
      let cut: number
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const data = /^data: (.*)$/m.exec(buffer.slice(0, cut))?.[1]
        buffer = buffer.slice(cut + 2)
        if (data) seen.push(JSON.parse(data).status)
        if (seen.at(-1) === want) return seen
      }
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}

describeEachDatabase('checkout through the real channels', (t) => {
  const wx = new WechatPaySimulator({ retryScale: 0.002 })
  const ali = new AlipaySimulator({ retryScale: 0.002 })
  const receiver = new WebhookReceiver()
  const ctx = () => t.server.server.ctx
  const db = () => ctx().storage.database.db
  const url = () => t.server.url
  const live = () => t.server.merchant.live.secret
  let seq = 0

  before(async () => {
    await wx.start()
    await ali.start()
    await receiver.start()
    const m = t.server.merchant.merchant_id
    assert.ok((await ctx().channelCredentials.set(m, 'wechatpay', wx.credentialsDocument())).ok)
    assert.ok((await ctx().channelCredentials.set(m, 'alipay', ali.credentialsDocument())).ok)
  })
  after(async () => {
    await wx.stop()
    await ali.stop()
    await receiver.stop()
  })

  async function liveOrder(extra: Record<string, unknown> = {}, secret = live()) {
    const res = await api(url(), secret, 'POST', '/v1/orders', { out_trade_no: `CC-${process.pid}-${++seq}`, amount: 880000, subject: '年会门票 Annual dinner', notify_url: receiver.url, ...extra })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return { ...res.body, token: (res.body.pay_url as string).split('/pay/')[1]! } as { id: string; pay_url: string; token: string; [k: string]: any }
  }

  const choose = (payUrl: string, channel: string, lang = 'en') =>
    fetch(`${payUrl}/channels/${channel}?lang=${lang}`, { method: 'POST', headers: { accept: 'application/json' } })

  async function chosen(payUrl: string, channel: string, lang = 'en'): Promise<Choice> {
    const res = await choose(payUrl, channel, lang)
    const body = await res.json()
    assert.equal(res.status, 200, JSON.stringify(body))
    assert.equal(res.headers.get('cache-control'), 'no-store')
    return body
  }

  const page = async (u: string) => {
    const res = await fetch(u)
    return { status: res.status, text: await res.text() }
  }
  const orderStatus = async (id: string) => (await api(url(), live(), 'GET', `/v1/orders/${id}`)).body.status as string
  const simPay = (sim: { url: string }, field: string, code: string) =>
    fetch(`${sim.url}/sim/pay`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ [field]: code }) })

  it('offers the channels the merchant has set up as buttons, in both languages, within the page budget', async () => {
    const order = await liveOrder()
    const en = await page(order.pay_url)
    assert.equal(en.status, 200)
    assert.match(en.text, new RegExp(`<form method="post" action="/pay/${order.token}/channels/wechatpay\\?lang=en" data-js[^>]*><button class="pick" type="submit">[\\s\\S]*?<b>WeChat Pay</b></button>`))
    assert.match(en.text, new RegExp(`<form method="post" action="/pay/${order.token}/channels/alipay\\?lang=en" data-js[^>]*><button class="pick" type="submit">[\\s\\S]*?<b>Alipay</b></button>`))
    assert.doesNotMatch(en.text, /not available yet<\/small>|Sandbox wallet|Test mode/)
    assertPageBudget(en.text)
    const zh = await page(`${order.pay_url}?lang=zh-CN`)
    assert.match(zh.text, /<b>微信支付<\/b><\/button>/)
    assert.match(zh.text, /<b>支付宝<\/b><\/button>/)
  })

  it('shows a channel without the merchant’s credentials as unavailable, and will not open it', async () => {
    const onlyWechat = await t.server.newMerchant('Only WeChat')
    assert.ok((await ctx().channelCredentials.set(onlyWechat.merchant_id, 'wechatpay', wx.credentialsDocument())).ok)
    const order = await liveOrder({}, onlyWechat.live.secret)
    const p = await page(order.pay_url)
    assert.match(p.text, /channels\/wechatpay\?lang=en/)
    assert.doesNotMatch(p.text, /channels\/alipay/)
    assert.match(p.text, /<li class="off">[\s\S]*?<b>Alipay<\/b><small>This channel is not available yet\.<\/small>/)
    const before = await snapshot(t.server)
    const res = await choose(order.pay_url, 'alipay')
    assert.equal(res.status, 400)
    assert.equal((await res.json()).error.code, 'channel_unavailable')
    await assertUnchanged(t.server, before)

    const none = await t.server.newMerchant('No credentials')
    const bare = await page((await liveOrder({}, none.live.secret)).pay_url)
    assert.equal(bare.text.match(/not available yet\.<\/small>/g)?.length, 2)
    // No button to pay with (the More button under the subject is not one).
    assert.doesNotMatch(bare.text, /<button(?! id="mo")/)
  })

  it('WeChat Pay: choosing it shows WeChat’s own code (the QR decodes to the simulator’s code_url); paying it pays the order, live', async () => {
    const order = await liveOrder()
    const choice = await chosen(order.pay_url, 'wechatpay', 'zh-CN')
    assert.equal(choice.status, 'pending')
    assert.equal(choice.channel, 'wechatpay')
    const [payment] = await db().selectFrom('payments').selectAll().where('order_id', '=', order.id).execute()
    const simOrder = wx.orders.get(`${wx.identity.merchant.mchid}:${payment!.id}`)
    assert.ok(simOrder, 'the simulator has the Native order')
    assert.equal(simOrder.total, 880000)
    assert.equal(choice.qr_content, simOrder.codeUrl)
    assert.match(choice.qr_url, new RegExp(`^/pay/${order.token}/channels/wechatpay/qr\\.png\\?v=[\\w-]+$`))
    assert.equal(await decodePng(url() + choice.qr_url), simOrder.codeUrl)
    assert.equal(choice.page_url, `/pay/${order.token}?lang=zh-CN&channel=wechatpay`)
    // WeChat takes a code_url for 2 hours: the page's script asks for the current one after that.
    assert.ok(choice.qr_left_ms !== null && choice.qr_left_ms <= CODE_URL_LIFETIME_MS && choice.qr_left_ms > CODE_URL_LIFETIME_MS - 60_000, String(choice.qr_left_ms))

    // Choosing again (a second tap, a reload) shows the same code, no younger, and opens nothing new.
    const orders = wx.orders.size
    const again = await chosen(order.pay_url, 'wechatpay')
    assert.deepEqual({ ...again, qr_left_ms: 0 }, { ...choice, qr_left_ms: 0, page_url: `/pay/${order.token}?lang=en&channel=wechatpay` })
    assert.ok(again.qr_left_ms !== null && again.qr_left_ms <= choice.qr_left_ms!)
    assert.equal(wx.orders.size, orders)

    // The page the script's history entry (or the no-script redirect) lands on shows the code at once.
    const shown = await page(url() + choice.page_url)
    assert.ok(shown.text.includes(`<img src="${choice.qr_url}" alt="本订单的微信支付二维码"`), 'the QR image')
    const left = Number(/<div class="cq cq-wechatpay" data-left="(\d+)">/.exec(shown.text)?.[1])
    assert.ok(left > CODE_URL_LIFETIME_MS - 60_000 && left <= again.qr_left_ms!, `the page says how long the code is taken (${left})`)
    assert.match(shown.text, /<p class="how">请使用微信扫一扫<\/p><p class="sv">在本机付款：长按二维码保存到相册/)
    assert.match(shown.text, /<button class="pick" type="submit" aria-current="true">[\s\S]*?<b>微信支付<\/b>/)
    assert.doesNotMatch(shown.text, /class="qr"/, 'the page’s own QR gives way to WeChat’s')

    const stream = streamUntil(`${order.pay_url}/events`, 'paid')
    await new Promise((r) => setTimeout(r, 200))
    const paid = await simPay(wx, 'code_url', choice.qr_content)
    assert.equal(paid.status, 303, 'the simulated customer paid')
    assert.deepEqual(await stream, ['pending', 'paid'])
    const status = await (await fetch(`${order.pay_url}/status`)).json()
    assert.equal(status.status, 'paid')
    const got = (await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body
    assert.deepEqual([got.status, got.channel, got.channel_trade_no], ['paid', 'wechatpay', simOrder.transactionId])
    // A paid order offers no code any more, and choosing again says it is not pending.
    assert.equal((await fetch(url() + choice.qr_url)).status, 404)
    const late = await choose(order.pay_url, 'wechatpay')
    assert.equal(late.status, 409)
    assert.equal((await late.json()).error.code, 'order_not_pending')
  })

  it('Alipay: choosing it shows Alipay’s qr_code; the customer scans and pays; the status endpoint says paid', async () => {
    const order = await liveOrder()
    const choice = await chosen(order.pay_url, 'alipay')
    const [payment] = await db().selectFrom('payments').selectAll().where('order_id', '=', order.id).execute()
    const trade = ali.trades.get(`${ali.identity.appId}:${payment!.id}`)
    assert.ok(trade, 'the simulator has the precreated trade')
    assert.equal(choice.qr_content, trade.qrCode)
    assert.equal(choice.qr_left_ms, null, 'no lifetime of its own: the trade lasts as long as the order')
    assert.equal(await decodePng(url() + choice.qr_url), trade.qrCode)
    const svg = await fetch(url() + choice.qr_url.replace('qr.png', 'qr.svg'))
    assert.match(svg.headers.get('content-type') ?? '', /^image\/svg\+xml/)
    assert.match(await svg.text(), /^<svg xmlns/)
    assert.equal((await simPay(ali, 'qr_code', choice.qr_content)).status, 303)
    await eventually(async () => (await (await fetch(`${order.pay_url}/status`)).json()).status === 'paid', 10_000, 'the status endpoint says paid')
    assert.equal(await orderStatus(order.id), 'paid')
    const hook = await eventually(async () => receiver.received.find((w) => JSON.parse(w.body).data.id === order.id), 10_000, 'order.paid')
    assert.equal(JSON.parse(hook.body).type, 'order.paid')
  })

  it('works without script: the form opens the payment and lands back on the page with the code', async () => {
    const order = await liveOrder()
    const res = await fetch(`${order.pay_url}/channels/alipay?lang=zh-CN`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    assert.equal(res.status, 303)
    assert.equal(res.headers.get('location'), `/pay/${order.token}?lang=zh-CN&channel=alipay`)
    const shown = await page(url() + res.headers.get('location'))
    const src = /<img src="([^"]+)" alt="本订单的支付宝二维码"/.exec(shown.text)?.[1]
    assert.ok(src, 'the QR image')
    assert.match(shown.text, /请使用支付宝扫一扫/)
    const [payment] = await db().selectFrom('payments').selectAll().where('order_id', '=', order.id).execute()
    assert.equal(await decodePng(url() + src.replaceAll('&amp;', '&')), ali.trades.get(`${ali.identity.appId}:${payment!.id}`)!.qrCode)
    // A ?channel= naming a channel never opened shows no code (GET opens nothing).
    const other = await page(`${order.pay_url}?channel=wechatpay`)
    assert.match(other.text, /<div id="cq" aria-live="polite"><\/div>/)
    assert.equal((await db().selectFrom('payments').select('id').where('order_id', '=', order.id).execute()).length, 1)
  })

  it('a channel that cannot be reached is a friendly “try again”, with nothing of its answer shown', async () => {
    const dead = await t.server.newMerchant('Gateway down')
    const doc = { ...ali.credentialsDocument(), gateway_url: `http://127.0.0.1:${await freePort()}/gateway.do` }
    assert.ok((await ctx().channelCredentials.set(dead.merchant_id, 'alipay', doc)).ok)
    const order = await liveOrder({}, dead.live.secret)
    const res = await choose(order.pay_url, 'alipay')
    assert.equal(res.status, 502)
    const body = await res.json()
    assert.equal(body.error.code, 'channel_failed')
    assert.equal(body.error.message, 'alipay could not open the payment; try again')
    const form = await fetch(`${order.pay_url}/channels/alipay?lang=zh-CN`, { method: 'POST', redirect: 'manual' })
    assert.equal(form.status, 303)
    assert.equal(form.headers.get('location'), `/pay/${order.token}?lang=zh-CN&channel=alipay&error=failed`)
    const shown = await page(url() + form.headers.get('location'))
    assert.match(shown.text, /<p id="msg" class="msg" role="status">支付宝暂时无法发起付款，请重试。<\/p>/)
    assert.match(shown.text, /<div id="cq" aria-live="polite"><\/div>/)
  })

  it('refuses what is not a live channel payment: unknown channel names, the sandbox, test orders, unknown tokens', async () => {
    const order = await liveOrder({ channels: ['wechatpay'] })
    for (const name of ['sandbox', 'paypal', 'WECHATPAY']) assert.equal((await choose(order.pay_url, name)).status, 404, name)
    const excluded = await choose(order.pay_url, 'alipay')
    assert.equal(excluded.status, 400)
    assert.equal((await excluded.json()).error.code, 'channel_unavailable')
    const testOrder = await api(url(), t.server.merchant.test.secret, 'POST', '/v1/orders', { out_trade_no: `CC-T-${process.pid}`, amount: 100, subject: 'x' })
    const refused = await choose(testOrder.body.pay_url, 'wechatpay')
    assert.equal(refused.status, 400)
    assert.equal((await refused.json()).error.code, 'channel_unavailable')
    const unknown = await choose(`${url()}/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`, 'wechatpay')
    assert.equal(unknown.status, 404)
    const unknownPage = await fetch(`${url()}/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/channels/wechatpay`, { method: 'POST' })
    assert.equal(unknownPage.status, 404)
    assert.match(unknownPage.headers.get('content-type') ?? '', /^text\/html/)
    assert.equal((await fetch(`${order.pay_url}/channels/wechatpay/qr.png`)).status, 404, 'no code before the channel is chosen')
  })

  it('closing an order closes its channel orders at once: a scan afterwards cannot pay', async () => {
    const order = await liveOrder()
    const w = await chosen(order.pay_url, 'wechatpay')
    const a = await chosen(order.pay_url, 'alipay')
    ali.scan(a.qr_content)
    const payments = await db().selectFrom('payments').selectAll().where('order_id', '=', order.id).execute()
    assert.equal(payments.length, 2)
    // As a while after opening: the next scheduled checks are minutes away, so only the close can make them due.
    await db().updateTable('payments').set({ next_check_at: Date.now() + 300_000 }).where('order_id', '=', order.id).execute()
    const started = Date.now()
    assert.equal((await api(url(), live(), 'POST', `/v1/orders/${order.id}/close`)).body.status, 'closed')
    const wxOrder = wx.orderByCodeUrl(w.qr_content)!
    const aliTrade = ali.tradeByQr(a.qr_content)!
    await eventually(async () => wxOrder.state === 'CLOSED' && aliTrade.status === 'TRADE_CLOSED', 5000, 'both channel orders closed')
    const tookMs = Date.now() - started
    console.log(`# channel orders closed ${tookMs} ms after the merchant's close`)
    await eventually(async () => {
      const rows = await db().selectFrom('payments').selectAll().where('order_id', '=', order.id).execute()
      return rows.every((r) => r.status === 'closed' && r.next_check_at === null)
    }, 3000, 'both attempts closed')
    // The customer scans the code still on their screen: neither channel takes the money.
    assert.equal((await simPay(wx, 'code_url', w.qr_content)).status, 409)
    assert.equal((await simPay(ali, 'qr_code', a.qr_content)).status, 409)
    assert.equal(wxOrder.state, 'CLOSED')
    assert.equal(aliTrade.status, 'TRADE_CLOSED')
    assert.equal(await orderStatus(order.id), 'closed')
    assert.equal((await fetch(url() + w.qr_url)).status, 404, 'the page no longer shows the code')
  })

  it('ten simultaneous first opens of one order and channel make one attempt and one channel order', async () => {
    const order = await liveOrder()
    const before = wx.orders.size
    const prepays = wx.prepayRequests
    const replies = await Promise.all(Array.from({ length: 10 }, () => chosen(order.pay_url, 'wechatpay')))
    assert.equal(new Set(replies.map((r) => r.qr_content)).size, 1, 'every tap shows the same code')
    assert.equal(wx.prepayRequests - prepays, 1, 'one call to WeChat: the taps on this node wait for the first')
    const rows = await db().selectFrom('payments').selectAll().where('order_id', '=', order.id).execute()
    assert.equal(rows.length, 1, 'one attempt')
    assert.equal(wx.orders.size - before, 1, 'one channel order')
    assert.equal(wx.orders.get(`${wx.identity.merchant.mchid}:${rows[0]!.id}`)!.codeUrl, replies[0]!.qr_content)

    // The same through the use case itself, for Alipay: as on several nodes, each asks, and the database keeps one attempt.
    const stored = (await ctx().storage.orders.byId(t.server.merchant.merchant_id, 'live', order.id))!
    const trades = ali.trades.size
    const opened = await Promise.all(Array.from({ length: 10 }, () => openChannelPayment(ctx(), stored, 'alipay')))
    assert.equal(new Set(opened.map((o) => o.paymentId)).size, 1)
    assert.equal(new Set(opened.map((o) => o.qrContent)).size, 1)
    assert.ok(opened.filter((o) => o.created).length <= 1, 'at most one says it created the attempt')
    assert.equal(ali.trades.size - trades, 1, 'one channel order')
    assert.equal((await db().selectFrom('payments').select('id').where('order_id', '=', order.id).where('channel', '=', 'alipay').execute()).length, 1)
  })

  it('the database refuses a second open attempt for the same order and channel, and allows one after the first ended', async () => {
    const order = await liveOrder()
    await chosen(order.pay_url, 'wechatpay')
    const [first] = await db().selectFrom('payments').selectAll().where('order_id', '=', order.id).execute()
    const copy = { ...first!, id: `${first!.id.slice(0, -4)}dup1`, next_check_at: null }
    await assert.rejects(db().insertInto('payments').values(copy).execute(), /unique|UNIQUE/)
    await db().updateTable('payments').set({ status: 'failed', next_check_at: null }).where('id', '=', first!.id).execute()
    await db().insertInto('payments').values(copy).execute()
  })
})
