// The checkout in a real browser (Debian's Chromium, headless) on a phone-sized screen, in both languages.
// One database kind is enough here; the HTTP suite covers SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'
import { api, ORDER, startTestServer, type TestServer } from '../helpers/server.ts'
import { launchChromium, PHONE, skipWithoutChromium } from '../helpers/browser.ts'

const skip = skipWithoutChromium


const LANGS = [
  { lang: 'en', pay: /^Pay/, decline: 'Decline', paid: 'Payment successful', declined: 'Payment declined. You can try again.', more: 'More', less: 'Less' },
  { lang: 'zh-CN', pay: /支付/, decline: '拒绝付款', paid: '支付成功', declined: '已拒绝付款，您可以重新尝试。', more: '展开', less: '收起' },
] as const

/** The longest subject (128 characters) and description (512, with line breaks) an order takes, in each language. */
const LONGEST = {
  en: {
    subject: 'Annual membership renewal: Premium plan with priority support, two extra seats and the quarterly printed magazine delivered home',
    description: 'Oat milk latte, extra hot, with a shot of vanilla and cinnamon on top.\nDeliver to table 7 by the window, please. '.repeat(5).slice(0, 512),
  },
  'zh-CN': {
    subject: '年度会员续费高级套餐含优先客服支持两个额外席位以及每季度寄送到家的纸质杂志和专属活动邀请函还有生日礼遇与积分加倍特权一年内不限次数使用门店停车位以及免费咖啡券十二张和会员专享折扣商品推荐服务详情请见会员手册最后一页所列条款说明如有疑问请联系门店工作人员咨询',
    description: '燕麦拿铁，加热，加一份香草糖浆，表面撒肉桂粉。\n请送到靠窗的七号桌，谢谢！'.repeat(16).slice(0, 512),
  },
} as const

/** How many lines an element shows on screen. */
const linesShown = (el: Locator) => el.evaluate((e) => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)))
/** Whether an element shows all of its text (nothing cut by a clamp). */
const whole = (el: Locator) => el.evaluate((e) => e.scrollHeight <= e.clientHeight + 1)

let seq = 0
const nextNo = () => `BR-${process.pid}-${++seq}`

