// Renders the customer's pages: the checkout (pending), its end states, unknown tokens and unusable links.
import { formatMoney } from '../../core/money.ts'
import type { ChannelName, Order, OrderStatus } from '../../core/order.ts'
import type { UnexpectedPaymentShown } from './checkout-cache.ts'
import { CHECKOUT_SCRIPT } from './checkout-script.min.ts'
import { html, unsafeRaw, type HtmlValue, type SafeHtml } from './html.ts'
import { LANGS, messages, type Lang, type Messages, type RealChannel } from './i18n.ts'
import { documentShell } from './layout.ts'
import { endStateOf, safeReturnUrl, type EndState } from './order-status.ts'
import { hole, PageTemplate } from './page-template.ts'

// The wallet only ever sits in a span that is aria-hidden already, so it carries none of its own (bytes, once per channel).
const ICONS = {
  paid: unsafeRaw('<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 12.5l4.5 4.5L19 7.5"/></svg>'),
  expired: unsafeRaw('<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="8.5"/><path d="M12 7.5V12l3 2"/></svg>'),
  closed: unsafeRaw('<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M7.5 7.5l9 9M16.5 7.5l-9 9"/></svg>'),
  wallet: unsafeRaw('<svg viewBox="0 0 24 24"><rect x="3.5" y="6" width="17" height="13" rx="2.5"/><path d="M3.5 10h17M15 14.5h2"/></svg>'),
  alert: unsafeRaw('<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 7v6.5M12 17v.01"/></svg>'),
}

export interface CheckoutView {
  order: Order
  /** Effective status at `now` (an order past expires_at reads expired before the job writes it). */
  status: OrderStatus
  merchantName: string
  lang: Lang
  now: number
  /** Whether this platform can take payments through a channel yet. */
  channelAvailable(name: ChannelName): boolean
  /** The customer just declined in the sandbox wallet (the no-script path lands here). */
  declined: boolean
  /** A channel's QR opened earlier, shown at once (the no-script path, or a reload, lands here). */
  /** leftMs: how long the channel takes the code from now; null if it never stops (channel-qr.ts's codeLeftMs). */
  channelQr?: { channel: RealChannel; src: string; leftMs?: number | null } | null
  /** What went wrong opening a channel payment on the no-script path, said in the message line. */
  notice?: string | null
  /** Payments the ended order did not take, each said under its end state. */
  unexpected?: readonly UnexpectedPaymentShown[]
}

/** What a page shows apart from the clock, which only moves its time left. */
type PageView = Omit<CheckoutView, 'now'>

/** WeChat Pay and Alipay: the channels whose own QR the page shows. */
export const isReal = (name: ChannelName): name is RealChannel => name !== 'sandbox'

const pagePath = (token: string) => `/pay/${encodeURIComponent(token)}`
const withLang = (path: string, lang: Lang) => `${path}?lang=${encodeURIComponent(lang)}`

/** `m:ss`, or `h:mm:ss` from an hour up: the same format the script keeps counting in. */
export function formatTimeLeft(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000))
  const pad = (n: number) => String(n).padStart(2, '0')
  const minutes = Math.floor(s / 60)
  return s >= 3600 ? `${Math.floor(s / 3600)}:${pad(minutes % 60)}:${pad(s % 60)}` : `${minutes}:${pad(s % 60)}`
}

const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

/**
 * The merchant's initial for the avatar: the first character as a reader sees it (a grapheme), so a flag, a
 * family emoji or a letter with a combining accent stays whole.
 */
function initial(name: string): string {
  const first = GRAPHEMES.segment(name.trim())[Symbol.iterator]().next()
  return first.done ? '·' : first.value.segment.toUpperCase()
}

/** A paid order's refunds as the customer should hear of them: the money is coming back to them. */
interface Refunded {
  /** All of it: the page says the payment was refunded rather than that it succeeded. */
  whole: boolean
  amount: string
}

function refundedOf(order: Order): Refunded | null {
  if (order.amountRefunded <= 0) return null
  return { whole: order.amountRefunded >= order.amount, amount: formatMoney(order.amountRefunded, order.currency) }
}

