import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Order, OrderStatus } from '../../core/order.ts'
import { checkoutPage, checkoutPageTemplate, errorPage, fillCheckoutPage, formatTimeLeft, notFoundPage, type CheckoutView } from './checkout-page.ts'

const NOW = 1_764_150_000_000
const ORDER: Order = {
  id: 'ord_x', merchantId: 'mch_x', mode: 'test', status: 'pending', outTradeNo: 'A-1', amount: 1234, amountRefunded: 0,
  currency: 'CNY', subject: 'Latte', description: null, metadata: {}, channels: ['sandbox'], notifyUrl: null,
  returnUrl: 'https://shop.example/back', payToken: 'tok_abcdefghijklmnopqrstu', channel: null, channelTradeNo: null,
  requestHash: 'h', createdAt: NOW, expiresAt: NOW + 900_000, paidAt: null, closedAt: null, updatedAt: NOW,
}

function render(order: Partial<Order> = {}, view: Partial<CheckoutView> = {}): string {
  const o = { ...ORDER, ...order }
  return checkoutPage({
    order: o, status: o.status, merchantName: 'Shop', lang: 'en', now: NOW,
    channelAvailable: (name) => name === 'sandbox', declined: false, ...view,
  }).toString()
}

describe('formatTimeLeft', () => {
  it('counts minutes and seconds, hours from an hour up, rounding up and never below zero', () => {
    assert.equal(formatTimeLeft(900_000), '15:00')
    assert.equal(formatTimeLeft(59_001), '1:00')
    assert.equal(formatTimeLeft(3_599_000), '59:59')
    assert.equal(formatTimeLeft(3_600_000), '1:00:00')
    assert.equal(formatTimeLeft(86_400_000), '24:00:00')
    assert.equal(formatTimeLeft(-5), '0:00')
  })
})

