// A live order's checkout in a real browser (Debian's Chromium, headless) against the WeChat Pay and Alipay
// simulators: the customer taps a channel, the channel's own QR appears (and scans, read off the screen), the
// simulated customer pays, and the page shows success without reloading. SQLite only; the HTTP suite
// (test/checkout-channels.test.ts) covers both databases.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import jsqr from 'jsqr'
import { PNG } from 'pngjs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { AlipaySimulator } from '../../src/channels/alipay/simulator.ts'
import { CODE_URL_LIFETIME_MS, WechatPaySimulator } from '../../src/channels/wechat-pay/simulator.ts'
import { api, startTestServer, type TestServer } from '../helpers/server.ts'
import { launchChromium, PHONE, skipWithoutChromium } from '../helpers/browser.ts'

const jsQR = jsqr.default

const skip = skipWithoutChromium


let seq = 0
const nextNo = () => `BRC-${process.pid}-${++seq}`

describe('checkout with real channels in a browser', { skip }, () => {
  let server: TestServer
  let browser: Browser
  // The server's and the channels' clock, moved on together (only ever forward) where a test needs hours to pass.
  const clock = { offset: 0, now: () => Date.now() + clock.offset }
  const wx = new WechatPaySimulator({ retryScale: 0.002, now: clock.now })
  const ali = new AlipaySimulator({ retryScale: 0.002, now: clock.now })

  before(async () => {
    server = await startTestServer('sqlite', { clock })
    await wx.start()
    await ali.start()
    const m = server.merchant.merchant_id
    assert.ok((await server.server.ctx.channelCredentials.set(m, 'wechatpay', wx.credentialsDocument())).ok)
    assert.ok((await server.server.ctx.channelCredentials.set(m, 'alipay', ali.credentialsDocument())).ok)
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await wx.stop()
    await ali.stop()
    await server?.stop()
  })

  async function liveOrder(body: Record<string, unknown> = {}) {
    const res = await api(server.url, server.merchant.live.secret, 'POST', '/v1/orders', { out_trade_no: nextNo(), amount: 880000, subject: '年会门票 · 两位', description: '12 月 20 日 18:30，静安店', ...body })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return res.body as { id: string; pay_url: string }
  }

  const orderStatus = async (id: string) => (await api(server.url, server.merchant.live.secret, 'GET', `/v1/orders/${id}`)).body.status as string

  /** Pays at the simulator as the customer's app would, over HTTP (its /sim/pay form). */
  async function payAtSimulator(sim: { url: string }, field: 'code_url' | 'qr_code', code: string) {
    const res = await fetch(`${sim.url}/sim/pay`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ [field]: code }) })
    assert.equal(res.status, 303, `the simulator took the payment (${res.status})`)
  }

  /** Reads the QR the customer sees: a screenshot of the image on the page, decoded. */
  async function scanScreen(page: Page): Promise<string | undefined> {
    const shot = PNG.sync.read(await page.locator('#cq img').screenshot())
    return jsQR(new Uint8ClampedArray(shot.data), shot.width, shot.height)?.data
  }

  async function phone(options: { javaScriptEnabled?: boolean; desktop?: boolean } = {}) {
    const context: BrowserContext = await browser.newContext(
      options.desktop ? { viewport: { width: 1280, height: 900 } } : { ...PHONE, javaScriptEnabled: options.javaScriptEnabled },
    )
    const page: Page = await context.newPage()
    const problems: string[] = []
    let navigations = 0
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`)
    })
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++
    })
    return { context, page, problems, navigations: () => navigations }
  }

  const qrShown = (page: Page) =>
    page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#cq img')
      return !!img && img.complete && img.naturalWidth > 0
    }, undefined, { timeout: 10_000 })

  /** A day-long order's page on a phone whose timers the test moves, showing WeChat's code: the code it shows. */
  async function onWechatCode(lang: 'en' | 'zh-CN') {
    const order = await liveOrder({ expires_in: 86_400 })
    const p = await phone()
    await p.page.clock.install()
    await p.page.goto(`${order.pay_url}?lang=${lang}`)
    await p.page.getByRole('button', { name: lang === 'en' ? 'WeChat Pay' : '微信支付' }).tap()
    await qrShown(p.page)
    return { order, p, first: (await scanScreen(p.page))! }
  }

  /** Moves the server's, WeChat's and the page's clocks on by `ms` (and the page's by `extra` more). */
  async function timePasses(page: Page, ms: number, extra = 0) {
    clock.offset += ms
    await page.clock.fastForward(ms + extra)
  }

  /** With no error said on the page, the customer pays the WeChat code on it: the page, and the order, say paid. */
  async function paidOnScreen(p: { page: Page; problems: string[] }, orderId: string, code: string) {
    assert.equal(await p.page.locator('#msg').textContent(), '', 'no error said')
    await payAtSimulator(wx, 'code_url', code)
    await p.page.getByRole('heading', { name: '支付成功' }).waitFor({ timeout: 10_000 })
    assert.equal(await orderStatus(orderId), 'paid')
    assert.deepEqual(p.problems, [])
  }

  /** Waits for the page to show another code than the one at `old` (its image's src), loaded. */
  const codeReplaced = (page: Page, old: string | null) =>
    page.waitForFunction((was) => {
      const img = document.querySelector<HTMLImageElement>('#cq img')
      return !!img && img.getAttribute('src') !== was && img.complete && img.naturalWidth > 0
    }, old, { timeout: 10_000 })

  for (const l of [
    { lang: 'zh-CN', button: '微信支付', scan: '请使用微信扫一扫', hint: /长按二维码保存到相册/, paid: '支付成功' },
    { lang: 'en', button: 'WeChat Pay', scan: 'Scan with WeChat to pay', hint: /Press and hold the code to save it/, paid: 'Payment successful' },
  ] as const) {
    it(`${l.lang}: tap ${l.button}, WeChat's QR appears, the customer pays, the page shows success without reloading`, async () => {
      const order = await liveOrder()
      const p = await phone()
      try {
        await p.page.goto(`${order.pay_url}?lang=${l.lang}`)
        await p.page.evaluate(() => ((window as unknown as { __marker: string }).__marker = 'same document'))
        const navigations = p.navigations()
        await p.page.getByRole('button', { name: l.button }).tap()
        await qrShown(p.page)
        assert.equal(await p.page.getByText(l.scan, { exact: true }).isVisible(), true, 'the instruction')
        assert.equal(await p.page.getByText(l.hint).isVisible(), true, 'the phone hint')
        assert.equal(await p.page.locator('.qr').count(), 0, 'the page’s own QR gave way')
        const code = await scanScreen(p.page)
        const simOrder = wx.orderByCodeUrl(code ?? '')
        assert.ok(simOrder, `the QR on screen (${code}) is the simulator's code_url`)
        assert.equal(simOrder.total, 880000)
        // The address bar now names the channel, so a reload shows the same code.
        assert.match(p.page.url(), /[?&]channel=wechatpay/)
        const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
        assert.equal(overflow, 0, 'no horizontal scrolling')
        await p.page.screenshot({ path: `/tmp/scanpay-checkout-wechatpay-${l.lang}.png`, fullPage: true })

        await payAtSimulator(wx, 'code_url', simOrder.codeUrl)
        await p.page.getByRole('heading', { name: l.paid }).waitFor({ timeout: 10_000 })
        assert.equal(await p.page.evaluate(() => (window as unknown as { __marker?: string }).__marker), 'same document', 'the page reloaded')
        // Playwright reports history.replaceState as a same-document navigation: that one, and nothing else.
        assert.equal(p.navigations(), navigations + 1, 'no navigation beyond the address bar naming the channel')
        assert.equal(await orderStatus(order.id), 'paid')
        await p.page.screenshot({ path: `/tmp/scanpay-checkout-wechatpay-paid-${l.lang}.png`, fullPage: true })
        assert.deepEqual(p.problems, [])
      } finally {
        await p.context.close()
      }
    })
  }

  it('a WeChat code left on screen past its 2 hours is replaced by the current one, which pays', async () => {
    const { order, p, first } = await onWechatCode('zh-CN')
    try {
      assert.ok(wx.orderByCodeUrl(first), 'WeChat’s first code is on screen')
      const shownSrc = await p.page.locator('#cq img').getAttribute('src')
      await timePasses(p.page, CODE_URL_LIFETIME_MS, 2_000)
      await codeReplaced(p.page, shownSrc)
      const second = await scanScreen(p.page)
      assert.ok(second && second !== first, `a new code (${second}) replaced the old (${first})`)
      assert.ok(wx.orderByCodeUrl(second), 'the new code is WeChat’s current one for the order')
      await paidOnScreen(p, order.id, second)
    } finally {
      await p.context.close()
    }
  })

  it('a page opened on its code (the address names the channel) renews it the same way', async () => {
    const { p, first } = await onWechatCode('en')
    try {
      // An hour later the customer reloads: the server renders the code with the hour it has left.
      await timePasses(p.page, CODE_URL_LIFETIME_MS / 2)
      await p.page.reload()
      await qrShown(p.page)
      assert.equal(await scanScreen(p.page), first, 'the same code, still taken')
      const shownSrc = await p.page.locator('#cq img').getAttribute('src')
      await timePasses(p.page, CODE_URL_LIFETIME_MS / 2, 2_000)
      await codeReplaced(p.page, shownSrc)
      const second = await scanScreen(p.page)
      assert.ok(second && second !== first && wx.orderByCodeUrl(second), `WeChat's current code (${second}) replaced the old`)
      assert.deepEqual(p.problems, [])
    } finally {
      await p.context.close()
    }
  })

  /**
   * Runs `body` with the background jobs held still, so the reconciler (every 100 ms here) cannot find WeChat's
   * order closed before the page asks: the test decides which comes first.
   */
  async function jobsHeld<T>(body: () => Promise<T>): Promise<T> {
    await server.server.ctx.jobs.stop()
    try {
      return await body()
    } finally {
      server.server.ctx.jobs.start()
    }
  }

  it('a renewal WeChat refuses takes the dead code away and says so; choosing again opens a new one', async () => {
    const { order, p, first } = await onWechatCode('zh-CN')
    try {
      await jobsHeld(async () => {
        // Closed at WeChat meanwhile (in its merchant console, say): asked for the current code, it answers ORDER_CLOSED.
        wx.orderByCodeUrl(first)!.state = 'CLOSED'
        await timePasses(p.page, CODE_URL_LIFETIME_MS, 2_000)
        await p.page.locator('#cq img').waitFor({ state: 'detached', timeout: 10_000 })
      })
      assert.match((await p.page.locator('#msg').textContent()) ?? '', /微信支付/, 'the page says WeChat Pay could not open it')
      await p.page.getByRole('button', { name: '微信支付' }).tap()
      await qrShown(p.page)
      const second = await scanScreen(p.page)
      assert.ok(second && second !== first && wx.orderByCodeUrl(second)?.state === 'NOTPAY', 'a new channel order, open')
      assert.equal(await orderStatus(order.id), 'pending')
      // The browser logs the refused renewal's answer (502, channel_failed) as a failed resource: that one only.
      assert.deepEqual(p.problems, ['console: Failed to load resource: the server responded with a status of 502 (Bad Gateway)'])
    } finally {
      await p.context.close()
    }
  })

  it('a code whose WeChat order the reconciler found closed first is renewed with a new channel order', async () => {
    const { order, p, first } = await onWechatCode('zh-CN')
    try {
      const shownSrc = await p.page.locator('#cq img').getAttribute('src')
      await jobsHeld(async () => {
        wx.orderByCodeUrl(first)!.state = 'CLOSED'
        clock.offset += CODE_URL_LIFETIME_MS
        // The reconciler asks WeChat about the attempt before the page does, and ends it closed.
        await server.server.ctx.jobs.runOnce()
        await p.page.clock.fastForward(CODE_URL_LIFETIME_MS + 2_000)
        await codeReplaced(p.page, shownSrc)
      })
      const second = await scanScreen(p.page)
      assert.ok(second && second !== first && wx.orderByCodeUrl(second)?.state === 'NOTPAY', 'a new channel order, open')
      await paidOnScreen(p, order.id, second)
    } finally {
      await p.context.close()
    }
  })

  it('switching channels shows the other channel’s code; Alipay paid by a scan on a 320 px phone', async () => {
    const order = await liveOrder()
    const p = await phone()
    try {
      await p.page.setViewportSize({ width: 320, height: 640 })
      await p.page.goto(`${order.pay_url}?lang=zh-CN`)
      await p.page.getByRole('button', { name: '微信支付' }).tap()
      await qrShown(p.page)
      const wechatCode = await scanScreen(p.page)
      await p.page.getByRole('button', { name: '支付宝' }).tap()
      await p.page.getByText('请使用支付宝扫一扫').waitFor({ timeout: 10_000 })
      await qrShown(p.page)
      const alipayCode = await scanScreen(p.page)
      assert.notEqual(alipayCode, wechatCode)
      const trade = ali.tradeByQr(alipayCode ?? '')
      assert.ok(trade, `the QR on screen (${alipayCode}) is the simulator's qr_code`)
      assert.equal(await p.page.locator('[aria-current="true"]').textContent(), '支付宝')
      const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
      assert.equal(overflow, 0, 'no horizontal scrolling at 320 px')
      const box = await p.page.getByRole('button', { name: '支付宝' }).boundingBox()
      assert.ok(box && box.height >= 44, 'the channel button is a comfortable tap target')
      await payAtSimulator(ali, 'qr_code', trade.qrCode)
      await p.page.getByRole('heading', { name: '支付成功' }).waitFor({ timeout: 10_000 })
      assert.deepEqual(p.problems, [])
    } finally {
      await p.context.close()
    }
  })

  it('on a 320×568 phone with the longest description, both channels stay on screen and the chosen code scrolls into view', async () => {
    const description = '12 月 20 日 18:30 入场，静安店三楼宴会厅。请提前十分钟到签到处出示本页付款凭证。\n'.repeat(12).slice(0, 512)
    assert.equal(description.length, 512, 'the longest description an order takes')
    const p = await phone()
    try {
      await p.page.setViewportSize({ width: 320, height: 568 })
      for (const l of [{ lang: 'zh-CN', wechat: '微信支付', alipay: '支付宝' }, { lang: 'en', wechat: 'WeChat Pay', alipay: 'Alipay' }]) {
        await p.page.goto(`${(await liveOrder({ description })).pay_url}?lang=${l.lang}`)
        for (const name of [l.wechat, l.alipay]) {
          const box = await p.page.getByRole('button', { name }).boundingBox()
          assert.ok(box && box.y >= 0 && box.y + box.height <= 568, `${l.lang}: ${name} is on screen (${JSON.stringify(box)})`)
        }
        await p.page.getByRole('button', { name: l.wechat }).tap()
        await qrShown(p.page)
        const qr = await p.page.locator('#cq img').boundingBox()
        assert.ok(qr && qr.y >= 0 && qr.y + qr.height <= 568, `${l.lang}: the code is on screen (${JSON.stringify(qr)})`)
        await p.page.screenshot({ path: `/tmp/scanpay-checkout-long-description-wechatpay-${l.lang}.png` })
      }
      assert.deepEqual(p.problems, [])
    } finally {
      await p.context.close()
    }
  })

  it('on a computer the QR shows without the phone hint', async () => {
    const order = await liveOrder()
    const p = await phone({ desktop: true })
    try {
      await p.page.goto(order.pay_url)
      assert.equal(await p.page.locator('.qr img').isVisible(), true, 'before a choice, the page’s own QR for a phone')
      await p.page.getByRole('button', { name: 'Alipay' }).click()
      await qrShown(p.page)
      assert.equal(await p.page.getByText('Scan with Alipay to pay').isVisible(), true)
      assert.equal(await p.page.getByText(/Press and hold/).isVisible(), false, 'no phone hint on a computer')
      assert.ok(ali.tradeByQr((await scanScreen(p.page)) ?? ''), 'the QR on screen is Alipay’s')
      await p.page.screenshot({ path: '/tmp/scanpay-checkout-alipay-desktop-en.png', fullPage: true })
    } finally {
      await p.context.close()
    }
  })

  it('without JavaScript the channel button lands on the page with its code', async () => {
    const order = await liveOrder()
    const p = await phone({ javaScriptEnabled: false })
    try {
      await p.page.goto(`${order.pay_url}?lang=zh-CN`)
      await p.page.getByRole('button', { name: '支付宝' }).tap()
      await p.page.getByText('请使用支付宝扫一扫').waitFor({ timeout: 10_000 })
      // Without JavaScript there is no load event to wait for: the code may still be decoding when the text
      // shows (a busy machine failed the scan once), so the screen is scanned until the code reads.
      let scanned = await scanScreen(p.page)
      for (const deadline = Date.now() + 10_000; !scanned && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        scanned = await scanScreen(p.page)
      }
      assert.ok(ali.tradeByQr(scanned ?? ''), 'the QR on screen is Alipay’s')
    } finally {
      await p.context.close()
    }
  })

  it('a merchant closing the order while the code is on screen shows it closed, live', async () => {
    const order = await liveOrder()
    const p = await phone()
    try {
      await p.page.goto(`${order.pay_url}?lang=zh-CN`)
      await p.page.getByRole('button', { name: '微信支付' }).tap()
      await qrShown(p.page)
      const code = (await scanScreen(p.page))!
      await api(server.url, server.merchant.live.secret, 'POST', `/v1/orders/${order.id}/close`)
      await p.page.getByRole('heading', { name: '订单已关闭' }).waitFor({ timeout: 10_000 })
      assert.equal(await p.page.locator('#cq').count(), 0, 'the code is gone')
      const simOrder = wx.orderByCodeUrl(code)!
      const deadline = Date.now() + 5000
      while (simOrder.state !== 'CLOSED' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      assert.equal(simOrder.state, 'CLOSED', 'WeChat’s order is closed too')
    } finally {
      await p.context.close()
    }
  })

  it('a payment that reaches WeChat after the order closed is said on the open page, without a reload', async () => {
    const order = await liveOrder()
    const p = await phone()
    try {
      // The page's timers run on a clock the test moves on, so its slow asking after the end takes no real time.
      await p.page.clock.install()
      await p.page.goto(`${order.pay_url}?lang=zh-CN`)
      await p.page.evaluate(() => ((window as unknown as { __marker: string }).__marker = 'same document'))
      await p.page.getByRole('button', { name: '微信支付' }).tap()
      await qrShown(p.page)
      const code = (await scanScreen(p.page))!
      await api(server.url, server.merchant.live.secret, 'POST', `/v1/orders/${order.id}/close`)
      await p.page.getByRole('heading', { name: '订单已关闭' }).waitFor({ timeout: 10_000 })
      // The customer's app still had the code, and paid as the order closed: the status stays closed.
      wx.pay(code, { force: true })
      const late = /您在微信支付完成的 ¥8,800\.00 付款到账时，本订单已无法支付，款项(正在|已)原路退回您的付款账户。/
      for (const deadline = Date.now() + 10_000; !late.test(await (await fetch(`${order.pay_url}?lang=zh-CN`)).text()); ) {
        assert.ok(Date.now() < deadline, 'the server has the late payment')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.equal(await orderStatus(order.id), 'closed')
      // The end state's section (a live region) stays on the page and its heading keeps the focus it had.
      await p.page.locator('section.end').evaluate((e) => e.setAttribute('data-seen', '1'))
      const focused = await p.page.evaluate(() => document.activeElement?.textContent)
      await p.page.clock.runFor(20_000)
      await p.page.getByText(late).waitFor({ timeout: 10_000 })
      assert.equal(await p.page.getByRole('heading', { name: '订单已关闭' }).count(), 1, 'under the end state')
      assert.equal(await p.page.locator('section.end[data-seen="1"][aria-live="polite"]').count(), 1, 'the same live region, told the news')
      assert.equal(await p.page.evaluate(() => document.activeElement?.textContent), focused, 'the focus stays where it was')
      assert.equal(await p.page.evaluate(() => (window as unknown as { __marker?: string }).__marker), 'same document', 'the page reloaded')
      await p.page.screenshot({ path: '/tmp/scanpay-checkout-late-payment-zh-CN.png', fullPage: true })
      assert.deepEqual(p.problems, [])
    } finally {
      await p.context.close()
    }
  })
})