function endTitle(state: EndState, t: Messages, refunded: Refunded | null = null): string {
  if (state === 'paid') return !refunded ? t.paidTitle : refunded.whole ? t.refundedTitle : t.partlyRefundedTitle
  return state === 'expired' ? t.expiredTitle : t.closedTitle
}

function endState(state: EndState, t: Messages, returnUrl: string | null, refunded: Refunded | null = null, unexpected: readonly UnexpectedPaymentShown[] = []): SafeHtml {
  const notes = unexpected.map((p) => {
    const amount = formatMoney(p.amount, p.currency)
    return html`<p class="ux">${p.refunded ? t.unexpectedRefunded(amount, t.channel[p.channel]) : t.unexpectedRefunding(amount, t.channel[p.channel])}</p>`
  })
  if (state === 'paid') {
    const back = safeReturnUrl(returnUrl)
    const body = !refunded ? t.paidBody : refunded.whole ? t.refundedBody(refunded.amount) : t.partlyRefundedBody(refunded.amount)
    return html`<section class="sec end ok" aria-live="polite"><div class="ic">${ICONS.paid}</div><h2 tabindex="-1">${endTitle(state, t, refunded)}</h2><p>${body}</p>${notes}${
      back && html`<a class="btn pri" href="${back}" rel="noopener noreferrer">${t.returnToMerchant}</a>`
    }</section>`
  }
  const title = endTitle(state, t)
  const body = state === 'expired' ? t.expiredBody : t.closedBody
  return html`<section class="sec end" aria-live="polite"><div class="ic">${ICONS[state]}</div><h2 tabindex="-1">${title}</h2><p>${body}</p>${notes}</section>`
}

/**
 * A real channel's own QR, for the customer's WeChat / Alipay app to scan; `src` is omitted in the template. A code
 * the channel stops taking carries its time left, after which the page's script asks for the current one.
 */
export function channelQrPanel(channel: RealChannel, t: Messages, src?: string, leftMs: number | null = null): SafeHtml {
  return html`<div class="cq cq-${channel}"${leftMs === null ? null : html` data-left="${leftMs}"`}><img${src ? html` src="${src}"` : null} alt="${t.channelQrAlt[channel]}" width="220" height="220"><p class="how">${t.scanWith[channel]}</p><p class="sv">${t.saveHint[channel]}</p></div>`
}

function channelList(v: PageView, t: Messages, amount: string): SafeHtml {
  const { order } = v
  const path = pagePath(order.payToken)
  const shown = v.channelQr?.channel
  const items = order.channels.map((name) => {
    if (name === 'sandbox' && order.mode === 'test') {
      return html`<li><span class="dot c-sandbox" aria-hidden="true">${ICONS.wallet}</span><span><b>${t.channel.sandbox}</b><small>${t.testModeNote}</small></span></li>`
    }
    const available = v.channelAvailable(name)
    if (available && isReal(name) && order.mode === 'live') {
      // A form, so the choice works without script; the script posts it and shows the QR in place.
      return html`<li class="p"><form method="post" action="${withLang(`${path}/channels/${name}`, v.lang)}" data-js data-fail="${t.channelFailed(t.channel[name])}"><button class="pick" type="submit"${shown === name ? html` aria-current="true"` : null}><span class="dot c-${name}" aria-hidden="true">${ICONS.wallet}</span><b>${t.channel[name]}</b></button></form></li>`
    }
    return html`<li class="off"><span class="dot c-${name}" aria-hidden="true">${ICONS.wallet}</span><span><b>${t.channel[name]}</b><small>${t.channelUnavailable}</small></span></li>`
  })
  const wallet =
    order.mode === 'test' && order.channels.includes('sandbox')
      ? html`<form method="post" action="${withLang(`${path}/sandbox/pay`, v.lang)}" data-js><button class="btn pri" type="submit">${t.payButton(amount)}</button></form>
<form method="post" action="${withLang(`${path}/sandbox/decline`, v.lang)}" data-js><button class="btn sub" type="submit">${t.declineButton}</button></form>`
      : null
  // A live order whose merchant has set up none of its channels: say so rather than leave only grey rows.
  const noWayToPay = order.mode === 'live' && !order.channels.some((name) => isReal(name) && v.channelAvailable(name))
  const message = v.declined ? t.declined : noWayToPay ? t.noChannel : (v.notice ?? '')
  // A channel's own QR replaces the page's QR: on a computer, the one to scan is the one that pays.
  const pageQr = shown || noWayToPay ? null : html`<div class="qr">${t.scanOnPhone}<img src="${path}/qr.svg" alt="${t.qrAlt}" width="148" height="148" loading="lazy"></div>`
  return html`<section class="sec" aria-labelledby="pw"><h2 id="pw">${t.payWith}</h2><ul class="ch">${items}</ul>
${wallet}<p id="msg" class="msg" role="status">${message}</p>
<div id="cq" aria-live="polite">${v.channelQr && channelQrPanel(v.channelQr.channel, t, v.channelQr.src, v.channelQr.leftMs ?? null)}</div>
${checkAgainWithoutScript(v, t)}${pageQr}</section>`
}