describe('checkoutPage', () => {
  it('shows a pending test order with the sandbox wallet, its end states ready for the script', () => {
    const page = render()
    assert.match(page, /<html lang="en">/)
    assert.match(page, /¥12\.34/)
    assert.match(page, />Pay ¥12\.34<\/button>/)
    assert.match(page, />Decline<\/button>/)
    assert.match(page, /action="\/pay\/tok_abcdefghijklmnopqrstu\/sandbox\/pay\?lang=en"/)
    assert.match(page, />15:00<\/time>/)
    assert.match(page, /<h1 class="sj">Latte<\/h1>/)
    for (const s of ['paid', 'expired', 'closed']) assert.match(page, new RegExp(`<template id="t-${s}">`))
    assert.match(page, /<script>\(function\(\)\{/)
    assert.match(page, /<style>:root\{/)
  })

  it('puts the subject and description before a More button the script shows when they are clamped', () => {
    const page = render({ description: 'Oat milk,\nextra hot' })
    assert.match(page, /<div id="tx"><h1 class="sj">Latte<\/h1><p class="ds">Oat milk,\nextra hot<\/p><\/div>\n<button id="mo" aria-controls="tx" aria-expanded="false" data-less="Less" hidden>More<\/button>/)
    const zh = render({}, { lang: 'zh-CN' })
    assert.match(zh, /<div id="tx"><h1 class="sj">Latte<\/h1><\/div>\n<button id="mo" aria-controls="tx" aria-expanded="false" data-less="收起" hidden>展开<\/button>/)
    // An ended order's page still shows them (and runs the script).
    assert.match(render({ status: 'paid', description: 'x' }), /<div id="tx">[\s\S]*<button id="mo"/)
    // Without script nothing could open them, so nothing is clamped; a message page has neither, nor the stylesheet.
    assert.match(page, /<noscript><style>#tx>\*\{display:block\}<\/style><\/noscript>/)
    assert.match(render({ status: 'paid' }), /<noscript><style>#tx>\*\{display:block\}<\/style><\/noscript>/)
    assert.doesNotMatch(notFoundPage('en').toString(), /<noscript>/)
  })

  it('takes the merchant avatar\'s initial as a whole character as read: a flag, a family, an accented letter', () => {
    const avatar = (merchantName: string) => /<div class="av" aria-hidden="true">([^<]*)<\/div>/.exec(render({}, { merchantName }))?.[1]
    assert.equal(avatar('🇨🇳 Flag Shop'), '🇨🇳')
    assert.equal(avatar('👨‍👩‍👧 Family'), '👨‍👩‍👧')
    assert.equal(avatar('e\u0301cole'), 'E\u0301')
    assert.equal(avatar('  咖啡'), '咖')
    assert.equal(avatar('   '), '·')
  })

  it('says under an ended order\'s state what became of a payment it did not take', () => {
    const unexpected = [
      { amount: 1234, currency: 'CNY', channel: 'wechatpay' as const, refunded: false },
      { amount: 500, currency: 'CNY', channel: 'alipay' as const, refunded: true },
    ]
    const closed = render({ status: 'closed', mode: 'live' }, { unexpected })
    assert.match(closed, /Order closed/)
    assert.match(closed, /<p class="ux">Your payment of ¥12\.34 through WeChat Pay arrived after this order stopped taking payments\. It is being refunded/)
    assert.match(closed, /<p class="ux">Your payment of ¥5\.00 through Alipay arrived .* It has been refunded/)
    const paid = render({ status: 'paid', mode: 'live' }, { unexpected: unexpected.slice(0, 1), lang: 'zh-CN' })
    assert.match(paid, /支付成功/)
    assert.match(paid, /您在微信支付完成的 ¥12\.34 付款到账时，本订单已无法支付，款项正在原路退回您的付款账户。/)
    assert.doesNotMatch(render({ status: 'closed' }), /class="ux"/)
  })

  it('writes Chinese pages in Chinese', () => {
    const page = render({}, { lang: 'zh-CN' })
    assert.match(page, /<html lang="zh-CN">/)
    assert.match(page, />确认支付 ¥12\.34<\/button>/)
    assert.match(page, />拒绝付款<\/button>/)
  })

  it('lists a live order’s channels, noting those not available yet, with no sandbox', () => {
    const page = render({ mode: 'live', channels: ['wechatpay', 'alipay'] })
    assert.match(page, /WeChat Pay/)
    assert.match(page, /Alipay/)
    assert.equal(page.match(/<small>This channel is not available yet\.<\/small>/g)?.length, 2)
    // No button to pay with (the More button under the subject is not one).
    assert.doesNotMatch(page, /<button(?! id="mo")/)
    assert.doesNotMatch(page, /Test mode/)
  })

  it('offers each real channel set up for the merchant as a button (a form), the others as unavailable', () => {
    const page = render({ mode: 'live', channels: ['wechatpay', 'alipay'] }, { channelAvailable: (name) => name === 'wechatpay' })
    assert.match(page, /<form method="post" action="\/pay\/tok_abcdefghijklmnopqrstu\/channels\/wechatpay\?lang=en" data-js data-fail="WeChat Pay could not open the payment just now\. Please try again\."><button class="pick" type="submit">[\s\S]*?<b>WeChat Pay<\/b><\/button><\/form>/)
    assert.doesNotMatch(page, /channels\/alipay/)
    assert.match(page, /<li class="off">[\s\S]*?<b>Alipay<\/b><small>This channel is not available yet\.<\/small>/)
    // The panel the script shows once the channel answers, in the page's language, with no image until then.
    assert.match(page, /<template id="q-wechatpay"><div class="cq cq-wechatpay"><img alt="WeChat Pay QR code for this order" width="220" height="220"><p class="how">Scan with WeChat to pay<\/p><p class="sv">Paying on this phone\? Press and hold/)
    assert.doesNotMatch(page, /id="q-alipay"/)
    assert.match(page, /<div class="qr">Or scan with your phone/)
    const zh = render({ mode: 'live', channels: ['wechatpay', 'alipay'] }, { lang: 'zh-CN', channelAvailable: () => true })
    assert.match(zh, /<b>微信支付<\/b><\/button>/)
    assert.match(zh, /<b>支付宝<\/b><\/button>/)
    assert.match(zh, /<template id="q-alipay">[\s\S]*?<p class="how">请使用支付宝扫一扫<\/p><p class="sv">在本机付款：长按二维码保存到相册/)
    assert.match(zh, /<template id="q-wechatpay">[\s\S]*?<p class="how">请使用微信扫一扫<\/p>/)
  })

  it('shows a chosen channel’s QR at once (no-script path), in place of the page’s own QR', () => {
    const page = render(
      { mode: 'live', channels: ['wechatpay', 'alipay'] },
      { lang: 'zh-CN', channelAvailable: () => true, channelQr: { channel: 'alipay', src: '/pay/tok/channels/alipay/qr.png?v="x' } },
    )
    assert.match(page, /<div id="cq" aria-live="polite"><div class="cq cq-alipay"><img src="\/pay\/tok\/channels\/alipay\/qr\.png\?v=&quot;x" alt="本订单的支付宝二维码"/)
    assert.match(page, /<button class="pick" type="submit" aria-current="true">[\s\S]*?<b>支付宝<\/b>/)
    assert.equal(page.match(/aria-current="true"/g)?.length, 1)
    assert.doesNotMatch(page, /class="qr"/)
    // Looking again keeps the channel's QR on the page: the customer may not have scanned it yet.
    assert.match(page, /<\/div>\n<noscript><a class="again" href="\/pay\/tok_abcdefghijklmnopqrstu\?lang=zh-CN&amp;channel=alipay">已付款？点此刷新<\/a><\/noscript><\/section>/)
  })

  it('says so when a live order has no channel its merchant set up, and shows no QR to scan', () => {
    const page = render({ mode: 'live', channels: ['wechatpay', 'alipay'] }, { channelAvailable: () => false })
    assert.match(page, /<p id="msg" class="msg" role="status">This merchant cannot take payments here yet\./)
    assert.doesNotMatch(page, /class="qr"|<button(?! id="mo")/)
    const one = render({ mode: 'live', channels: ['wechatpay', 'alipay'] }, { channelAvailable: (c) => c === 'alipay' })
    assert.doesNotMatch(one, /cannot take payments here/)
    assert.match(one, /class="qr"/)
  })

  it('says why a channel could not be opened', () => {
    const page = render({ mode: 'live', channels: ['wechatpay'] }, { channelAvailable: () => true, notice: 'WeChat Pay <b>failed</b>' })
    assert.match(page, /<p id="msg" class="msg" role="status">WeChat Pay &lt;b&gt;failed&lt;\/b&gt;<\/p>/)
  })

  it('shows end states without the wallet, with the script that watches for what may still follow', () => {
    const cases: [OrderStatus, RegExp][] = [
      ['paid', /Payment successful/], ['expired', /Order expired/], ['closed', /Order closed/],
    ]
    for (const [status, text] of cases) {
      const page = render({ status })
      assert.match(page, text, status)
      assert.doesNotMatch(page, /<button(?! id="mo")|<template|http-equiv="refresh"/, status)
      assert.match(page, /<main id="co" data-token="tok_abcdefghijklmnopqrstu" data-status="[a-z]+"/, status)
      assert.match(page, /<script>\(function\(\)\{/, status)
    }
  })

  it('shows an end state the moment the status changes exactly as a page loaded at it does', () => {
    // The script swaps a template in, and later compares it with the page it asks for: the same markup means no change.
    for (const lang of ['en', 'zh-CN'] as const) {
      const pending = render({}, { lang })
      for (const status of ['paid', 'expired', 'closed'] as const) {
        const template = new RegExp(`<template id="t-${status}">([\\s\\S]*?)</template>`).exec(pending)?.[1]
        const live = /<div id="live">([\s\S]*?)<\/div>\n<p class="no">/.exec(render({ status }, { lang }))?.[1]
        assert.ok(template, `${lang} ${status}`)
        assert.equal(template, live, `${lang} ${status}`)
      }
    }
  })

  it('tells the customer of a refund: in full in the title, in part beside the payment', () => {
    const whole = render({ status: 'refunded', amountRefunded: 1234 })
    assert.match(whole, /<title>Payment refunded · ¥12\.34 · /)
    assert.match(whole, /<h2 tabindex="-1">Payment refunded<\/h2><p>The merchant refunded the full ¥12\.34\./)
    assert.doesNotMatch(whole, /Payment successful|<button(?! id="mo")/)
    const part = render({ status: 'partially_refunded', amountRefunded: 500 })
    assert.match(part, /<h2 tabindex="-1">Payment partly refunded<\/h2><p>Your payment was received\. The merchant refunded ¥5\.00 of it/)
    assert.match(render({ status: 'partially_refunded', amountRefunded: 500 }, { lang: 'zh-CN' }), /<h2 tabindex="-1">已部分退款<\/h2><p>您的付款已收到，其中 ¥5\.00 已由商户原路退回/)
    assert.match(render({ status: 'refunded', amountRefunded: 1234 }, { lang: 'zh-CN' }), /<h2 tabindex="-1">已退款<\/h2>/)
    assert.doesNotMatch(render({ status: 'paid' }), /refund/i)
  })

  it('offers the way back only to a paid order, and only to an http(s) URL', () => {
    assert.match(render({ status: 'paid' }), /<a class="btn pri" href="https:\/\/shop\.example\/back"/)
    assert.doesNotMatch(render({ status: 'paid', returnUrl: null }), /Return to merchant/)
    assert.doesNotMatch(render({ status: 'paid', returnUrl: 'javascript:alert(1)' }), /Return to merchant|javascript:/)
    assert.doesNotMatch(render({ status: 'expired' }), /Return to merchant/)
  })

  it('escapes everything the merchant wrote', () => {
    const xss = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    const page = render({ subject: xss, description: xss, returnUrl: `https://x.example/"><script>alert(1)</script>` }, { merchantName: xss })
    assert.doesNotMatch(page, /<script>alert|<img src=x/)
    assert.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/)
  })

  it('says when the customer declined', () => {
    assert.match(render({}, { declined: true }), /<p id="msg" class="msg" role="status">Payment declined/)
  })
})

describe('checkoutPageTemplate', () => {
  it('renders once and answers the same bytes as a fresh render, with the time left of each moment', () => {
    const view = { order: ORDER, status: 'pending' as const, merchantName: 'Shop', lang: 'en' as const, channelAvailable: () => true, declined: false }
    const template = checkoutPageTemplate(view)
    for (const now of [NOW, NOW + 61_500, ORDER.expiresAt + 5]) {
      assert.equal(fillCheckoutPage(template, ORDER, now).toString('utf8'), checkoutPage({ ...view, now }).toString())
    }
    assert.match(fillCheckoutPage(template, ORDER, NOW + 61_500).toString(), /data-left="839000"[\s\S]*>13:59<\/time>/)
  })

  it('keeps escaping what the merchant wrote', () => {
    const xss = '<script>alert(1)</script>'
    const order = { ...ORDER, subject: xss }
    const view = { order, status: 'pending' as const, merchantName: xss, lang: 'en' as const, channelAvailable: () => true, declined: false }
    const page = fillCheckoutPage(checkoutPageTemplate(view), order, NOW).toString()
    assert.doesNotMatch(page, /<script>alert/)
    assert.equal(page, checkoutPage({ ...view, now: NOW }).toString())
  })
})

describe('message pages', () => {
  it('say an unknown page is not found, in the language asked for', () => {
    assert.match(notFoundPage('en').toString(), /Payment page not found/)
    assert.match(notFoundPage('zh-CN').toString(), /<html lang="zh-CN">[\s\S]*找不到支付页面/)
    assert.doesNotMatch(notFoundPage('en').toString(), /hreflang/)
    assert.match(notFoundPage('en', '/pay/"x').toString(), /<a href="\/pay\/&quot;x\?lang=zh-CN" lang="zh-CN" hreflang="zh-CN">中文<\/a>/)
    // A path a browser would take for another host's is not offered again.
    for (const path of ['//evil.example/pay/x', '/\\evil.example/pay/x', 'pay/x', '']) assert.doesNotMatch(notFoundPage('en', path).toString(), /hreflang/, path)
  })

  it('escape the reason they give', () => {
    assert.match(errorPage('en', '<b>').toString(), /&lt;b&gt;/)
  })
})
