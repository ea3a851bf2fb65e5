// The customer's side: checkout page, QR codes, live status, the sandbox wallet, the choice of a real channel
// (its own QR) and signed payment links. No authentication: the unguessable pay token (or a link's signature) is
// the capability.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { channelAvailableFor, openChannelPayment } from '../../channels/open-channel-payment.ts'
import { payWithSandbox } from '../../channels/sandbox/sandbox-channel.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { effectiveStatus, type ChannelName, type Order } from '../../core/order.ts'
import { codeExpiresAt, payableCode, type OpenedChannelPayment } from '../../core/use-cases/open-channel-payment.ts'
import { linkDescribes, orderForLink } from '../../core/use-cases/order-for-link.ts'
import type { AppContext } from '../../context.ts'
import { sendError, toAppError } from '../error-response.ts'
import { payUrl } from '../presenters.ts'
import { CHANNEL_QR_SCALE, channelQrPath, codeLeftMs, realChannelParam } from './channel-qr.ts'
import { InFlightCap } from './in-flight-cap.ts'
import { SingleFlight } from './single-flight.ts'
import { CheckoutCache, DEFAULT_CHECKOUT_CACHE_OPTIONS, SOLE_WRITER_TTL_MS, type CachedCheckout, type CheckoutState, type UnexpectedPaymentShown } from './checkout-cache.ts'
import { actionFailedPage, checkoutPage, checkoutPageTemplate, errorPage, fillCheckoutPage, notFoundPage } from './checkout-page.ts'
import { languageFromAcceptLanguage, messages, negotiateLanguage, parseLangParam, type Lang, type RealChannel } from './i18n.ts'
import { customerStatus, isSettled, plausibleToken } from './order-status.ts'
import { PAGE_HEADERS, sendPage } from './page-response.ts'
import type { PageTemplate } from './page-template.ts'
import { isLinkParameter, readLinkQuery, validateLinkParams, verifyLinkSignature } from './payment-link.ts'
import { etagMatches, strongEtag } from './etag.ts'
import { QrCache, type QrFormat } from './qr-codes.ts'
import { StatusStreams } from './status-stream.ts'
import { RateLimiter } from '../merchant-api/rate-limiter.ts'
import type { FastPaths } from '../fast-path.ts'

interface TokenRoute {
  Params: { token: string }
  Querystring: Record<string, unknown>
}

/** Routes whose failures a person reads in a browser, so they get a page rather than JSON. */
const PAGE_ROUTES = new Set(['/pay/:token', '/l/:keyId'])
const FORM_ROUTES = new Set(['/pay/:token/sandbox/pay', '/pay/:token/sandbox/decline', '/pay/:token/channels/:channel'])

interface ChannelRoute {
  Params: { token: string; channel: string }
  Querystring: Record<string, unknown>
}

const STATUS_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const

/** A page view (with at most a lone ?lang=, as the open page's own asks have) or a status poll: what the fast path may answer. */
const CACHED_READ = /^\/pay\/([A-Za-z0-9_-]{16,128})(?:(\/status)|\?lang=(en|zh-CN))?$/

const wantsJson = (req: FastifyRequest) => (req.headers.accept ?? '').includes('application/json')

/** The customer's 404 page, in their language: for unknown tokens and any other path under /pay/ or /l/. */
export function sendCustomerNotFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendPage(reply, 404, notFoundPage(langOf(req), req.url.split('?', 1)[0]))
}

function langOf(req: FastifyRequest): Lang {
  return negotiateLanguage((req.query as Record<string, unknown> | undefined)?.lang, req.headers['accept-language'])
}

function pagePath(token: string, lang: Lang | null, extra = ''): string {
  const query = [lang && `lang=${encodeURIComponent(lang)}`, extra].filter(Boolean).join('&')
  return `/pay/${encodeURIComponent(token)}${query ? `?${query}` : ''}`
}

/** Pay, decline and channel choices per checkout token: ample for a person, a wall for a script. */
const ACTIONS_PER_SECOND = 5

/** A filled page is the same Buffer while its template and values stay (PageTemplate.fill), so its ETag is made once. */
const endPageEtags = new WeakMap<Buffer, string>()

