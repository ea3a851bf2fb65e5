// Every page a customer can land on, checked by axe-core (WCAG 2.1 A and AA) in Chromium on a phone: each state of
// the checkout in both languages, light and dark, with and without script, and the message pages. axe finds what a
// reader cannot see on a screenshot: text contrast, names of buttons and links, landmarks, the language, ids.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { buildPaymentLink } from '../../sdk/src/signing.ts'
import { api, ORDER, startTestServer, type TestServer } from '../helpers/server.ts'
import { launchChromium, PHONE, skipWithoutChromium } from '../helpers/browser.ts'

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']

interface Violation {
  id: string
  help: string
  nodes: { target: string[]; failureSummary?: string }[]
}

let seq = 0
const nextNo = () => `AX-${process.pid}-${++seq}`

describe('customer pages meet WCAG 2.1 AA (axe-core)', { skip: skipWithoutChromium }, () => {
  let server: TestServer
  let browser: Browser
  let offset = 0
  const clock = { now: () => Date.now() + offset }

  before(async () => {
    server = await startTestServer('sqlite', { clock })
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await server?.stop()
  })

  async function newOrder(body: Record<string, unknown> = {}) {
    const res = await api(server.url, server.merchant.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: nextNo(), ...body })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return res.body as { id: string; pay_url: string }
  }

  const helper = (id: string, action: string, body?: unknown) =>
    api(server.url, server.merchant.test.secret, 'POST', action === 'pay' ? `/v1/test_helpers/orders/${id}/pay` : `/v1/orders/${id}/${action}`, body)

  /** The violations axe finds on `url`, each as one line naming the rule and where. */
  async function violations(url: string, options: { javaScriptEnabled?: boolean; dark?: boolean; status?: number } = {}): Promise<string[]> {
    // axe is evaluated through the debugging protocol, which the page's CSP does not govern: nothing is loosened.
    const context = await browser.newContext({ ...PHONE, javaScriptEnabled: options.javaScriptEnabled ?? true, colorScheme: options.dark ? 'dark' : 'light' })
    try {
      const page = await context.newPage()
      const res = await page.goto(url)
      assert.equal(res?.status(), options.status ?? 200, url)
      // Let the page's script make its first pass (the countdown, the More button); a pending page's live status
      // stream stays open, so the network never goes idle.
      await page.waitForLoadState('load')
      await page.waitForTimeout(300)
      if (options.javaScriptEnabled === false) {
        // axe is script, so it runs in a second context, on the page as a browser without script shows it: its
        // script gone and what <noscript> holds in place (a browser with script would read that as text).
        const html = await page.content()
        const withScript = await browser.newContext({ ...PHONE, colorScheme: options.dark ? 'dark' : 'light' })
        try {
          const copy = await withScript.newPage()
          await copy.setContent(html.replace(/<script>[\s\S]*?<\/script>/g, '').replaceAll(/<\/?noscript>/g, ''))
          assert.equal(await copy.getByRole('link', { name: /Paid already|已付款/ }).count(), 1, 'the look-again link is checked too')
          return await runAxe(copy)
        } finally {
          await withScript.close()
        }
      }
      return await runAxe(page)
    } finally {
      await context.close()
    }
  }

  async function runAxe(page: import('playwright-core').Page): Promise<string[]> {
    await page.evaluate(AXE_SOURCE)
    const found = (await page.evaluate(
      (tags) => (window as unknown as { axe: { run(o: unknown): Promise<{ violations: unknown[] }> } }).axe.run({ runOnly: { type: 'tag', values: tags } }).then((r) => r.violations),
      WCAG,
    )) as Violation[]
    return found.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.help}) at ${n.target.join(' ')}: ${n.failureSummary ?? ''}`))
  }

  for (const lang of ['en', 'zh-CN'] as const) {
    for (const dark of [false, true]) {
      const scheme = dark ? 'dark' : 'light'
      it(`${lang}, ${scheme}: a pending order, with and without script`, async () => {
        const order = await newOrder({ description: 'Oat milk, extra hot' })
        const url = `${order.pay_url}?lang=${lang}`
        assert.deepEqual(await violations(url, { dark }), [])
        assert.deepEqual(await violations(url, { dark, javaScriptEnabled: false }), [])
        assert.deepEqual(await violations(`${url}&declined=1`, { dark, javaScriptEnabled: false }), [])
      })

      it(`${lang}, ${scheme}: paid, partly refunded, refunded and closed orders`, async () => {
        const paid = await newOrder({ return_url: 'https://shop.example/back' })
        assert.equal((await helper(paid.id, 'pay')).status, 200)
        assert.deepEqual(await violations(`${paid.pay_url}?lang=${lang}`, { dark }), [])
        assert.equal((await helper(paid.id, 'refunds', { amount: 100, out_refund_no: nextNo() })).status, 201)
        assert.deepEqual(await violations(`${paid.pay_url}?lang=${lang}`, { dark }), [])
        assert.equal((await helper(paid.id, 'refunds', { amount: ORDER.amount - 100, out_refund_no: nextNo() })).status, 201)
        assert.deepEqual(await violations(`${paid.pay_url}?lang=${lang}`, { dark }), [])
        const closed = await newOrder()
        assert.equal((await helper(closed.id, 'close')).status, 200)
        assert.deepEqual(await violations(`${closed.pay_url}?lang=${lang}`, { dark }), [])
      })

      it(`${lang}, ${scheme}: the not-found page and a payment link that cannot be used`, async () => {
        assert.deepEqual(await violations(`${server.url}/pay/${'A'.repeat(43)}?lang=${lang}`, { dark, status: 404 }), [])
        const tampered = buildPaymentLink({
          publicUrl: server.url, keyId: server.merchant.test.key_id, secret: server.merchant.test.secret, amount: 1234,
          outTradeNo: nextNo(), subject: 'Latte', expiresAt: Math.floor(Date.now() / 1000) + 600, extra: { lang },
        }).replace('amount=1234', 'amount=1')
        assert.deepEqual(await violations(tampered, { dark, status: 403 }), [])
      })
    }
  }

  it('a live order whose merchant has set up none of its channels, in both languages', async () => {
    const res = await api(server.url, server.merchant.live.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: nextNo(), channels: ['wechatpay', 'alipay'] })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    for (const lang of ['en', 'zh-CN']) assert.deepEqual(await violations(`${res.body.pay_url}?lang=${lang}`), [])
  })

  it('an expired order, in both languages', async () => {
    const order = await newOrder({ expires_in: 60 })
    offset = 120_000
    try {
      for (const lang of ['en', 'zh-CN']) assert.deepEqual(await violations(`${order.pay_url}?lang=${lang}`), [])
    } finally {
      offset = 0
    }
  })
})
