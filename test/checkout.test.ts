// The customer's side over real HTTP, on every database: pages, QR codes, live status, sandbox, payment links.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import jsqr from 'jsqr'
import { PNG } from 'pngjs'
import { Agent } from 'undici'
import { buildPaymentLink, signPaymentLink } from '../sdk/src/signing.ts'
import { DEFAULT_CHECKOUT_CACHE_OPTIONS, SOLE_WRITER_TTL_MS } from '../src/http/checkout/checkout-cache.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { assertPageBudget } from './helpers/page-budget.ts'
import { api, ORDER, startTestServer, type TestServer } from './helpers/server.ts'
import { eventually } from './helpers/webhook-receiver.ts'

// jsqr is CommonJS whose types declare a default export: under NodeNext that is the `default` property.
const jsQR = jsqr.default

interface Page {
  status: number
  headers: Headers
  text: string
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Page> {
  const res = await fetch(url, { headers, redirect: 'manual' })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

let seq = 0
const nextNo = () => `CO-${process.pid}-${++seq}`

async function newOrder(server: TestServer, body: Record<string, unknown> = {}, secret = server.merchant.test.secret) {
  const res = await api(server.url, secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: nextNo(), ...body })
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return { ...res.body, token: (res.body.pay_url as string).split('/pay/')[1]! } as { id: string; pay_url: string; token: string; [k: string]: any }
}

async function ordersByNo(server: TestServer, outTradeNo: string, secret = server.merchant.test.secret) {
  const res = await api(server.url, secret, 'GET', `/v1/orders?out_trade_no=${encodeURIComponent(outTradeNo)}`)
  assert.equal(res.status, 200)
  return res.body.data as any[]
}

function assertPageHeaders(page: Page) {
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8')
  assert.equal(page.headers.get('cache-control'), 'no-store')
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff')
  assert.equal(page.headers.get('referrer-policy'), 'no-referrer')
  const csp = page.headers.get('content-security-policy') ?? ''
  for (const directive of [
    "default-src 'none'", "img-src 'self' data:", "connect-src 'self'", "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'",
  ]) {
    assert.ok(csp.includes(directive), `${directive} in ${csp}`)
  }
  // Scripts and styles run only by the hash of their exact text: every one on the page is listed, nothing else.
  const sources = (tag: string) => new RegExp(`(?:^|; )${tag}-src ([^;]*)`).exec(csp)?.[1]?.split(' ') ?? []
  for (const [, tag, text] of page.text.matchAll(/<(script|style)\b[^>]*>([\s\S]*?)<\/\1>/g)) {
    const hash = `'sha256-${createHash('sha256').update(text!).digest('base64')}'`
    assert.ok(sources(tag!).includes(hash), `${tag} allowed by its hash`)
  }
  assert.doesNotMatch(csp, /unsafe-inline|nonce-/)
  assert.doesNotMatch(page.text, /\son[a-z]+=/i, 'no inline event handlers')
  assert.doesNotMatch(page.text, /\ssrc="(https?:)?\/\/|<link[^>]+href="(https?:)?\/\//, 'no external assets')
}

/** Reads server-sent events from a streaming fetch, one at a time. */
function sseReader(res: Response) {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  return {
    async next(timeoutMs = 5000): Promise<{ event: string; data: any } | null> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        let cut: number
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event && data) return { event, data: JSON.parse(data) }
        }
        const left = deadline - Date.now()
        if (left <= 0) throw new Error('no event in time')
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no event in time')), left)),
        ])
        if (chunk.done) return null
        buffer += decoder.decode(chunk.value, { stream: true })
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  }
}

const XSS = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
  '</title><script>alert(document.domain)</script>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '{{constructor.constructor("alert(1)")()}}<b>',
]