describe('checkout in a browser', { skip }, () => {
  let server: TestServer
  let browser: Browser

  before(async () => {
    server = await startTestServer('sqlite')
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await server?.stop()
  })

  async function newOrder(body: Record<string, unknown> = {}, secret = server.merchant.test.secret) {
    const res = await api(server.url, secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: nextNo(), ...body })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return res.body as { id: string; pay_url: string }
  }

  async function orderStatus(id: string, secret = server.merchant.test.secret): Promise<string> {
    return (await api(server.url, secret, 'GET', `/v1/orders/${id}`)).body.status
  }

  /**
   * A phone with a page that records what would betray a bug: dialogs (an XSS payload running), CSP
   * violations and script errors (the page breaking its own policy), and navigations after the first.
   */
  async function phone(options: { javaScriptEnabled?: boolean } = {}) {
    const context: BrowserContext = await browser.newContext({ ...PHONE, ...options })
    const page: Page = await context.newPage()
    const problems: string[] = []
    const dialogs: string[] = []
    let navigations = 0
    page.on('dialog', (d) => {
      dialogs.push(d.message())
      void d.dismiss()
    })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 404/.test(m.text())) problems.push(`console: ${m.text()}`)
    })
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++
    })
    return { context, page, problems, dialogs, navigations: () => navigations }
  }

  /** A marker on window survives only as long as the document does: if it is still there, nothing reloaded. */
  async function markDocument(page: Page) {
    await page.evaluate(() => ((window as unknown as { __marker: string }).__marker = 'same document'))
  }

  async function assertSameDocument(page: Page) {
    assert.equal(await page.evaluate(() => (window as unknown as { __marker?: string }).__marker), 'same document', 'the page reloaded')
  }

  for (const l of LANGS) {
    describe(l.lang, () => {
      it('tapping pay shows success without reloading, and the order is paid', async () => {
        const order = await newOrder({ description: 'Oat milk, extra hot', return_url: 'https://shop.example/back' })
        const p = await phone()
        try {
          await p.page.goto(`${order.pay_url}?lang=${l.lang}`)
          assert.equal(await p.page.getAttribute('html', 'lang'), l.lang)
          await p.page.screenshot({ path: `/tmp/scanpay-checkout-${l.lang}.png`, fullPage: true })
          const before = await p.page.locator('#left').textContent()
          await p.page.waitForFunction((text) => document.getElementById('left')?.textContent !== text, before, { timeout: 3000 })
          await markDocument(p.page)
          const navigations = p.navigations()
          await p.page.getByRole('button', { name: l.pay }).tap()
          await p.page.getByRole('heading', { name: l.paid }).waitFor({ timeout: 5000 })
          await assertSameDocument(p.page)
          assert.equal(p.navigations(), navigations, 'no navigation happened')
          assert.equal(await p.page.getByRole('button').count(), 0, 'the wallet is gone')
          const back = p.page.getByRole('link', { name: l.lang === 'en' ? 'Return to merchant' : '返回商户' })
          assert.equal(await back.getAttribute('href'), 'https://shop.example/back')
          assert.equal(await orderStatus(order.id), 'paid')
          await p.page.screenshot({ path: `/tmp/scanpay-checkout-paid-${l.lang}.png`, fullPage: true })
          assert.deepEqual(p.problems, [])
        } finally {
          await p.context.close()
        }
      })

      it('declining keeps the order pending and says so', async () => {
        const order = await newOrder()
        const p = await phone()
        try {
          await p.page.goto(`${order.pay_url}?lang=${l.lang}`)
          await markDocument(p.page)
          await p.page.getByRole('button', { name: l.decline }).tap()
          await p.page.getByRole('status').filter({ hasText: l.declined }).waitFor({ timeout: 5000 })
          await assertSameDocument(p.page)
          assert.equal(await p.page.getByRole('button', { name: l.pay }).isEnabled(), true, 'the customer can try again')
          assert.equal(await orderStatus(order.id), 'pending')
          assert.deepEqual(p.problems, [])
        } finally {
          await p.context.close()
        }
      })

      it('an order paid elsewhere updates the open page live', async () => {
        const order = await newOrder()
        const p = await phone()
        try {
          await p.page.goto(`${order.pay_url}?lang=${l.lang}`)
          await markDocument(p.page)
          // The stream is open once the page has its first event; give it a moment to connect.
          await p.page.waitForTimeout(300)
          const paid = await api(server.url, server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
          assert.equal(paid.status, 200)
          await p.page.getByRole('heading', { name: l.paid }).waitFor({ timeout: 5000 })
          await assertSameDocument(p.page)
          assert.deepEqual(p.problems, [])
        } finally {
          await p.context.close()
        }
      })

      it('an XSS payload in the subject, description or merchant name never runs', async () => {
        const payload = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
        const merchant = await server.newMerchant(`<img src=x onerror=alert(3)>${l.lang}`)
        const order = await newOrder({ subject: payload, description: `'><svg onload=alert(4)>` }, merchant.test.secret)
        const p = await phone()
        try {
          await p.page.goto(`${order.pay_url}?lang=${l.lang}`)
          assert.equal(await p.page.getByRole('heading', { level: 1 }).textContent(), payload, 'shown as text')
          await p.page.getByRole('button', { name: l.pay }).tap()
          await p.page.getByRole('heading', { name: l.paid }).waitFor({ timeout: 5000 })
          await p.page.waitForTimeout(200)
          assert.deepEqual(p.dialogs, [])
          assert.equal(await orderStatus(order.id, merchant.test.secret), 'paid')
        } finally {
          await p.context.close()
        }
      })
    })
  }

  it('falls back to polling when the event stream is unavailable', async () => {
    const order = await newOrder()
    const p = await phone()
    try {
      await p.page.route('**/events', (route) => route.fulfill({ status: 503, body: '' }))
      await p.page.goto(order.pay_url)
      await markDocument(p.page)
      await api(server.url, server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
      await p.page.getByRole('heading', { name: 'Payment successful' }).waitFor({ timeout: 6000 })
      await assertSameDocument(p.page)
    } finally {
      await p.context.close()
    }
  })

  it('says why a tap was refused for too many tries, and lets the customer try again', async () => {
    const order = await newOrder()
    const p = await phone()
    try {
      // As the server answers once the order's taps exceed five a second (another device tapping, say).
      await p.page.route('**/sandbox/pay?*', (route) =>
        route.fulfill({ status: 429, contentType: 'application/json', headers: { 'retry-after': '1' }, body: JSON.stringify({ error: { type: 'rate_limited', code: 'rate_limited', message: 'too many requests' } }) }),
      )
      await p.page.goto(`${order.pay_url}?lang=zh-CN`)
      await p.page.getByRole('button', { name: /支付/ }).first().tap()
      await p.page.getByRole('status').filter({ hasText: '操作过于频繁，请稍候几秒再试。' }).waitFor({ timeout: 5000 })
      assert.equal(await p.page.getByRole('button', { name: /支付/ }).first().isEnabled(), true)
      assert.equal(await orderStatus(order.id), 'pending')
    } finally {
      await p.context.close()
    }
  })

  it('lets its stream go while the tab is hidden, and shows what happened meanwhile once it is shown again', async () => {
    const order = await newOrder()
    const p = await phone()
    try {
      // Every stream the page opens, to see it closed (a hidden tab must not hold one of the host's six connections).
      await p.context.addInitScript(() => {
        const Native = window.EventSource
        const opened: EventSource[] = ((window as unknown as { __streams: EventSource[] }).__streams = [])
        window.EventSource = function (url: string | URL) {
          const es = new Native(url)
          opened.push(es)
          return es
        } as unknown as typeof EventSource
      })
      await p.page.goto(order.pay_url)
      await markDocument(p.page)
      const states = () => p.page.evaluate(() => (window as unknown as { __streams: EventSource[] }).__streams.map((es) => es.readyState))
      await p.page.waitForFunction(() => (window as unknown as { __streams: EventSource[] }).__streams[0]?.readyState === 1)
      const setHidden = (hidden: boolean) =>
        p.page.evaluate((h) => {
          Object.defineProperty(document, 'hidden', { value: h, configurable: true })
          Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true })
          document.dispatchEvent(new Event('visibilitychange'))
        }, hidden)
      await setHidden(true)
      assert.deepEqual(await states(), [2], 'the stream is closed while hidden')
      const paid = await api(server.url, server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
      assert.equal(paid.status, 200)
      await p.page.waitForTimeout(300)
      assert.equal(await p.page.getByRole('heading', { name: 'Payment successful' }).count(), 0, 'nothing heard while hidden')
      await setHidden(false)
      await p.page.getByRole('heading', { name: 'Payment successful' }).waitFor({ timeout: 5000 })
      await assertSameDocument(p.page)
      assert.deepEqual(await states(), [2, 2], 'a new stream, closed once the order was paid')
      assert.deepEqual(p.problems, [])

      // A page opened in a background tab opens no stream until it is first shown.
      const later = await newOrder()
      const background = await p.context.newPage()
      await background.addInitScript(() => Object.defineProperty(document, 'hidden', { value: true, configurable: true }))
      await background.goto(later.pay_url)
      await background.waitForTimeout(300)
      assert.deepEqual(await background.evaluate(() => (window as unknown as { __streams: EventSource[] }).__streams.length), 0)
      await background.evaluate(() => {
        Object.defineProperty(document, 'hidden', { value: false, configurable: true })
        document.dispatchEvent(new Event('visibilitychange'))
      })
      await background.waitForFunction(() => (window as unknown as { __streams: EventSource[] }).__streams[0]?.readyState === 1)
      await api(server.url, server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${later.id}/pay`)
      await background.getByRole('heading', { name: 'Payment successful' }).waitFor({ timeout: 5000 })
    } finally {
      await p.context.close()
    }
  })

  it('shows a closed order’s end state live', async () => {
    const order = await newOrder()
    const p = await phone()
    try {
      await p.page.goto(`${order.pay_url}?lang=zh-CN`)
      await p.page.waitForTimeout(300)
      await api(server.url, server.merchant.test.secret, 'POST', `/v1/orders/${order.id}/close`)
      await p.page.getByRole('heading', { name: '订单已关闭' }).waitFor({ timeout: 5000 })
      assert.equal(await p.page.getByRole('button').count(), 0)
      const live = await p.page.title()
      assert.match(live, /^订单已关闭 · /, 'the tab says so too')
      await p.page.reload()
      assert.equal(await p.page.title(), live, 'as the page rendered after the end says')
    } finally {
      await p.context.close()
    }
  })

  const refund = async (id: string, amount: number) => {
    const res = await api(server.url, server.merchant.test.secret, 'POST', `/v1/orders/${id}/refunds`, { amount, out_refund_no: nextNo() })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.equal(res.body.status, 'succeeded')
  }

  const setHidden = (page: Page, hidden: boolean) =>
    page.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { value: h, configurable: true })
      Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true })
      document.dispatchEvent(new Event('visibilitychange'))
    }, hidden)

  it('a page that showed success live learns of a refund later, without reloading', async () => {
    const order = await newOrder({ return_url: 'https://shop.example/back' })
    const p = await phone()
    try {
      // The page's timers run on a clock the test moves on, so its slow asking takes no real time.
      await p.page.clock.install()
      await p.page.goto(`${order.pay_url}?lang=zh-CN`)
      await markDocument(p.page)
      await p.page.waitForTimeout(300)
      await api(server.url, server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
      await p.page.getByRole('heading', { name: '支付成功' }).waitFor({ timeout: 5000 })
      await refund(order.id, 500)
      await p.page.clock.runFor(20_000)
      await p.page.getByRole('heading', { name: '已部分退款' }).waitFor({ timeout: 5000 })
      assert.match((await p.page.locator('#live').textContent()) ?? '', /其中 ¥5\.00 已由商户原路退回/)
      assert.match(await p.page.title(), /^已部分退款 · ¥12\.34 · /)
      assert.equal(await p.page.getByRole('link', { name: '返回商户' }).getAttribute('href'), 'https://shop.example/back')
      await assertSameDocument(p.page)
      assert.deepEqual(p.problems, [])
    } finally {
      await p.context.close()
    }
  })

  /**
   * Moves the page's clock on a second at a time until the page asks for itself (and has its answer): how many
   * seconds that took, or null if it did not ask within `limit`.
   */
  async function secondsToNextAsk(page: Page, payUrl: string, limit: number): Promise<number | null> {
    let answered: Promise<unknown> | null = null
    const seen = (r: { url(): string; response(): Promise<unknown> }) => {
      if (r.url().startsWith(`${payUrl}?`)) answered ??= r.response()
    }
    page.on('request', seen)
    try {
      for (let s = 1; s <= limit; s++) {
        await page.clock.runFor(1000)
        if (answered) {
          await answered
          // The script reads the answer, shows it if it is new, and sets its next timer.
          await page.waitForTimeout(200)
          return s
        }
      }
      return null
    } finally {
      page.off('request', seen)
    }
  }

  it('a page opened at an end state asks for itself every 20 s while shown, for half an hour at most', async () => {
    const order = await newOrder()
    await api(server.url, server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
    const p = await phone()
    const next = (limit = 25) => secondsToNextAsk(p.page, order.pay_url, limit)
    const around20 = (s: number | null) => assert.ok(s !== null && s >= 19 && s <= 21, `asked after ${s} s`)
    try {
      // Paused: the page's 20 s are counted by runFor alone, not also by however long a busy machine takes to load it.
      await p.page.clock.install()
      await p.page.clock.pauseAt(Date.now() + 60_000)
      await p.page.goto(`${order.pay_url}?lang=en`)
      await p.page.getByRole('heading', { name: 'Payment successful' }).waitFor()
      await markDocument(p.page)
      const answers: number[] = []
      p.page.on('response', (r) => void (r.url().startsWith(`${order.pay_url}?`) && answers.push(r.status())))
      // Nothing new: the page stays as it was (the very same heading).
      const heading = await p.page.getByRole('heading', { name: 'Payment successful' }).elementHandle()
      around20(await next())
      assert.equal(await heading!.evaluate((h) => h.isConnected), true, 'nothing replaced')
      // Asked again with the ETag it was given: an unchanged page comes back as a 304, without its bytes.
      around20(await next())
      assert.deepEqual(answers, [200, 304])
      assert.equal(await heading!.evaluate((h) => h.isConnected), true, 'nothing replaced')

      // Hidden, it asks nothing; shown again, it asks at once and shows what happened meanwhile.
      await setHidden(p.page, true)
      await refund(order.id, 1234)
      assert.equal(await next(60), null, 'nothing asked while hidden')
      assert.equal(await heading!.evaluate((h) => h.isConnected), true)
      await setHidden(p.page, false)
      await p.page.getByRole('heading', { name: 'Payment refunded' }).waitFor({ timeout: 5000 })
      assert.match(await p.page.title(), /^Payment refunded · ¥12\.34 · /)
      assert.match((await p.page.locator('#live').textContent()) ?? '', /The merchant refunded the full ¥12\.34\./)
      around20(await next())

      // Half an hour after the end state it stops for good, shown or not.
      await p.page.clock.runFor(30 * 60_000)
      await p.page.waitForTimeout(500)
      assert.equal(await next(120), null, 'no more asking')
      await setHidden(p.page, true)
      await setHidden(p.page, false)
      assert.equal(await next(5), null, 'not even when shown again')
      await assertSameDocument(p.page)
      assert.deepEqual(p.problems, [])
    } finally {
      await p.context.close()
    }
  })

  /** Taps Pay where the page's script does not post it, and sees the plain form's answer: the order paid. */
  async function paysThroughPlainForm(options: { javaScriptEnabled?: boolean }, prepare?: (context: BrowserContext) => Promise<unknown>) {
    const order = await newOrder()
    const p = await phone(options)
    try {
      await prepare?.(p.context)
      await p.page.goto(order.pay_url)
      await p.page.getByRole('button', { name: /^Pay/ }).tap()
      await p.page.getByRole('heading', { name: 'Payment successful' }).waitFor({ timeout: 5000 })
      assert.equal(await orderStatus(order.id), 'paid')
    } finally {
      await p.context.close()
    }
  }

  it('pays through the plain form in an older in-app browser without fetch, and keeps focus on Decline', async () => {
    await paysThroughPlainForm({}, (context) =>
      context.addInitScript(() => {
        delete (window as { fetch?: unknown }).fetch
      }),
    )
    const declined = await newOrder()
    const q = await phone()
    try {
      await q.page.goto(declined.pay_url)
      await q.page.getByRole('button', { name: 'Decline' }).focus()
      await q.page.keyboard.press('Enter')
      await q.page.waitForFunction(() => !document.getElementById('co')?.hasAttribute('aria-busy'))
      assert.equal(await q.page.evaluate(() => document.activeElement?.textContent), 'Decline', 'focus stays where it was')
    } finally {
      await q.context.close()
    }
  })

  it('pays without JavaScript through the plain form', async () => {
    await paysThroughPlainForm({ javaScriptEnabled: false })
  })

  it('shows a payment made elsewhere without JavaScript when the customer looks again', async () => {
    const order = await newOrder()
    const p = await phone({ javaScriptEnabled: false })
    try {
      await p.page.goto(order.pay_url)
      await api(server.url, server.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
      await p.page.getByRole('link', { name: 'Paid already? Check again' }).tap()
      await p.page.getByRole('heading', { name: 'Payment successful' }).waitFor({ timeout: 5000 })
      assert.equal(await p.page.getByRole('link', { name: 'Paid already? Check again' }).count(), 0)
    } finally {
      await p.context.close()
    }
  })

  it('shows the longest subject and description whole without JavaScript, the pay button further down', async () => {
    const { subject, description } = LONGEST.en
    const order = await newOrder({ subject, description })
    const p = await phone({ javaScriptEnabled: false })
    try {
      await p.page.setViewportSize({ width: 320, height: 568 })
      await p.page.goto(order.pay_url)
      const h1 = p.page.getByRole('heading', { level: 1 })
      const ds = p.page.locator('.ds')
      assert.deepEqual([await whole(h1), await whole(ds)], [true, true], 'nothing cut')
      assert.ok((await linesShown(h1)) > 2 && (await linesShown(ds)) > 10, 'both shown whole')
      assert.equal(await p.page.getByRole('button', { name: 'More' }).count(), 0, 'no button that could not work')
      await p.page.getByRole('button', { name: /^Pay/ }).tap()
      await p.page.getByRole('heading', { name: 'Payment successful' }).waitFor({ timeout: 5000 })
      assert.equal(await orderStatus(order.id), 'paid')
    } finally {
      await p.context.close()
    }
  })

  it('marks the countdown in its last minute, and not before', async () => {
    const p = await phone()
    try {
      await p.page.goto((await newOrder({ expires_in: 600 })).pay_url)
      await p.page.waitForTimeout(1200)
      assert.equal(await p.page.$eval('.tm', (e) => e.className), 'tm')
      await p.page.goto((await newOrder({ expires_in: 60 })).pay_url)
      await p.page.waitForSelector('.tm.soon', { timeout: 3000 })
    } finally {
      await p.context.close()
    }
  })

  it('lays out within a phone’s width', async () => {
    const order = await newOrder({ subject: 'A rather long subject line that goes on and on to test wrapping on a small phone screen' })
    const p = await phone()
    try {
      await p.page.setViewportSize({ width: 320, height: 640 })
      await p.page.goto(order.pay_url)
      const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
      assert.equal(overflow, 0, 'no horizontal scrolling')
      const box = await p.page.getByRole('button', { name: /^Pay/ }).boundingBox()
      assert.ok(box && box.height >= 44, 'the pay button is a comfortable tap target')
      const lang = await p.page.locator('footer a[hreflang]').boundingBox()
      assert.ok(lang && lang.height >= 44 && lang.width >= 44, `the language switch is a tap target too (${JSON.stringify(lang)})`)
    } finally {
      await p.context.close()
    }
  })

  it('keeps the pay button on a 320×568 screen with the longest subject, which is clamped but kept whole for reading', async () => {
    const p = await phone()
    try {
      await p.page.setViewportSize({ width: 320, height: 568 })
      for (const l of LANGS) {
        const { subject } = LONGEST[l.lang]
        assert.equal(subject.length, 128, 'the longest subject an order takes')
        await p.page.goto(`${(await newOrder({ subject })).pay_url}?lang=${l.lang}`)
        const box = await p.page.getByRole('button', { name: l.pay }).boundingBox()
        assert.ok(box && box.y >= 0 && box.y + box.height <= 568, `${l.lang}: the pay button is on screen (${JSON.stringify(box)})`)
        const h1 = p.page.getByRole('heading', { level: 1 })
        assert.equal(await linesShown(h1), 2, `${l.lang}: the subject is clamped`)
        assert.equal(await h1.textContent(), subject, 'the whole subject is still there for a screen reader')
        await p.page.screenshot({ path: `/tmp/scanpay-checkout-long-subject-${l.lang}.png` })
      }
    } finally {
      await p.context.close()
    }
  })

  it('keeps the pay button on a 320×568 screen with the longest description too, and opens both whole from a button', async () => {
    const p = await phone()
    try {
      await p.page.setViewportSize({ width: 320, height: 568 })
      for (const l of LANGS) {
        const { subject, description } = LONGEST[l.lang]
        assert.equal(description.length, 512, 'the longest description an order takes')
        await p.page.goto(`${(await newOrder({ subject, description })).pay_url}?lang=${l.lang}`)
        const box = await p.page.getByRole('button', { name: l.pay }).boundingBox()
        assert.ok(box && box.y >= 0 && box.y + box.height <= 568, `${l.lang}: the pay button is on screen (${JSON.stringify(box)})`)
        const h1 = p.page.getByRole('heading', { level: 1 })
        const ds = p.page.locator('.ds')
        assert.deepEqual([await linesShown(h1), await linesShown(ds)], [2, 2], `${l.lang}: both clamped`)
        await p.page.screenshot({ path: `/tmp/scanpay-checkout-long-description-${l.lang}.png` })

        // By keyboard: the button is the page's first stop, and Enter opens the text, Space closes it again.
        const toggle = p.page.locator('#mo')
        assert.equal(await toggle.textContent(), l.more)
        assert.equal(await toggle.getAttribute('aria-expanded'), 'false')
        await p.page.keyboard.press('Tab')
        assert.equal(await toggle.evaluate((e) => e === document.activeElement), true, `${l.lang}: the first stop`)
        await p.page.keyboard.press('Enter')
        assert.equal(await p.page.getByRole('button', { name: l.less, expanded: true }).count(), 1, `${l.lang}: says it can close again`)
        assert.deepEqual([await whole(h1), await whole(ds)], [true, true], `${l.lang}: nothing cut`)
        assert.ok((await linesShown(ds)) > 10, `${l.lang}: the whole description shows`)
        assert.equal(await h1.textContent(), subject)
        assert.equal(await ds.textContent(), description)
        await p.page.screenshot({ path: `/tmp/scanpay-checkout-long-description-open-${l.lang}.png`, fullPage: true })
        await p.page.keyboard.press('Space')
        assert.equal(await p.page.getByRole('button', { name: l.more, expanded: false }).count(), 1)
        assert.deepEqual([await linesShown(h1), await linesShown(ds)], [2, 2], `${l.lang}: clamped again`)
      }
      assert.deepEqual(p.problems, [])
    } finally {
      await p.context.close()
    }
  })

  it('shows More only while something is cut, measured again when the screen turns', async () => {
    const p = await phone()
    try {
      await p.page.setViewportSize({ width: 320, height: 568 })
      await p.page.goto((await newOrder({ description: 'Oat milk' })).pay_url)
      assert.equal(await p.page.getByRole('button', { name: 'More' }).count(), 0, 'nothing cut, no button')
      // Three lines on a 320 px phone, two on a wider screen.
      const description = 'Oat milk latte, extra hot, with a shot of vanilla and cinnamon, for the window seat'
      await p.page.goto((await newOrder({ description })).pay_url)
      assert.equal(await p.page.getByRole('button', { name: 'More' }).count(), 1)
      await p.page.setViewportSize({ width: 568, height: 320 })
      await p.page.getByRole('button', { name: 'More' }).waitFor({ state: 'hidden' })
      assert.equal(await whole(p.page.locator('.ds')), true)
      await p.page.setViewportSize({ width: 320, height: 568 })
      await p.page.getByRole('button', { name: 'More' }).waitFor()
      assert.deepEqual(p.problems, [])
    } finally {
      await p.context.close()
    }
  })

  it('shows every amount on one line, never broken between its digits, down to a 320 px phone', async () => {
    const p = await phone()
    try {
      await p.page.setViewportSize({ width: 320, height: 640 })
      for (const amount of [999_999, 9_999_999, 999_999_999, 100_000_000_000]) {
        await p.page.goto(`${(await newOrder({ amount })).pay_url}?lang=en`)
        const amt = await p.page.$eval('.amt', (e) => ({ overflow: e.scrollWidth - e.clientWidth, lines: Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)) }))
        assert.deepEqual(amt, { overflow: 0, lines: 1 }, String(amount))
      }
    } finally {
      await p.context.close()
    }
  })
})
