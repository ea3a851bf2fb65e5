// The merchant API v1: orders, refunds, events, bill checks and test helpers, behind authentication.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError, notFound } from '../../core/errors.ts'
import { isCalendarDate } from '../../core/calendar-date.ts'
import { effectiveStatus, type ChannelName, type Order } from '../../core/order.ts'
import type { ListedOrder } from '../../core/ports.ts'
import { closeOrder } from '../../core/use-cases/close-order.ts'
import { createOrder } from '../../core/use-cases/create-order.ts'
import { payWithSandbox } from '../../channels/sandbox/sandbox-channel.ts'
import type { AppContext } from '../../context.ts'
import type { ApiKey } from '../../merchants/merchant-directory.ts'
import { isObviouslyInternal } from '../../webhooks/endpoint-guard.ts'
import { cursorParam, presentEvent, presentList, presentOrder } from '../presenters.ts'
import {
  CreateOrderBody,
  EmptyBody,
  ErrorResource,
  EventList,
  EventResource,
  IdParams,
  ListEventsQuery,
  NoQuery,
  ListOrdersQuery,
  OrderList,
  OrderResource,
} from '../schemas.ts'
import { authenticate, noCredentials, type NonceClaim } from './authenticate.ts'
import { billCheckRoutes } from './bill-check-routes.ts'
import { refundRoutes } from './refund-routes.ts'
import { withIdempotency } from './idempotency.ts'

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey
    /** A signed create's nonce claim, deferred to its order insert (authenticate.ts); null once none is outstanding. */
    nonceClaim?: NonceClaim | null
  }
}

const errors = { 400: ErrorResource, 401: ErrorResource, 404: ErrorResource, 409: ErrorResource }

/** The statuses any /v1 request may be answered with besides its own (contract: Errors), all in one shape. */
const ERROR_RESPONSES = Object.fromEntries(
  Object.entries({
    400: 'invalid_request: a malformed body, an unknown or invalid field (param names it)',
    401: 'authentication: missing, unknown or ended credentials; a bad signature, timestamp or reused nonce',
    403: 'forbidden: test helpers with a live key',
    404: 'not_found: no such object for this merchant and mode',
    409: 'conflict: the object is not in a state for this request, or an idempotency key or out_trade_no conflicts',
    413: 'the body is over 64 KiB',
    415: 'the body is not application/json',
    429: 'rate_limited: too many requests for this key; Retry-After says when to try again',
    500: 'internal: our failure; the request changed nothing',
    502: 'channel_error: the payment channel failed',
    503: 'service_unavailable: this server is stopping; send the request again',
  }).map(([status, description]) => [status, { ...ErrorResource, description }]),
)
const security: { [label: string]: string[] }[] = [{ bearer: [] }, { hmac: [] }]

function parseTime(value: string | undefined, param: string): number | undefined {
  if (value === undefined) return undefined
  const ms = /^\d{1,12}$/.test(value) ? Number(value) * 1000 : Date.parse(value)
  // A date and time must say its offset: a time read in the server's zone would shift with the server.
  // A day that does not exist (2026-02-30) is refused, not rolled over into the next month.
  const dated = /^\d{1,12}$|^\d{4}-\d{2}-\d{2}$|^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/.test(value) && (/^\d{1,12}$/.test(value) || isCalendarDate(value.slice(0, 10)))
  if (!Number.isFinite(ms) || !dated) {
    // A '+' sent bare in a query string arrives as a space: the likeliest reason a time with an offset fails here.
    const hint = value.includes(' ') ? " (write an offset's + as %2B in a query string)" : ''
    throw new AppError('parameter_invalid', `${param} must be an ISO 8601 time with its offset, a date, or unix seconds${hint}`, param)
  }
  return ms
}


function checkUrl(ctx: AppContext, url: string | null | undefined, param: string): string | null {
  if (url === undefined || url === null) return null
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new AppError('parameter_invalid', `${param} must be an http(s) URL of at most 1024 characters`, param)
  }
  if (ctx.config.production && isObviouslyInternal(parsed)) {
    throw new AppError('url_not_allowed', `${param} must not point at a loopback, private or link-local address`, param)
  }
  // The customer's browser is sent there: a user name and password in it is a phishing pattern browsers warn of.
  if (param === 'return_url' && (parsed.username || parsed.password)) {
    throw new AppError('parameter_invalid', 'return_url must not carry a user name or password: customers are sent to it', param)
  }
  return url
}