describeEachDatabase('checkout', (t) => {
  it('shows a pending test order: merchant, subject, description, amount, countdown, sandbox wallet', async () => {
    const order = await newOrder(t.server, { description: 'Oat milk, extra hot', return_url: 'https://shop.example/back' })
    const page = await get(order.pay_url)
    assert.equal(page.status, 200)
    assertPageHeaders(page)
    assert.match(page.text, /<html lang="en">/)
    assert.match(page.text, /Test Shop/)
    assert.match(page.text, /<h1 class="sj">Latte<\/h1>/)
    assert.match(page.text, /Oat milk, extra hot/)
    assert.match(page.text, /<p class="amt">¥12\.34<\/p>/)
    assert.match(page.text, /<time id="left" datetime="[^"]+">1[45]:\d\d<\/time>/)
    assert.match(page.text, /Sandbox wallet/)
    assert.match(page.text, /<button[^>]*>Pay ¥12\.34<\/button>/)
    assert.match(page.text, /<button[^>]*>Decline<\/button>/)
    assert.match(page.text, /<form method="post" action="\/pay\/[^"]+\/sandbox\/pay\?lang=en"/)
    // The merchant's order number, which a customer quotes to the merchant.
    assert.ok(page.text.includes(`<p class="no">Order number ${order.out_trade_no}</p>`))
    assert.match(page.text, /\+["']\/events["']/, 'listens for live status')
    assertPageBudget(page.text)
  })

  it('speaks Simplified Chinese from ?lang= or Accept-Language, ?lang= winning', async () => {
    const order = await newOrder(t.server)
    const byParam = await get(order.pay_url + '?lang=zh-CN')
    const byHeader = await get(order.pay_url, { 'accept-language': 'zh-TW,zh;q=0.9,en;q=0.5' })
    for (const page of [byParam, byHeader]) {
      assert.equal(page.status, 200)
      assert.match(page.text, /<html lang="zh-CN">/)
      assert.match(page.text, /<button[^>]*>确认支付 ¥12\.34<\/button>/)
      assert.match(page.text, /<button[^>]*>拒绝付款<\/button>/)
      assert.match(page.text, /剩余时间/)
    }
    assert.match(byHeader.headers.get('vary') ?? '', /accept-language/i)
    const english = await get(order.pay_url + '?lang=en', { 'accept-language': 'zh-CN' })
    assert.match(english.text, /<html lang="en">/)
    assert.doesNotMatch(english.text.replace(/<footer>[\s\S]*<\/footer>/, ''), /[\u4e00-\u9fff]/, 'no Chinese on the English page outside the language switch')
  })

  it('shows a live order’s channels, noting those not available yet, and no sandbox', async () => {
    const order = await newOrder(t.server, { channels: ['wechatpay', 'alipay'] }, t.server.merchant.live.secret)
    const page = await get(order.pay_url)
    assert.equal(page.status, 200)
    assert.match(page.text, /WeChat Pay/)
    assert.match(page.text, /Alipay/)
    // This merchant has set up no channel credentials: each channel says it is not available, and none can be
    // chosen (test/checkout-channels.test.ts covers a merchant that has).
    assert.equal(page.text.match(/<small>This channel is not available yet\.<\/small>/g)?.length, 2)
    // No button to pay with (the More button under the subject is not one).
    assert.doesNotMatch(page.text, /<button(?! id="mo")|Sandbox wallet|Test mode/)
    const zh = await get(order.pay_url + '?lang=zh-CN')
    assert.match(zh.text, /微信支付/)
    assert.match(zh.text, /支付宝/)
  })

  it('shows a paid order as paid, with the way back to the merchant', async () => {
    const order = await newOrder(t.server, { return_url: 'https://shop.example/orders/1?x=1&y=2' })
    assert.equal((await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)).status, 200)
    const page = await get(order.pay_url)
    assert.equal(page.status, 200)
    assertPageHeaders(page)
    assert.match(page.text, /Payment successful/)
    assert.match(page.text, /<a class="btn pri" href="https:\/\/shop\.example\/orders\/1\?x=1&amp;y=2"[^>]*>Return to merchant<\/a>/)
    assert.doesNotMatch(page.text, /<button(?! id="mo")/)
    assert.match((await get(order.pay_url + '?lang=zh-CN')).text, /支付成功[\s\S]*返回商户/)
    // A receipt to show at the counter: what was paid, to whom, and the merchant's order number.
    assert.ok((await get(order.pay_url + '?lang=zh-CN')).text.includes(`<p class="no">订单号 ${order.out_trade_no}</p>`))
  })

  it('shows a paid order without a return_url with no way back', async () => {
    const order = await newOrder(t.server)
    await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
    const page = await get(order.pay_url)
    assert.match(page.text, /Payment successful/)
    assert.doesNotMatch(page.text, /Return to merchant/)
  })

  it('shows a closed order as closed', async () => {
    const order = await newOrder(t.server)
    assert.equal((await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/orders/${order.id}/close`)).status, 200)
    const page = await get(order.pay_url)
    assert.equal(page.status, 200)
    assert.match(page.text, /Order closed/)
    assert.doesNotMatch(page.text, /<button(?! id="mo")/)
    assert.match((await get(order.pay_url + '?lang=zh-CN')).text, /订单已关闭/)
  })

  it('gives a page at an end state an ETag and answers 304 while it is unchanged; a pending page has none', async () => {
    const order = await newOrder(t.server)
    const url = `${order.pay_url}?lang=en`
    assert.equal((await fetch(url)).headers.get('etag'), null, 'a pending page changes every second (the time left)')
    assert.equal((await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)).status, 200)
    const paid = await fetch(url)
    const etag = paid.headers.get('etag')
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]{27}"$/)
    assert.match(await paid.text(), /Payment successful/)
    const same = await fetch(url, { headers: { 'if-none-match': etag! } })
    assert.equal(same.status, 304)
    assert.equal(await same.text(), '')
    assert.equal(same.headers.get('cache-control'), 'no-store')
    assert.equal(same.headers.get('etag'), etag)
    // Another language is another page.
    assert.equal((await fetch(`${order.pay_url}?lang=zh-CN`, { headers: { 'if-none-match': etag! } })).status, 200)
    // Refunded: new bytes, a new ETag, the whole page again.
    const refund = await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/orders/${order.id}/refunds`, { amount: order.amount, out_refund_no: 'etag-r1' })
    assert.equal(refund.status, 201)
    const changed = await eventually(async () => {
      const r = await fetch(url, { headers: { 'if-none-match': etag! } })
      return r.status === 200 ? r : null
    }, 5000, 'the refunded page')
    assert.notEqual(changed.headers.get('etag'), etag)
    assert.match(await changed.text(), /refunded/i)
  })

  it('has a pending page offer a look again where scripts do not run, never a timed reload, and an ended one neither', async () => {
    const order = await newOrder(t.server)
    const token = new URL(order.pay_url).pathname.split('/')[2]
    const checkAgain = /<noscript><a class="again" href="([^"]+)">([^<]+)<\/a><\/noscript>/
    const page = (await get(order.pay_url)).text
    assert.deepEqual(checkAgain.exec(page)?.slice(1), [`/pay/${token}?lang=en`, 'Paid already? Check again'])
    assert.doesNotMatch(page, /http-equiv="refresh"/)
    // After a decline, the link goes to the page itself: it must not say "declined" again.
    assert.deepEqual(checkAgain.exec((await get(`${order.pay_url}?lang=zh-CN&declined=1`)).text)?.slice(1), [`/pay/${token}?lang=zh-CN`, '已付款？点此刷新'])
    await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
    assert.doesNotMatch((await get(order.pay_url)).text, checkAgain)
  })

  it('answers an unknown token with a 404 page that says so, in the customer’s language', async () => {
    // Longer than any token, or not decodable: still a token that leads nowhere, so still the page.
    const unknown = ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'short', '%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'A'.repeat(120), 'A'.repeat(3_000), 'a%ZZ', 'a%E0%A4%A', 'abc%00', `AAAAAAAAAAAAAAAAAAAAAAAA?lang=en%00`]
    for (const token of unknown) {
      const page = await get(`${t.server.url}/pay/${token}`)
      assert.equal(page.status, 404, token)
      assertPageHeaders(page)
      assert.match(page.text, /Payment page not found/)
      assert.doesNotMatch(page.text, /<script>alert/)
    }
    const zh = await get(`${t.server.url}/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA?x=1`, { 'accept-language': 'zh-CN' })
    assert.match(zh.text, /<html lang="zh-CN">[\s\S]*找不到支付页面/)
    // A customer who cannot read it can have it in the other language: the same path, nothing else of the query.
    const english = /<a href="([^"]+)" lang="en" hreflang="en">English<\/a>/.exec(zh.text)?.[1]
    assert.equal(english, '/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA?lang=en')
    assert.match((await get(`${t.server.url}${english}`, { 'accept-language': 'zh-CN' })).text, /<html lang="en">[\s\S]*Payment page not found[\s\S]*hreflang="zh-CN">中文</)
    // A real token's link cut or mistyped (a trailing slash, a path below it), or a bare link path: the page too.
    const order = await newOrder(t.server)
    for (const path of [`${new URL(order.pay_url).pathname}/`, `${new URL(order.pay_url).pathname}/nope`, '/l/key_test_abcdefgh/extra', '/l/key_test_%00']) {
      const page = await get(`${t.server.url}${path}`)
      assert.equal(page.status, 404, path)
      assert.match(page.text, /Payment page not found/, path)
    }
    // The status the page's script reads answers in JSON, for an over-long token as for any unknown one.
    const status = await get(`${t.server.url}/pay/${'A'.repeat(200)}/status`)
    assert.deepEqual([status.status, JSON.parse(status.text).error.code], [404, 'resource_missing'])
  })

  it('never lets merchant-written text run as markup', async () => {
    for (const payload of XSS) {
      const merchant = await t.server.newMerchant(payload)
      const order = await newOrder(
        t.server,
        { subject: payload.slice(0, 128), description: payload, metadata: { note: payload, [payload.slice(0, 40)]: 'x' }, return_url: `https://shop.example/${payload.replace(/\s/g, '')}` },
        merchant.test.secret,
      )
      const check = (page: Page, what: string) => {
        assert.equal(page.status, 200)
        assert.ok(!page.text.includes(payload), `${what}: raw ${payload}`)
        assert.ok(!page.text.includes(payload.replace(/\s/g, '')), `${what}: raw return_url ${payload}`)
        // The page's own script tag has no attributes either; an injected one would carry the payload's alert.
        assert.doesNotMatch(page.text, /<script>alert|<img src=x|<svg onload|<iframe|\}\}<b>/, what)
      }
      check(await get(order.pay_url), 'pending')
      check(await get(order.pay_url + '?lang=zh-CN'), 'pending zh')
      await api(t.server.url, merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
      const paid = await get(order.pay_url)
      check(paid, 'paid')
      const href = /<a class="btn pri" href="([^"]*)"/.exec(paid.text)?.[1]
      assert.ok(href?.startsWith('https://shop.example/'), href)
    }
  })

  it('serves the QR code of pay_url as a PNG that decodes back to it, cacheable', async () => {
    const order = await newOrder(t.server)
    const res = await fetch(`${order.pay_url}/qr.png`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'image/png')
    assert.equal(res.headers.get('cache-control'), 'public, max-age=86400, immutable')
    const etag = res.headers.get('etag')
    assert.match(etag ?? '', /^"[^"]+"$/)
    const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()))
    const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height)
    assert.equal(decoded?.data, order.pay_url)
    assert.equal(decoded?.data, order.qr_code.content)
    const again = await fetch(`${order.pay_url}/qr.png`, { headers: { 'if-none-match': etag! } })
    assert.equal(again.status, 304)
    assert.equal(again.headers.get('etag'), etag)
  })

  it('serves the QR code as SVG with its content type', async () => {
    const order = await newOrder(t.server)
    const res = await fetch(order.qr_code.svg_url)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^image\/svg\+xml/)
    assert.equal(res.headers.get('cache-control'), 'public, max-age=86400, immutable')
    assert.ok(res.headers.get('etag'))
    assert.match(await res.text(), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/svg>\s*$/)
    const second = await fetch(order.qr_code.svg_url)
    assert.equal(second.headers.get('etag'), res.headers.get('etag'))
  })

  it('answers 404 for the QR code of an unknown token', async () => {
    for (const format of ['svg', 'png']) {
      const res = await fetch(`${t.server.url}/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/qr.${format}`)
      assert.equal(res.status, 404)
      assert.equal((await res.json()).error.code, 'resource_missing')
    }
  })

  it('reports the status as JSON, uncached', async () => {
    const order = await newOrder(t.server, { return_url: 'https://shop.example/back' })
    const res = await fetch(`${order.pay_url}/status`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.deepEqual(await res.json(), { status: 'pending', expires_at: order.expires_at, return_url: 'https://shop.example/back' })
    await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
    assert.equal((await (await fetch(`${order.pay_url}/status`)).json()).status, 'paid')
    const plain = await newOrder(t.server)
    assert.equal((await (await fetch(`${plain.pay_url}/status`)).json()).return_url, null)
  })

  it('answers a cached page view or status poll (the fast path) exactly as the routes do, and shows a change at once', async () => {
    const order = await newOrder(t.server)
    const shape = (p: Page) => ({
      status: p.status,
      text: p.text.replace(/data-left="\d+"|\d+:\d\d/g, 'TIME'),
      headers: [...p.headers].filter(([k]) => !['date', 'x-request-id'].includes(k)),
    })
    for (const [path, headers] of [
      ['', { 'accept-language': 'zh-CN,zh;q=0.9' }],
      ['', {}],
      ['?lang=zh-CN', { 'accept-language': 'en' }],
      ['/status', {}],
    ] as const) {
      const first = await get(`${order.pay_url}${path}`, headers)
      const cached = await get(`${order.pay_url}${path}`, headers)
      assert.deepEqual(shape(cached), shape(first), `GET ${path || '/'}`)
      assert.match(cached.headers.get('x-request-id') ?? '', /^req_[0-9a-z]{26}$/)
      assert.notEqual(cached.headers.get('x-request-id'), first.headers.get('x-request-id'))
    }
    await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
    assert.equal((await (await fetch(`${order.pay_url}/status`)).json()).status, 'paid')
    // At an end state too, ETag and 304 included; its bytes stay the same from one second to the next (no time left).
    const first = await get(order.pay_url)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const cached = await get(order.pay_url)
    assert.match(first.text, /Paid|paid/)
    assert.deepEqual(shape(cached), shape(first), 'GET / of a paid order')
    const etag = cached.headers.get('etag')
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]{27}"$/)
    const unchanged = await fetch(order.pay_url, { headers: { 'if-none-match': etag! } })
    assert.equal(unchanged.status, 304)
    assert.equal(await unchanged.text(), '')
    assert.equal(unchanged.headers.get('content-security-policy'), first.headers.get('content-security-policy'))
    assert.match(unchanged.headers.get('x-request-id') ?? '', /^req_[0-9a-z]{26}$/)
  })

  it('answers 404 JSON for the status of an unknown token', async () => {
    const res = await fetch(`${t.server.url}/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/status`)
    assert.equal(res.status, 404)
    const body = await res.json()
    assert.equal(body.error.code, 'resource_missing')
    assert.equal(body.error.type, 'not_found')
  })

  it('streams the status: the current one at once, then paid when the test helper pays, then ends', async () => {
    const order = await newOrder(t.server)
    const controller = new AbortController()
    const res = await fetch(`${order.pay_url}/events`, { signal: controller.signal })
    try {
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
      assert.equal(res.headers.get('cache-control'), 'no-store')
      const events = sseReader(res)
      assert.deepEqual(await events.next(), { event: 'status', data: { status: 'pending', expires_at: order.expires_at, return_url: null } })
      const paid = await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
      assert.equal(paid.status, 200)
      const next = await events.next()
      assert.equal(next?.event, 'status')
      assert.equal(next?.data.status, 'paid')
      assert.equal(await events.next(), null, 'the stream ends after a settled status')
    } finally {
      controller.abort()
    }
  })

  it('streams a settled order’s status once and ends', async () => {
    const order = await newOrder(t.server)
    await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/orders/${order.id}/close`)
    const first = await fetch(`${order.pay_url}/events`)
    const events = sseReader(first)
    assert.equal((await events.next())?.data.status, 'closed')
    assert.equal(await events.next(), null)
    // Reconnecting, as an EventSource does when a stream ends, having seen that status: 204, stop.
    const again = await fetch(`${order.pay_url}/events`, { headers: { 'last-event-id': 'closed' } })
    assert.equal(again.status, 204)
    const stale = await fetch(`${order.pay_url}/events`, { headers: { 'last-event-id': 'pending' } })
    assert.equal((await sseReader(stale).next())?.data.status, 'closed', 'one that missed it gets it')
  })

  it('refuses a ninth live stream of one order with 429, while another order still streams', async () => {
    const order = await newOrder(t.server)
    const other = await newOrder(t.server)
    // Connections of their own, all closed at the end: the shared pool would keep one the server waits for.
    const agent = new Agent()
    const stream = (url: string) => fetch(`${url}/events`, { dispatcher: agent } as RequestInit)
    try {
      const open = await Promise.all(Array.from({ length: 8 }, () => stream(order.pay_url)))
      assert.deepEqual(open.map((r) => r.status), Array(8).fill(200))
      const ninth = await stream(order.pay_url)
      assert.equal(ninth.status, 429)
      assert.equal(ninth.headers.get('retry-after'), '5')
      assert.equal((await ninth.json()).error.code, 'rate_limited')
      assert.equal((await stream(other.pay_url)).status, 200)
    } finally {
      await agent.destroy()
    }
  })

  it('answers 404 for the stream of an unknown token', async () => {
    const res = await fetch(`${t.server.url}/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/events`)
    assert.equal(res.status, 404)
    assert.equal((await res.json()).error.code, 'resource_missing')
  })

  it('pays through the sandbox wallet (script path), exactly once, with the order.paid event', async () => {
    const order = await newOrder(t.server)
    const pay = () => fetch(`${order.pay_url}/sandbox/pay`, { method: 'POST', headers: { accept: 'application/json' } })
    const res = await pay()
    assert.equal(res.status, 200)
    assert.equal((await res.json()).status, 'paid')
    const after = await api(t.server.url, t.server.merchant.test.secret, 'GET', `/v1/orders/${order.id}`)
    assert.equal(after.body.status, 'paid')
    assert.equal(after.body.channel, 'sandbox')
    const again = await pay()
    assert.equal(again.status, 200)
    assert.equal((await again.json()).status, 'paid')
    const events = await api(t.server.url, t.server.merchant.test.secret, 'GET', `/v1/events?order_id=${order.id}`)
    assert.deepEqual(events.body.data.map((e: any) => e.type), ['order.paid'])
  })

  it('pays through the sandbox wallet without script: a form post, then back to the page', async () => {
    const order = await newOrder(t.server)
    const res = await fetch(`${order.pay_url}/sandbox/pay?lang=zh-CN`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    })
    assert.equal(res.status, 303)
    assert.equal(res.headers.get('location'), `/pay/${order.token}?lang=zh-CN`)
    const page = await get(t.server.url + res.headers.get('location'))
    assert.match(page.text, /支付成功/)
  })

  it('declines without changing the order', async () => {
    const order = await newOrder(t.server)
    const res = await fetch(`${order.pay_url}/sandbox/decline`, { method: 'POST', headers: { accept: 'application/json' } })
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.equal(body.status, 'pending')
    assert.equal(body.declined, true)
    const form = await fetch(`${order.pay_url}/sandbox/decline?lang=en`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' })
    assert.equal(form.status, 303)
    const page = await get(t.server.url + form.headers.get('location'))
    assert.match(page.text, /Payment declined\. You can try again\./)
    assert.match(page.text, /<button[^>]*>Pay ¥12\.34<\/button>/)
    const after = await api(t.server.url, t.server.merchant.test.secret, 'GET', `/v1/orders/${order.id}`)
    assert.equal(after.body.status, 'pending')
    const events = await api(t.server.url, t.server.merchant.test.secret, 'GET', `/v1/events?order_id=${order.id}`)
    assert.equal(events.body.data.length, 0)
  })

  it('refuses the sandbox for live orders and unknown tokens', async () => {
    const order = await newOrder(t.server, {}, t.server.merchant.live.secret)
    const res = await fetch(`${order.pay_url}/sandbox/pay`, { method: 'POST', headers: { accept: 'application/json' } })
    assert.equal(res.status, 403)
    assert.equal((await res.json()).error.code, 'test_mode_only')
    const page = await fetch(`${order.pay_url}/sandbox/pay`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' })
    assert.equal(page.status, 403)
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/)
    const after = await api(t.server.url, t.server.merchant.live.secret, 'GET', `/v1/orders/${order.id}`)
    assert.equal(after.body.status, 'pending')
    const unknown = await fetch(`${t.server.url}/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/sandbox/pay`, { method: 'POST', headers: { accept: 'application/json' } })
    assert.equal(unknown.status, 404)
  })

  linkTests(t)
})

/** Signed payment links, /l/{key_id}. */
function linkTests(t: { readonly server: TestServer }) {
  const link = (overrides: Partial<Parameters<typeof buildPaymentLink>[0]> = {}) =>
    buildPaymentLink({
      publicUrl: t.server.url,
      keyId: t.server.merchant.test.key_id,
      secret: t.server.merchant.test.secret,
      amount: 1234,
      outTradeNo: nextNo(),
      subject: 'Latte',
      expiresAt: Math.floor(Date.now() / 1000) + 600,
      ...overrides,
    })

  it('payment link: creates the order and redirects to its checkout; the same link again gives the same order', async () => {
    const outTradeNo = nextNo()
    const expiresAt = Math.floor(Date.now() / 1000) + 600
    const url = link({ outTradeNo, expiresAt, subject: 'Latte & cake / 拿铁', extra: { description: 'Table 7', return_url: 'https://shop.example/back' } })
    const first = await get(url)
    assert.equal(first.status, 303)
    const location = first.headers.get('location')!
    assert.match(location, /^\/pay\/[A-Za-z0-9_-]+$/)
    const orders = await ordersByNo(t.server, outTradeNo)
    assert.equal(orders.length, 1)
    const order = orders[0]
    assert.equal(order.pay_url, t.server.url + location)
    assert.equal(order.amount, 1234)
    assert.equal(order.currency, 'CNY')
    assert.equal(order.subject, 'Latte & cake / 拿铁')
    assert.equal(order.description, 'Table 7')
    assert.equal(order.return_url, 'https://shop.example/back')
    assert.equal(order.mode, 'test')
    // It ends with the link, to the second the link names (not up to a second before it).
    assert.equal(order.expires_at, new Date(expiresAt * 1000).toISOString())
    const page = await get(t.server.url + location)
    assert.equal(page.status, 200)
    assert.match(page.text, /Latte &amp; cake \/ 拿铁/)

    await new Promise((r) => setTimeout(r, 1100))
    const second = await get(url)
    assert.equal(second.status, 303)
    assert.equal(second.headers.get('location'), location)
    assert.equal((await ordersByNo(t.server, outTradeNo)).length, 1)
  })

  it('payment link: opened many times at once still makes one order', async () => {
    const outTradeNo = nextNo()
    const url = link({ outTradeNo })
    const results = await Promise.all(Array.from({ length: 8 }, () => get(url)))
    assert.deepEqual(results.map((r) => r.status), Array(8).fill(303))
    assert.equal(new Set(results.map((r) => r.headers.get('location'))).size, 1)
    assert.equal((await ordersByNo(t.server, outTradeNo)).length, 1)
  })

  it('payment link: carries a signed lang to the checkout', async () => {
    const res = await get(link({ extra: { lang: 'zh-CN' } }))
    assert.equal(res.status, 303)
    assert.match(res.headers.get('location')!, /\?lang=zh-CN$/)
  })

  it('payment link: a live key makes a live order', async () => {
    const outTradeNo = nextNo()
    const res = await get(link({ outTradeNo, keyId: t.server.merchant.live.key_id, secret: t.server.merchant.live.secret }))
    assert.equal(res.status, 303)
    const [order] = await ordersByNo(t.server, outTradeNo, t.server.merchant.live.secret)
    assert.equal(order.mode, 'live')
    assert.equal((await ordersByNo(t.server, outTradeNo)).length, 0)
  })

  it('payment link: a tampered amount is refused with 403 and creates nothing', async () => {
    const outTradeNo = nextNo()
    const url = new URL(link({ outTradeNo }))
    url.searchParams.set('amount', '1')
    const page = await get(url.href)
    assert.equal(page.status, 403)
    assertPageHeaders(page)
    assert.match(page.text, /This link is not valid: it may have been changed after the merchant made it\. Ask the merchant for a new link\./)
    assert.equal((await ordersByNo(t.server, outTradeNo)).length, 0)
  })

  it('payment link: a missing or foreign signature, or an added parameter, is refused with 403', async () => {
    for (const mutate of [
      (u: URL) => u.searchParams.delete('sig'),
      (u: URL) => u.searchParams.set('sig', signPaymentLink(t.server.merchant.live.secret, Object.fromEntries(u.searchParams))),
      (u: URL) => u.searchParams.set('description', 'free'),
      (u: URL) => u.searchParams.set('subject', 'Espresso'),
    ]) {
      const outTradeNo = nextNo()
      const url = new URL(link({ outTradeNo }))
      mutate(url)
      assert.equal((await get(url.href)).status, 403, url.href)
      assert.equal((await ordersByNo(t.server, outTradeNo)).length, 0)
    }
  })

  it('payment link: an expired link is refused with 410 and creates nothing', async () => {
    const outTradeNo = nextNo()
    const page = await get(link({ outTradeNo, expiresAt: Math.floor(Date.now() / 1000) - 1 }), { 'accept-language': 'zh-CN' })
    assert.equal(page.status, 410)
    assert.match(page.text, /<html lang="zh-CN">[\s\S]*此支付链接已过期/)
    assert.equal((await ordersByNo(t.server, outTradeNo)).length, 0)
  })

  it('payment link: an unknown or malformed key is refused with 403', async () => {
    for (const keyId of ['key_test_AAAAAAAAAAAAAAAA', 'nonsense', '<script>']) {
      const outTradeNo = nextNo()
      const page = await get(link({ outTradeNo, keyId }))
      assert.equal(page.status, 403, keyId)
      assert.doesNotMatch(page.text, /<script>/)
      assert.equal((await ordersByNo(t.server, outTradeNo)).length, 0)
    }
  })

  it('payment link: correctly signed but invalid parameters are refused with 400 and create nothing', async () => {
    const cases: Record<string, string>[] = [
      { amount: '12.34' }, { amount: '0' }, { amount: '0100' }, { amount: '100000000001' }, { currency: 'cny' }, { currency: 'ABC' }, { subject: 'a\u0000b' },
      { out_trade_no: 'bad no' }, { subject: '' }, { subject: 'x'.repeat(129) }, { expires_at: 'tomorrow' },
      { return_url: 'javascript:alert(1)' }, { unknown: 'x' }, { lang: 'fr' }, { notify_url: 'https://shop.example/\u0000' },
      { description: 'a\u0000b' },
    ]
    for (const bad of cases) {
      const outTradeNo = nextNo()
      const params: Record<string, string> = {
        amount: '1234', currency: 'CNY', out_trade_no: outTradeNo, subject: 'Latte',
        expires_at: String(Math.floor(Date.now() / 1000) + 600), ...bad,
      }
      const sig = signPaymentLink(t.server.merchant.test.secret, params)
      const query = new URLSearchParams({ ...params, sig }).toString()
      const page = await get(`${t.server.url}/l/${t.server.merchant.test.key_id}?${query}`)
      assert.equal(page.status, 400, JSON.stringify(bad))
      // A parameter no link takes is named as such, not as one missing or invalid.
      if ('unknown' in bad) assert.match(page.text, /This link carries something payment links do not take \(“unknown”\)\. Ask the merchant for a new link\./)
      assert.equal((await ordersByNo(t.server, outTradeNo)).length, 0)
    }
    const url = link()
    const repeated = await get(`${url}&amount=1`)
    assert.equal(repeated.status, 400, 'repeated parameter')
    assert.match(repeated.text, /This link gives its amount more than once\. Ask the merchant for a new link\./)
    // Read before the signature is checked: a name links do not take is anyone's text, and not shown.
    const injected = await get(`${url}&Pay+at+evil.example=1&Pay+at+evil.example=2`)
    assert.equal(injected.status, 400)
    assert.match(injected.text, /This link gives a detail more than once\./)
    assert.doesNotMatch(injected.text, /evil\.example/)
    // Escapes that are not UTF-8, signed over what a lenient reader makes of them (U+FFFD): refused, not read so.
    for (const [name, raw, read] of [['subject', '%C3%28', '\uFFFD('], ['subject', '%ED%A0%80', '\uFFFD\uFFFD\uFFFD'], ['Pay+at+evil.example', '%FF', '\uFFFD']] as const) {
      const outTradeNo = nextNo()
      const params: Record<string, string> = { amount: '1234', currency: 'CNY', out_trade_no: outTradeNo, subject: 'Latte', expires_at: String(Math.floor(Date.now() / 1000) + 600) }
      const lenient = { ...params, [name.replaceAll('+', ' ')]: read }
      const sig = signPaymentLink(t.server.merchant.test.secret, lenient)
      const { subject: _, ...withoutSubject } = params
      const query = `${new URLSearchParams({ ...(name === 'subject' ? withoutSubject : params), sig })}&${name}=${raw}`
      const page = await get(`${t.server.url}/l/${t.server.merchant.test.key_id}?${query}`)
      assert.equal(page.status, 400, query)
      assert.match(page.text, name === 'subject' ? /This link’s item name is missing or not valid\./ : /Part of this link cannot be read/, query)
      assert.doesNotMatch(page.text, /evil\.example/)
      assert.equal((await ordersByNo(t.server, outTradeNo)).length, 0)
    }
  })

  it('payment link: opens when shared in WeChat, which appends its own parameters', async () => {
    const outTradeNo = nextNo()
    const res = await get(`${link({ outTradeNo })}&from=singlemessage&isappinstalled=0`)
    assert.equal(res.status, 303)
    assert.equal((await ordersByNo(t.server, outTradeNo)).length, 1)
    // The checkout page it leads to, shared in turn.
    const page = await get(`${t.server.url}${res.headers.get('location')}?from=groupmessage&isappinstalled=0`)
    assert.equal(page.status, 200)
    assert.match(page.text, /Latte/)
    // Anything else added to a link is still tampering.
    const other = nextNo()
    assert.equal((await get(`${link({ outTradeNo: other })}&note=x`)).status, 403)
    assert.equal((await ordersByNo(t.server, other)).length, 0)
  })

  it('payment link: an out_trade_no already used with other details is a 409 page', async () => {
    const order = await newOrder(t.server, { amount: 999 })
    const page = await get(link({ outTradeNo: order.out_trade_no }))
    assert.equal(page.status, 409)
    assert.match(page.text, /The order this link is for was already made with other details\. Ask the merchant for a new link\./)
    const orders = await ordersByNo(t.server, order.out_trade_no)
    assert.equal(orders.length, 1)
    assert.equal(orders[0].amount, 999)
  })

  it('payment link: an order the API made with the same details is the link’s order', async () => {
    const order = await newOrder(t.server)
    const res = await get(link({ outTradeNo: order.out_trade_no }))
    assert.equal(res.status, 303)
    assert.equal(res.headers.get('location'), `/pay/${order.token}`)
  })
}

// Expiry needs time to pass: this server's clock is moved forward by hand.
const clock = { offset: 0, now: () => Date.now() + clock.offset }
describeEachDatabase(
  'checkout expiry',
  (t) => {
    it('shows an order past expires_at as expired, in page, status and stream, before or after the job', async () => {
      const order = await newOrder(t.server, { expires_in: 60 })
      clock.offset += 61_000
      const page = await get(order.pay_url)
      assert.equal(page.status, 200)
      assert.match(page.text, /Order expired/)
      assert.doesNotMatch(page.text, /<button(?! id="mo")/)
      assert.match((await get(order.pay_url + '?lang=zh-CN')).text, /订单已过期/)
      assert.equal((await (await fetch(`${order.pay_url}/status`)).json()).status, 'expired')
      const events = sseReader(await fetch(`${order.pay_url}/events`))
      assert.equal((await events.next())?.data.status, 'expired')
      assert.equal(await events.next(), null)
      const pay = await fetch(`${order.pay_url}/sandbox/pay`, { method: 'POST', headers: { accept: 'application/json' } })
      assert.equal((await pay.json()).status, 'expired')
    })

    it('answers a view or poll of an entry older than the cache TTL from a new read, as the routes do', async () => {
      // 1 s where other nodes may change orders (PostgreSQL), 10 s where this process alone serves them (SQLite).
      const ttlMs = t.kind === 'sqlite' ? SOLE_WRITER_TTL_MS : DEFAULT_CHECKOUT_CACHE_OPTIONS.ttlMs
      const order = await newOrder(t.server)
      const shape = (p: Page) => ({ status: p.status, text: p.text.replace(/data-left="\d+"|\d+:\d\d/g, 'TIME'), headers: [...p.headers].filter(([k]) => !['date', 'x-request-id'].includes(k)) })
      for (const path of ['', '/status']) {
        const first = await get(`${order.pay_url}${path}`)
        clock.offset += ttlMs + 500
        const stale = await get(`${order.pay_url}${path}`)
        assert.deepEqual(shape(stale), shape(first), `GET ${path || '/'}`)
        assert.match(stale.headers.get('x-request-id') ?? '', /^req_[0-9a-z]{26}$/)
      }
      // Closed by another node or process (straight in the database, so this process is not told): not seen while
      // the entry is fresh, seen once it is older than the TTL; the new state has no render yet, so the fast path
      // hands the request to the route.
      const { ctx } = t.server.server
      const stored = (await ctx.storage.orders.byToken(order.token))!
      assert.equal(await ctx.storage.applyChanges([ctx.storage.changes.markClosed(stored, clock.now())]), null)
      assert.equal((await (await fetch(`${order.pay_url}/status`)).json()).status, 'pending')
      clock.offset += ttlMs + 500
      assert.match((await get(order.pay_url)).text, /Order closed/)
      assert.equal((await (await fetch(`${order.pay_url}/status`)).json()).status, 'closed')
    })

    it('streams expired when the time runs out while the page is open', async () => {
      const order = await newOrder(t.server, { expires_in: 60 })
      const controller = new AbortController()
      const events = sseReader(await fetch(`${order.pay_url}/events`, { signal: controller.signal }))
      try {
        assert.equal((await events.next())?.data.status, 'pending')
        clock.offset += 61_000
        assert.equal((await events.next(5000))?.data.status, 'expired')
      } finally {
        controller.abort()
      }
    })

    it('payment link: an order lives until the link expires, at least a minute and at most a day', async () => {
      const now = Math.floor(clock.now() / 1000)
      for (const [expiresAt, lifetime] of [[now + 10, 60], [now + 3 * 86_400, 86_400]] as const) {
        const outTradeNo = nextNo()
        const url = buildPaymentLink({
          publicUrl: t.server.url, keyId: t.server.merchant.test.key_id, secret: t.server.merchant.test.secret,
          amount: 500, outTradeNo, subject: 'Tea', expiresAt,
        })
        assert.equal((await get(url)).status, 303)
        const [order] = await ordersByNo(t.server, outTradeNo)
        assert.equal((Date.parse(order.expires_at) - Date.parse(order.created_at)) / 1000, lifetime)
      }
    })

    it('payment link: expiry is judged by the server’s clock', async () => {
      const outTradeNo = nextNo()
      const url = buildPaymentLink({
        publicUrl: t.server.url, keyId: t.server.merchant.test.key_id, secret: t.server.merchant.test.secret,
        amount: 500, outTradeNo, subject: 'Tea', expiresAt: Math.floor(clock.now() / 1000) + 30,
      })
      clock.offset += 31_000
      assert.equal((await get(url)).status, 410)
      assert.equal((await ordersByNo(t.server, outTradeNo)).length, 0)
    })

    it('payment link: once expired, a link is refused with 410, its page leading to the order it made while valid', async () => {
      const link = (outTradeNo: string, amount = 500) => buildPaymentLink({
        publicUrl: t.server.url, keyId: t.server.merchant.test.key_id, secret: t.server.merchant.test.secret,
        amount, outTradeNo, subject: 'Tea', expiresAt: Math.floor(clock.now() / 1000) + 90, extra: { lang: 'zh-CN' },
      })
      const outTradeNo = nextNo()
      const url = link(outTradeNo)
      const first = await get(url)
      assert.equal(first.status, 303)
      const [order] = await ordersByNo(t.server, outTradeNo)
      assert.equal((await api(t.server.url, t.server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)).status, 200)
      clock.offset += 91_000
      // The contract's error page, and on it the way to the order: a customer who paid sees it paid there.
      const again = await get(url)
      assert.equal(again.status, 410)
      assert.match(again.text, /此支付链接已过期，请联系商户获取新的链接。/)
      const orderPage = new RegExp(`<a class="btn sub" href="${first.headers.get('location')!.replace(/[?]/g, '\\?')}">查看此链接创建的订单</a>`)
      assert.match(again.text, orderPage)
      assert.match((await get(`${t.server.url}${first.headers.get('location')}`)).text, /支付成功/)
      // A link for an out_trade_no the merchant used for another order does not lead to that order.
      const other = await newOrder(t.server, { amount: 999 })
      const foreign = link(other.out_trade_no)
      clock.offset += 91_000
      const refused = await get(foreign)
      assert.equal(refused.status, 410)
      assert.doesNotMatch(refused.text, /查看此链接创建的订单|\/pay\//)
      // Nor to one made after the link expired, with the link's very details (by the API, or a new link).
      const late = nextNo()
      const stale = link(late)
      clock.offset += 91_000
      const made = await newOrder(t.server, { out_trade_no: late, amount: 500, subject: 'Tea' })
      assert.ok(made.id)
      assert.doesNotMatch((await get(stale)).text, /查看此链接创建的订单|\/pay\//)
      assert.equal((await ordersByNo(t.server, outTradeNo)).length, 1)
    })
  },
  { clock },
)

describe('checkout shutdown', () => {
  it('ends open status streams instead of waiting for customers to leave', async () => {
    const server = await startTestServer('sqlite')
    let stopped = false
    try {
      const order = await newOrder(server)
      const events = sseReader(await fetch(`${order.pay_url}/events`))
      assert.equal((await events.next())?.data.status, 'pending')
      const started = Date.now()
      await server.stop()
      stopped = true
      assert.ok(Date.now() - started < 5000, 'stopped promptly')
      assert.equal(await events.next(), null, 'the stream ended')
    } finally {
      if (!stopped) await server.stop()
    }
  })
})

// The limiter refills with the server's clock; frozen, a slow database cannot refill a bucket mid-test.
const throttleClock = { frozenAt: undefined as number | undefined, now: () => throttleClock.frozenAt ?? Date.now() }

describeEachDatabase('checkout actions throttle', (t) => {
  it('answers 429 to a burst of pay taps on one token, and the order is paid once', async (c) => {
    const o = (await api(t.server.url, t.server.merchant.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'throttle-1' })).body
    throttleClock.frozenAt = Date.now()
    c.after(() => { throttleClock.frozenAt = undefined })
    const token = new URL(o.pay_url).pathname.split('/')[2]
    const results = await Promise.all(
      Array.from({ length: 12 }, () => fetch(`${t.server.url}/pay/${token}/sandbox/decline`, { method: 'POST', headers: { accept: 'application/json' } })),
    )
    const statuses = results.map((r) => r.status)
    assert.ok(statuses.includes(429), JSON.stringify(statuses))
    const pay = await fetch(`${t.server.url}/pay/${token}/sandbox/pay`, { method: 'POST', headers: { accept: 'application/json' } })
    assert.equal(pay.status, 429, 'the same token is still limited')
    // Posted without script, the refusal is a page in the customer's language with the way back to the order.
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => fetch(`${t.server.url}/pay/${token}/sandbox/decline?lang=zh-CN`, { method: 'POST', redirect: 'manual' })),
    )
    const plain = burst.find((r) => r.status === 429)
    assert.ok(plain, JSON.stringify(burst.map((r) => r.status)))
    assert.match(plain.headers.get('content-type') ?? '', /^text\/html/)
    const page = await plain.text()
    assert.match(page, /操作过于频繁/)
    assert.ok(page.includes(`<a class="btn sub" href="/pay/${token}?lang=zh-CN">返回支付页面</a>`), page)
    assert.equal((await api(t.server.url, t.server.merchant.test.secret, 'GET', `/v1/orders/${o.id}`)).body.status, 'pending', 'nothing was paid')
  })

  it('a token no order could have is answered 404 every time, and takes no room in the limiter', async () => {
    const junk = `${'x'.repeat(200)}!`
    const statuses = await Promise.all(Array.from({ length: 15 }, () => fetch(`${t.server.url}/pay/${junk}/sandbox/pay`, { method: 'POST', headers: { accept: 'application/json' } }).then((r) => r.status)))
    assert.deepEqual([...new Set(statuses)], [404])
  })
}, { clock: throttleClock })