/** A page at an end state's ETag, and whether the client asking already has the page (If-None-Match). */
function endPageValidation(page: Buffer, ifNoneMatch: string | undefined): { etag: string; unchanged: boolean } {
  let etag = endPageEtags.get(page)
  if (etag === undefined) endPageEtags.set(page, (etag = strongEtag(page)))
  return { etag, unchanged: etagMatches(ifNoneMatch, etag) }
}

export function checkoutRoutes(ctx: AppContext, fastPaths?: FastPaths) {
  const qrCache = new QrCache()
  const actionLimiter = new RateLimiter(ACTIONS_PER_SECOND, () => ctx.clock.now())
  // Choices of one order's channel under way here: the next waits for the first's answer (single-flight.ts).
  const openings = new SingleFlight<OpenedChannelPayment>()
  // And at most so many of one merchant's at once (in-flight-cap.ts).
  const channelCalls = new InFlightCap(ctx.config.channelCallsPerMerchant)
  const streams = new StatusStreams({
    now: () => ctx.clock.now(),
    reload: (token) => ctx.storage.orders.byToken(token),
    onOrder: (token, fn) => ctx.notifier.onOrder(token, fn),
    onError: (err) => ctx.logger.warn({ err }, 'status stream could not read the order'),
  })

  const cache = new CheckoutCache(
    {
      now: () => ctx.clock.now(),
      load: (token) => loadState(token),
      onOrder: (token, fn) => ctx.notifier.onOrder(token, fn),
    },
    // On SQLite no other node changes an order behind this one's back (checkout-cache.ts).
    ctx.storage.database.dialect === 'sqlite' ? { ...DEFAULT_CHECKOUT_CACHE_OPTIONS, ttlMs: SOLE_WRITER_TTL_MS } : DEFAULT_CHECKOUT_CACHE_OPTIONS,
  )

  // A page view or status poll whose answer is cached and fresh is sent before Fastify (../fast-path.ts): the
  // same bytes and headers as the routes below, which make and cache them. A token whose entry is only stale by
  // age is read again here and answered once that read is done, as the route would; a query string other than a
  // lone ?lang=, an unknown token, a failed read or an answer not yet rendered goes on to the routes.
  fastPaths?.add((req, res, next) => {
    const read = req.method === 'GET' ? CACHED_READ.exec(req.url ?? '') : null
    if (!read) return false
    const token = read[1]!
    const entry = cache.fresh(token)
    if (entry) return answerCached(req, res, entry, read[2] !== undefined, read[3])
    if (!cache.known(token)) return false
    cache
      .get(token)
      .then(
        (fresh) => (fresh && answerCached(req, res, fresh, read[2] !== undefined, read[3])) || next(),
        // The route reads again, and answers the failure as it always does.
        () => next(),
      )
      .catch((err: unknown) => {
        // Not knowing what was written, the connection is ended rather than answered twice.
        ctx.logger.error({ err }, 'checkout fast path failed')
        res.destroy()
      })
    return true
  })

  /** Sends the cached answer if it was rendered for the entry's state; false, having sent nothing, otherwise. */
  function answerCached(req: IncomingMessage, res: ServerResponse, entry: CachedCheckout, status: boolean, langParam?: string): boolean {
    const { order } = entry.state
    const now = ctx.clock.now()
    const current = effectiveStatus(order, now)
    if (status) {
      const body = entry.rendered<Buffer>(`status:${current}`)
      return body ? fastPaths!.send(res, '/pay/:token/status', STATUS_HEADERS, body) : false
    }
    const lang = negotiateLanguage(langParam, req.headers['accept-language'])
    const template = entry.rendered<PageTemplate>(`page:${lang}:${current}`)
    if (!template) return false
    const page = fillCheckoutPage(template, order, now)
    if (current === 'pending') return fastPaths!.send(res, '/pay/:token', PAGE_HEADERS, page)
    const { etag, unchanged } = endPageValidation(page, req.headers['if-none-match'])
    const headers = { ...PAGE_HEADERS, etag }
    return unchanged ? fastPaths!.notModified(res, '/pay/:token', headers) : fastPaths!.send(res, '/pay/:token', headers, page)
  }

  async function findOrder(token: string): Promise<Order | null> {
    return plausibleToken(token) ? ctx.storage.orders.byToken(token) : null
  }

  /** What the customer's pages show of the token's order, read now. */
  async function loadState(token: string): Promise<CheckoutState | null> {
    const order = await ctx.storage.orders.byToken(token)
    if (!order) return null
    const pending = effectiveStatus(order, ctx.clock.now()) === 'pending'
    const [merchant, available, unexpected] = await Promise.all([
      ctx.directory.merchant(order.merchantId),
      pending ? availableChannels(order) : new Set<ChannelName>(),
      // Only a live order that no longer takes money can have them; a pending page costs no read for it.
      pending || order.mode !== 'live' ? [] : unexpectedPayments(order),
    ])
    return { order, merchantName: merchant?.name ?? '', available, unexpected }
  }

  async function unexpectedPayments(order: Order): Promise<UnexpectedPaymentShown[]> {
    const payments = await ctx.storage.payments.unexpectedOf(order.merchantId, order.id)
    return payments.map((p) => ({ amount: p.amount, currency: p.currency, channel: p.channel, refunded: p.status === 'refunded' }))
  }

  /** The token's state from the cache (read at most its TTL ago), for the reads that only show the order. */
  async function cachedState(token: string): Promise<CachedCheckout | null> {
    return plausibleToken(token) ? cache.get(token) : null
  }

  /** The channels this order's customer can pay through now: the sandbox for test orders, set-up real ones for live. */
  async function availableChannels(order: Order): Promise<Set<ChannelName>> {
    const names = await Promise.all(
      order.channels.map(async (name) => {
        if (name === 'sandbox') return order.mode === 'test' && ctx.channels.get(name) ? name : null
        // Credentials are per merchant: a channel this platform runs is offered only where the merchant set it up.
        return order.mode === 'live' && (await channelAvailableFor(ctx, order.merchantId, name)) ? name : null
      }),
    )
    return new Set(names.filter((n): n is ChannelName => n !== null))
  }

  /**
   * The code of the order's open attempt through a channel, if one was opened and the channel still takes it;
   * opens nothing (a code too old to scan is renewed when the customer chooses the channel again).
   */
  async function openQr(order: Order, channel: RealChannel): Promise<{ content: string; expiresAt: number | null } | null> {
    // One read: alone, not in a transaction that would hold the SQLite writer while it waits.
    const attempt = await ctx.storage.statement((w) => w.payments.openAttempt(order.merchantId, order.id, channel))
    const content = attempt && payableCode(attempt, ctx.channels.get(channel), ctx.clock.now())
    return content ? { content, expiresAt: codeExpiresAt(attempt, ctx.channels.get(channel)) } : null
  }

  // Each action may call a payment channel: throttle them per token before any work is done. A hook on these
  // routes alone, so the reads pay nothing for it. A token no order could have gets no bucket (404 follows).
  const ACTION = {
    schema: { hide: true },
    onRequest: async (req: FastifyRequest) => {
      const token = `${(req.params as { token?: string }).token}`
      if (plausibleToken(token)) actionLimiter.take(token)
    },
  }

  return async function routes(app: FastifyInstance) {
    // Open streams would otherwise hold the server's close open until every customer left the page.
    app.addHook('preClose', (done) => {
      streams.closeAll()
      done()
    })

    app.setErrorHandler((err, req, reply) => {
      const appErr = toAppError(err as Error)
      if (appErr.status >= 500) req.log.error({ err, request_id: req.id }, 'request failed')
      const url = req.routeOptions.url ?? ''
      if (!PAGE_ROUTES.has(url) && !(FORM_ROUTES.has(url) && !wantsJson(req))) return sendError(req, reply, appErr)
      if (appErr.status === 404) return sendCustomerNotFound(req, reply)
      const lang = langOf(req)
      const t = messages(lang)
      if (appErr.headers) reply.headers(appErr.headers)
      const text =
        appErr.status >= 500 ? t.linkErrors.internal
        : appErr.status === 429 ? t.tooMany
        : appErr.status === 403 ? t.linkErrors.notPayable
        : t.failed
      // A button posted without script lands here: the customer gets the way back to the order's page.
      const token = (req.params as { token?: string } | undefined)?.token
      if (FORM_ROUTES.has(url) && token && plausibleToken(token)) return sendPage(reply, appErr.status, actionFailedPage(lang, text, pagePath(token, lang)))
      return sendPage(reply, appErr.status, errorPage(lang, text))
    })

    app.get<TokenRoute>('/pay/:token', { schema: { hide: true } }, async (req, reply) => {
      const cached = await cachedState(req.params.token)
      if (!cached) return sendCustomerNotFound(req, reply)
      const { order, merchantName, available, unexpected } = cached.state
      const lang = langOf(req)
      const now = ctx.clock.now()
      const status = effectiveStatus(order, now)
      const view = { order, status, merchantName, lang, channelAvailable: (name: ChannelName) => available.has(name), unexpected }
      // Back from the no-script form (or reloaded after the script chose): the chosen channel's code, or why not.
      const chosen = typeof req.query.channel === 'string' ? realChannelParam(req.query.channel) : null
      const declined = req.query.declined === '1'
      if (!chosen && !declined) {
        // The plain page is rendered once per state and language; each response only fills in the time left.
        const template = cached.render(`page:${lang}:${status}`, () => checkoutPageTemplate({ ...view, declined }), (p: PageTemplate) => p.ownBytes)
        const page = fillCheckoutPage(template, order, now)
        // A page at an end state keeps its bytes until something changes, and its open tab asks for it again
        // (checkout-script.ts): one that has it is told so in a 304, not sent the whole page again.
        if (status !== 'pending') {
          const { etag, unchanged } = endPageValidation(page, req.headers['if-none-match'])
          reply.header('etag', etag)
          if (unchanged) return reply.code(304).headers(PAGE_HEADERS).send()
        }
        return sendPage(reply, 200, page)
      }
      const t = messages(lang)
      const shown = chosen && status === 'pending' && available.has(chosen) ? await openQr(order, chosen) : null
      const error = chosen && req.query.error
      const notice = error === 'failed' ? t.channelFailed(t.channel[chosen!]) : error === 'unavailable' ? t.channelUnavailable : error === 'busy' ? t.tooMany : null
      const page = checkoutPage({
        ...view,
        now,
        declined,
        channelQr: chosen && shown ? { channel: chosen, src: channelQrPath(order.payToken, chosen, shown.content), leftMs: codeLeftMs(shown.expiresAt, now) } : null,
        notice,
      })
      return sendPage(reply, 200, page)
    })

    // The customer chose WeChat Pay or Alipay: open the channel payment (once; again gives the same code) and
    // show the channel's own QR. JSON for the page's script; a redirect back to the page without script.
    app.post<ChannelRoute>('/pay/:token/channels/:channel', ACTION, async (req, reply) => {
      const channel = realChannelParam(req.params.channel)
      const order = channel && (await findOrder(req.params.token))
      if (!channel || !order) throw notFound('order', 'token')
      const lang = parseLangParam(req.query.lang)
      const json = wantsJson(req)
      reply.header('cache-control', 'no-store')
      let opened: OpenedChannelPayment
      try {
        opened = await openings.run(`${order.id}:${channel}`, () => {
          const call = channelCalls.run(order.merchantId, () => openChannelPayment(ctx, order, channel))
          if (call) return call
          req.log.warn({ merchant_id: order.merchantId, channel, limit: channelCalls.limit }, 'checkout refused: the merchant has as many channel calls under way as allowed')
          throw new AppError('rate_limited', 'too many payments are being opened for this merchant at once; try again in a moment')
        })
      } catch (err) {
        if (!(err instanceof AppError)) throw err
        // What the channel said is for the logs, not for an unauthenticated page: the customer is asked to retry.
        const shown = err.code === 'channel_failed' ? new AppError('channel_failed', `${channel} could not open the payment; try again`) : err
        if (err.code === 'channel_failed') req.log.warn({ err, channel, order_id: order.id, request_id: req.id }, 'channel payment not opened')
        if (json) throw shown
        const error = shown.code === 'channel_failed' ? 'failed' : shown.code === 'rate_limited' ? 'busy' : 'unavailable'
        const outcome = shown.code === 'order_not_pending' ? '' : `channel=${channel}&error=${error}`
        return reply.code(303).header('location', pagePath(order.payToken, lang, outcome)).send()
      }
      if (!json) return reply.code(303).header('location', pagePath(order.payToken, lang, `channel=${channel}`)).send()
      return reply.send({
        ...customerStatus(order, ctx.clock.now()),
        channel,
        qr_content: opened.qrContent,
        qr_url: channelQrPath(order.payToken, channel, opened.qrContent),
        // The page's script asks again when the code stops being taken (checkout-script.ts).
        qr_left_ms: codeLeftMs(opened.codeExpiresAt, ctx.clock.now()),
        page_url: pagePath(order.payToken, lang, `channel=${channel}`),
      })
    })

    // The channel's code as an image, only while its attempt is open and the order can still be paid.
    for (const format of ['png', 'svg'] as const satisfies readonly QrFormat[]) {
      app.get<ChannelRoute>(`/pay/:token/channels/:channel/qr.${format}`, { schema: { hide: true } }, async (req, reply) => {
        const channel = realChannelParam(req.params.channel)
        const order = channel && (await findOrder(req.params.token))
        const content = order && effectiveStatus(order, ctx.clock.now()) === 'pending' ? (await openQr(order, channel!))?.content : null
        if (!content) throw notFound('payment', 'token')
        const key = `ch:${content}`
        const qr = qrCache.get(key, format) ?? (await qrCache.render(key, format, content, CHANNEL_QR_SCALE))
        // An attempt can end and another begin: the page asks by the code's digest, and nothing keeps a copy.
        reply.headers({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
        if (format === 'svg') reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        return reply.header('content-type', qr.contentType).send(qr.body)
      })
    }

    app.get<TokenRoute>('/pay/:token/status', { schema: { hide: true } }, async (req, reply) => {
      const cached = await cachedState(req.params.token)
      if (!cached) throw notFound('order', 'token')
      const { order } = cached.state
      const now = ctx.clock.now()
      // Its bytes change only with the status, which expiry by time moves too.
      const body = cached.render(`status:${effectiveStatus(order, now)}`, () => Buffer.from(JSON.stringify(customerStatus(order, now))), (b: Buffer) => b.length)
      return reply.headers(STATUS_HEADERS).send(body)
    })

    // HEAD would open a stream nobody reads.
    app.get<TokenRoute>('/pay/:token/events', { schema: { hide: true }, exposeHeadRoute: false }, async (req, reply) => {
      const order = (await cachedState(req.params.token))?.state.order
      if (!order) throw notFound('order', 'token')
      // An EventSource reconnects when a stream ends. One that saw the settled status already (Last-Event-ID) is
      // told by 204 to stop, as the SSE standard has it, instead of coming back every two seconds for it again.
      const status = effectiveStatus(order, ctx.clock.now())
      if (isSettled(status) && req.headers['last-event-id'] === status) return reply.code(204).send()
      if (streams.fullFor(order.payToken)) {
        const err = new AppError('rate_limited', 'too many live streams on this server or for this order; poll /status instead')
        err.headers = { 'retry-after': '5' }
        throw err
      }
      reply.hijack()
      streams.open(reply.raw, order, { 'x-request-id': req.id })
    })

    for (const format of ['svg', 'png'] as const satisfies readonly QrFormat[]) {
      app.get<TokenRoute>(`/pay/:token/qr.${format}`, { schema: { hide: true } }, async (req, reply) => {
        const { token } = req.params
        let qr = qrCache.get(token, format)
        if (!qr) {
          if (!(await findOrder(token))) throw notFound('order', 'token')
          qr = await qrCache.render(token, format, payUrl(ctx.config.publicUrl, token))
        }
        // The code of a token never changes: let browsers and CDNs keep it.
        reply.headers({ 'cache-control': 'public, max-age=86400, immutable', etag: qr.etag, 'x-content-type-options': 'nosniff' })
        if (etagMatches(req.headers['if-none-match'], qr.etag)) return reply.code(304).send()
        // An SVG opened on its own is a document: it gets no script and no outside requests.
        if (format === 'svg') reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        return reply.header('content-type', qr.contentType).send(qr.body)
      })
    }

    async function sandbox(req: FastifyRequest<TokenRoute>, reply: FastifyReply, action: 'pay' | 'decline') {
      const order = await findOrder(req.params.token)
      if (!order) throw notFound('order', 'token')
      if (order.mode !== 'test') throw new AppError('test_mode_only', 'the sandbox wallet only pays test-mode orders')
      // The same path as POST /v1/test_helpers/orders/{id}/pay: same checks, same events.
      const current = action === 'pay' ? (await payWithSandbox(ctx.deps, order)).order : order
      const status = customerStatus(current, ctx.clock.now())
      const declined = action === 'decline' && status.status === 'pending'
      if (wantsJson(req)) return reply.header('cache-control', 'no-store').send({ ...status, declined })
      // Without script the form lands back on the page, which shows the outcome (post/redirect/get).
      const lang = parseLangParam(req.query.lang)
      return reply.code(303).header('cache-control', 'no-store').header('location', pagePath(order.payToken, lang, declined ? 'declined=1' : '')).send()
    }

    app.post<TokenRoute>('/pay/:token/sandbox/pay', ACTION, (req, reply) => sandbox(req, reply, 'pay'))
    app.post<TokenRoute>('/pay/:token/sandbox/decline', ACTION, (req, reply) => sandbox(req, reply, 'decline'))

    app.get<{ Params: { keyId: string } }>('/l/:keyId', { schema: { hide: true } }, async (req, reply) => {
      const rawQuery = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : ''
      const lang = parseLangParam(new URLSearchParams(rawQuery).get('lang')) ?? languageFromAcceptLanguage(req.headers['accept-language'])
      const t = messages(lang).linkErrors
      const refuse = (status: number, reason: string, text: string, itsOrder: string | null = null) => {
        req.log.info({ key_id: req.params.keyId.slice(0, 80), reason, status, request_id: req.id }, 'payment link refused')
        return sendPage(reply, status, errorPage(lang, text, itsOrder))
      }

      const { keyId } = req.params
      const key = await ctx.directory.keyById(keyId, ctx.clock.now())
      if (!key) return refuse(403, 'unknown key', t.key)
      const query = readLinkQuery(rawQuery)
      // Before the signature is checked: a name links do not take is anyone's text, not shown on the merchant's page.
      if ('repeated' in query) return refuse(400, `repeated ${query.repeated.slice(0, 40)}`, t.repeated(isLinkParameter(query.repeated) ? query.repeated : null))
      if ('malformed' in query) return refuse(400, `malformed ${query.malformed.slice(0, 40)}`, isLinkParameter(query.malformed) ? t.invalid(query.malformed) : t.damaged)
      // The signature is checked before anything else is believed, and before anything is written.
      if (!verifyLinkSignature(key.secret, query.params)) return refuse(403, 'bad signature', t.signature)
      const link = validateLinkParams(query.params, ctx.config.production)
      if ('kind' in link) return refuse(400, `${link.kind} ${link.param}`, (link.kind === 'unknown' ? t.unknown : t.invalid)(link.param))
      if (link.expiresAt * 1000 <= ctx.clock.now()) {
        // Expired: the error page the contract asks for. If this link made its order while it was valid, the page
        // also leads to it: a customer who paid and scans it again can see the order paid, rather than only the
        // advice to get a new link (and perhaps pay twice). An order made after the link expired, by the API or a
        // new link with the same number, is not this link's.
        const made = await ctx.storage.orders.byOutTradeNo(key.merchantId, key.mode, link.outTradeNo)
        const itsOrder = made && made.createdAt < link.expiresAt * 1000 && linkDescribes(made, link) ? pagePath(made.payToken, link.lang) : null
        return refuse(410, 'expired', t.expired, itsOrder)
      }

      let order: Order
      try {
        order = await orderForLink(ctx.deps, ctx.storage.orders, key.merchantId, key.mode, link)
      } catch (err) {
        if (err instanceof AppError && err.code === 'out_trade_no_conflict') return refuse(409, 'out_trade_no conflict', t.conflict)
        if (err instanceof AppError && err.status < 500) return refuse(err.status, err.code, t.notPayable)
        throw err
      }
      return reply.code(303).headers({ location: pagePath(order.payToken, link.lang), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).send()
    })
  }
}