export function merchantApi(ctx: AppContext) {
  const { storage, deps } = ctx
  const present = (o: ListedOrder) => presentOrder(ctx.config.publicUrl, o, ctx.clock.now())
  const authDeps = { directory: ctx.directory, nonces: storage.nonces, rateLimiter: ctx.rateLimiter, now: () => ctx.clock.now() }

  async function orderOf(req: FastifyRequest<{ Params: IdParams }>): Promise<Order> {
    const key = req.apiKey!
    const order = await storage.orders.byId(key.merchantId, key.mode, req.params.id)
    if (!order) throw notFound('order', 'id')
    return order
  }

  return async function routes(app: FastifyInstance) {
    // The API reads JSON only: the form parser the checkout and channel callbacks need is not for these routes.
    app.removeContentTypeParser('application/x-www-form-urlencoded')
    // A route that reads no query refuses one, as the lists refuse a parameter they do not know. Every route
    // may answer every error of the contract; the OpenAPI document says so, each with the one error shape.
    app.addHook('onRoute', (route) => {
      const response: Record<string, unknown> = { ...(route.schema?.response as object | undefined) }
      for (const [status, schema] of Object.entries(ERROR_RESPONSES)) if (response[status] === undefined || response[status] === ErrorResource) response[status] = schema
      route.schema = { ...route.schema, querystring: route.schema?.querystring ?? NoQuery, response }
    })
    // "Every /v1 request authenticates": one with no credentials at all is told so before its body is read, so a
    // body it could not send anyway (malformed, of another type) does not answer first. A callback hook: every
    // request runs it. (Credentials are checked after the body, which a signature covers.)
    app.addHook('onRequest', (req, _reply, done) => {
      if (req.headers.authorization === undefined) return void done(noCredentials())
      done()
    })
    app.addHook('preValidation', async (req) => {
      // A signed create without an Idempotency-Key claims its nonce in the same commit as its order: one commit
      // instead of two. Every other signed request claims before it runs.
      const deferClaim = req.method === 'POST' && req.url === '/v1/orders' && req.headers['idempotency-key'] === undefined
      const { key, claim } = await authenticate(authDeps, req, deferClaim)
      req.apiKey = key
      req.nonceClaim = claim
    })
    // An answer that never reached the order insert (a validation error, say) claims the nonce first, so the
    // request's replay is refused as one; a claim that fails answers nonce_reused instead (the parent's handler).
    app.setErrorHandler(async (err, req) => {
      await req.nonceClaim?.settle()
      throw err
    })

    refundRoutes(app, ctx)
    billCheckRoutes(app, ctx)

    app.post<{ Body: CreateOrderBody }>(
      '/v1/orders',
      { schema: { tags: ['orders'], summary: 'Create an order', body: CreateOrderBody, security, response: { 200: OrderResource, 201: OrderResource, ...errors } } },
      async (req, reply) => {
        const key = req.apiKey!
        const b = req.body
        return withIdempotency(storage.idempotency, ctx.clock.now, key, req, reply, async () => {
          const { order, created } = await createOrder(deps, key.merchantId, key.mode, {
            outTradeNo: b.out_trade_no,
            amount: b.amount,
            currency: b.currency ?? 'CNY',
            subject: b.subject,
            description: b.description ?? null,
            notifyUrl: checkUrl(ctx, b.notify_url, 'notify_url'),
            returnUrl: checkUrl(ctx, b.return_url, 'return_url'),
            expiresInSeconds: b.expires_in ?? 900,
            channels: b.channels as ChannelName[] | undefined,
            metadata: b.metadata ?? {},
          }, req.nonceClaim ?? undefined)
          return { status: created ? 201 : 200, body: present(order) }
        })
      },
    )

    app.get<{ Querystring: ListOrdersQuery }>(
      '/v1/orders',
      { schema: { tags: ['orders'], summary: 'List orders, newest first', querystring: ListOrdersQuery, security, response: { 200: OrderList } } },
      async (req) => {
        const key = req.apiKey!
        const q = req.query
        const limit = Number(q.limit ?? 10)
        // One moment for the filter and the page, so a pending order listed is shown pending.
        const now = ctx.clock.now()
        const rows = await storage.orders.list({
          merchantId: key.merchantId,
          mode: key.mode,
          status: q.status as Order['status'] | undefined,
          // Past its deadline a pending order reads expired (presentOrder), so it is not listed as pending.
          expiresAfter: q.status === 'pending' ? now : undefined,
          outTradeNo: q.out_trade_no,
          createdGte: parseTime(q.created_gte, 'created_gte'),
          createdLt: parseTime(q.created_lt, 'created_lt'),
          before: cursorParam(q.cursor),
          limit: limit + 1,
        })
        return presentList(rows, limit, (o) => presentOrder(ctx.config.publicUrl, o, now))
      },
    )

    app.get<{ Params: IdParams }>(
      '/v1/orders/:id',
      { schema: { tags: ['orders'], summary: 'Retrieve an order', params: IdParams, security, response: { 200: OrderResource, ...errors } } },
      async (req) => present(await orderOf(req)),
    )

    app.post<{ Params: IdParams }>(
      '/v1/orders/:id/close',
      { schema: { tags: ['orders'], summary: 'Close a pending order', params: IdParams, body: EmptyBody, security, response: { 200: OrderResource, ...errors } } },
      async (req, reply) =>
        withIdempotency(storage.idempotency, ctx.clock.now, req.apiKey!, req, reply, async () => ({
          status: 200,
          body: present(await closeOrder(deps, await orderOf(req))),
        })),
    )

    app.post<{ Params: IdParams }>(
      '/v1/test_helpers/orders/:id/pay',
      { schema: { tags: ['test helpers'], summary: 'Pay a pending test order through the sandbox', params: IdParams, body: EmptyBody, security, response: { 200: OrderResource, ...errors } } },
      async (req, reply) => {
        if (req.apiKey!.mode !== 'test') throw new AppError('test_mode_only', 'test helpers need a test-mode key')
        return withIdempotency(storage.idempotency, ctx.clock.now, req.apiKey!, req, reply, async () => {
          const outcome = await payWithSandbox(deps, await orderOf(req))
          if (outcome.result !== 'paid') {
            throw new AppError('order_not_pending', `the order is ${effectiveStatus(outcome.order, ctx.clock.now())}, not pending`)
          }
          return { status: 200, body: present(outcome.order) }
        })
      },
    )

    app.get<{ Querystring: ListEventsQuery }>(
      '/v1/events',
      { schema: { tags: ['events'], summary: 'List events, newest first', querystring: ListEventsQuery, security, response: { 200: EventList } } },
      async (req) => {
        const key = req.apiKey!
        const limit = Number(req.query.limit ?? 10)
        const rows = await storage.events.list({
          merchantId: key.merchantId,
          mode: key.mode,
          orderId: req.query.order_id,
          before: cursorParam(req.query.cursor),
          limit: limit + 1,
        })
        return presentList(rows, limit, async (e) => presentEvent(e, await storage.events.attempts(key.merchantId, e.id)))
      },
    )

    app.get<{ Params: IdParams }>(
      '/v1/events/:id',
      { schema: { tags: ['events'], summary: 'Retrieve an event with its delivery attempts', params: IdParams, security, response: { 200: EventResource } } },
      async (req) => {
        const key = req.apiKey!
        const event = await storage.events.byId(key.merchantId, key.mode, req.params.id)
        if (!event) throw notFound('event', 'id')
        return presentEvent(event, await storage.events.attempts(key.merchantId, event.id))
      },
    )

    app.post<{ Params: IdParams }>(
      '/v1/events/:id/redeliver',
      { schema: { tags: ['events'], summary: 'Queue one more delivery now', params: IdParams, body: EmptyBody, security, response: { 200: EventResource } } },
      async (req, reply) => {
        const key = req.apiKey!
        // With an Idempotency-Key, a retried request is the same one more delivery, not a second.
        return withIdempotency(storage.idempotency, ctx.clock.now, key, req, reply, async () => {
          const event = await storage.events.byId(key.merchantId, key.mode, req.params.id)
          if (!event) throw notFound('event', 'id')
          await storage.events.requestRedelivery(key.merchantId, event.id, ctx.clock.now())
          ctx.worker.wake()
          const after = (await storage.events.byId(key.merchantId, key.mode, event.id))!
          return { status: 200, body: presentEvent(after, await storage.events.attempts(key.merchantId, event.id)) }
        })
      },
    )
  }
}