/**
 * Without script a page cannot learn that the customer paid on their phone, so it offers to look again: a link
 * the customer follows when they choose, not a timed reload (which would move the page under them, WCAG F41). It
 * leads to the page without what said a moment's outcome (a decline), keeping a channel's QR shown.
 */
function checkAgainWithoutScript(v: PageView, t: Messages): SafeHtml {
  const href = `${withLang(pagePath(v.order.payToken), v.lang)}${v.channelQr ? `&channel=${v.channelQr.channel}` : ''}`
  return html`<noscript><a class="again" href="${href}">${t.checkAgain}</a></noscript>`
}

/** The time left, in milliseconds for the script and as text for the reader: the only part of a page that changes with the clock. */
interface TimeLeft {
  ms: HtmlValue
  text: HtmlValue
}

// In whole seconds, rounded up as the text is: the page is the same for a whole second, so it is filled once
// per second rather than per request; the script's countdown reaches zero at most a second late and then asks.
function timeLeftAt(order: Order, now: number): { ms: string; text: string } {
  const ms = Math.ceil(Math.max(0, order.expiresAt - now) / 1000) * 1000
  return { ms: String(ms), text: formatTimeLeft(ms) }
}

export function checkoutPage(v: CheckoutView): SafeHtml {
  return renderCheckout(v, timeLeftAt(v.order, v.now))
}

/** The page rendered once with holes for the time left, to be kept and answered by fillCheckoutPage. */
export function checkoutPageTemplate(v: PageView): PageTemplate {
  return new PageTemplate(renderCheckout(v, { ms: hole('ms'), text: hole('text') }))
}

export function fillCheckoutPage(template: PageTemplate, order: Order, now: number): Buffer {
  return template.fill(timeLeftAt(order, now))
}

function renderCheckout(v: PageView, left: TimeLeft): SafeHtml {
  const { order } = v
  const t = messages(v.lang)
  const amount = formatMoney(order.amount, order.currency)
  const state = endStateOf(v.status)
  const refunded = state === 'paid' ? refundedOf(order) : null
  const live = state
    ? endState(state, t, order.returnUrl, refunded, v.unexpected)
    : html`<p class="tm">${t.timeLeft} <time id="left" datetime="${new Date(order.expiresAt).toISOString()}">${left.text}</time></p>
${channelList(v, t, amount)}`
  // A page at an end state has no time left, so it has no hole: the same bytes (and ETag) until the order changes.
  // The pending page carries its end states, so the script can show them the moment the status changes.
  const templates = state
    ? null
    : [
        ...(['paid', 'expired', 'closed'] as const).map((s) => html`<template id="t-${s}">${endState(s, t, order.returnUrl)}</template>`),
        ...(order.mode === 'live' ? order.channels.filter(isReal).filter((c) => v.channelAvailable(c)) : []).map(
          (c) => html`<template id="q-${c}">${channelQrPanel(c, t)}</template>`,
        ),
      ]
  const other = LANGS.find((l) => l !== v.lang)!
  // Subject and description are clamped (layout.ts) so the pay action stays above a small phone's fold: the script
  // shows the button only if that cut something; without script nothing is clamped and the button stays hidden.
  const body = html`<main id="co" data-token="${order.payToken}" data-status="${v.status}" data-left="${state ? '0' : left.ms}" data-declined="${t.declined}" data-failed="${t.failed}" data-busy="${t.tooMany}"${order.mode === 'live' && html` data-unavailable="${t.channelUnavailable}"`}>
${order.mode === 'test' && html`<div class="tag">${t.testMode}</div>`}
<div class="av" aria-hidden="true">${initial(v.merchantName)}</div>
<div class="mn">${v.merchantName}</div>
<p class="${amountClass(amount)}">${amount}</p>
<div id="tx"><h1 class="sj">${order.subject}</h1>${order.description && html`<p class="ds">${order.description}</p>`}</div>
<button id="mo" aria-controls="tx" aria-expanded="false" data-less="${t.less}" hidden>${t.more}</button>
<div id="live">${live}</div>
<p class="no">${t.orderNumber} ${order.outTradeNo}</p>
${templates}
</main>`
  return documentShell({
    lang: v.lang,
    t,
    // An ended order says so first, in the tab too (the script does the same when the status changes live).
    title: `${state ? `${endTitle(state, t, refunded)} · ` : ''}${amount} · ${order.subject} · ${v.merchantName}`,
    body,
    // An ended page runs it too: it keeps watching, slowly, for what can still follow (checkout-script.ts).
    script: CHECKOUT_SCRIPT,
    switchTo: { lang: other, href: withLang(pagePath(order.payToken), other), name: messages(other).languageName },
  })
}

/** A way on from a message page: a link styled as a button. */
interface PageLink {
  href: string
  label: string
}

function messagePage(lang: Lang, title: string, text: string, link: PageLink | null = null, path: string | null = null): SafeHtml {
  const t = messages(lang)
  const other = LANGS.find((l) => l !== lang)!
  return documentShell({
    lang,
    t,
    title,
    switchTo: path === null ? undefined : { lang: other, href: withLang(path, other), name: messages(other).languageName },
    body: html`<main><section class="end"><div class="ic">${ICONS.alert}</div><h1>${title}</h1><p>${text}</p>${
      link && html`<a class="btn sub" href="${link.href}">${link.label}</a>`
    }</section></main>`,
  })
}

/**
 * `path`: the path asked for (no query), offered again in the other language, as a customer may not read this
 * one; only a path on this server (not `//host/…` nor `/\host/…`, which a browser takes for another site's).
 */
export function notFoundPage(lang: Lang, path: string | null = null): SafeHtml {
  const t = messages(lang)
  return messagePage(lang, t.notFoundTitle, t.notFoundBody, null, path !== null && /^\/[^/\\]/.test(path) ? path : null)
}

/**
 * A payment link that cannot be used, or any failure on the customer's side, explained in their language; `order`:
 * the page of the order the link made before it expired, offered as the way on.
 */
export function errorPage(lang: Lang, text: string, order: string | null = null): SafeHtml {
  const t = messages(lang)
  return messagePage(lang, t.errorTitle, text, order === null ? null : { href: order, label: t.viewOrder })
}

/** A button on the checkout page that did not go through (posted without script): why, and the way back to the page. */
export function actionFailedPage(lang: Lang, text: string, back: string): SafeHtml {
  return messagePage(lang, messages(lang).actionFailedTitle, text, { href: back, label: messages(lang).backToPayment })
}

/**
 * An amount never breaks between its digits: a longer one is set smaller instead, so the largest (¥1,000,000,000.00)
 * fits a 320 px phone on one line.
 */
export function amountClass(amount: string): string {
  return amount.length <= 9 ? 'amt' : amount.length <= 12 ? 'amt l' : 'amt xl'
}
