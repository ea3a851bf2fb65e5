// Builds the Fastify application: the merchant API, the checkout, channel callbacks and operations.
import Fastify, { LogController } from 'fastify'
import swagger from '@fastify/swagger'
import { isUtf8 } from 'node:buffer'
import { createServer, maxHeaderSize } from 'node:http'
import type { Duplex } from 'node:stream'
import type { AppContext } from '../context.ts'
import { channelNotifyRoutes } from './channel-notify/routes.ts'
import { checkoutRoutes, sendCustomerNotFound } from './checkout/routes.ts'
import { FastPaths } from './fast-path.ts'
import { AppError } from '../core/errors.ts'
import { newId } from '../core/ids.ts'
import { bodyTooLarge, errorBody, sendError, toAppError } from './error-response.ts'
import { parseJsonBody } from './json-body.ts'
import { merchantApi } from './merchant-api/routes.ts'
import { opsRoutes } from './ops-routes.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received, for HMAC signatures and idempotency fingerprints. */
    rawBody?: string
  }
}

export const BODY_LIMIT = 64 * 1024

export async function buildApp(ctx: AppContext) {
  const requestSeries = new Map<string, string>()
  const countRequest = (route: string, status: number) => {
    const known = `${status} ${route}`
    let series = requestSeries.get(known)
    if (series === undefined) {
      series = ctx.metrics.series('scanpay_http_requests_total', { route, status: String(status) })
      requestSeries.set(known, series)
    }
    ctx.metrics.incSeries(series)
  }
  const fastPaths = new FastPaths(countRequest)
  const app = Fastify({
    // Fastify's own HTTP/1 server, with the fast paths in front (fast-path.ts) and its timeouts as it sets them.
    serverFactory: (handler, options) => {
      const o = options as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number }
      // Node looks for requests past their time every connectionsCheckingInterval (30 s by default), so one could
      // hold its connection up to twice REQUEST_TIMEOUT_MS; looked for every second, it is answered on time.
      const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => fastPaths.handle(req, res, () => handler(req, res)) || handler(req, res))
      server.on('clientError', answerMalformed)
      server.keepAliveTimeout = o.keepAliveTimeout ?? 72_000
      // A request (headers and body) must arrive whole within REQUEST_TIMEOUT_MS: a client that sends a body one
      // byte at a time, or never finishes it, cannot hold a connection for ever (Fastify's default is no limit).
      // Answers take as long as they take: a live-status stream stays open.
      server.requestTimeout = o.requestTimeout || REQUEST_TIMEOUT_MS
      server.headersTimeout = Math.min(server.headersTimeout, server.requestTimeout)
      server.setTimeout(o.connectionTimeout ?? 0)
      return server
    },
    loggerInstance: ctx.logger,
    // Per-request lines would dominate the log under load; errors are still logged with the request id.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: BODY_LIMIT,
    // Same shape as every other id (req_ + time + random), drawn from the id module's random pool.
    genReqId: () => newId('req'),
    // One logger for every request instead of a child each: the lines that need the request id carry it.
    childLoggerFactory: (logger) => logger,
    requestIdHeader: false,
    // Ids and tokens longer than any we issue reach their routes, which answer as for any other unknown one (a
    // 400 naming the field, the customer's not-found page) rather than the router's own refusal.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A URL Fastify cannot decode never reaches the hooks: answered here in the contract's shape, or for a
    // customer's link with the page that says it leads nowhere.
    frameworkErrors: (err, req, reply) => {
      reply.header('x-request-id', req.id)
      if (req.method === 'GET' && CUSTOMER_PATH.test(req.url)) return sendCustomerNotFound(req, reply)
      return sendError(req, reply, new AppError('request_invalid', err.message.includes('max param length') ? `the URL is not valid: a path segment is longer than ${MAX_PARAM_LENGTH} characters` : `the URL is not valid: ${err.message}`))
    },
    // Answered by the hook below instead, in the contract's shape (Fastify's own 503 has neither type nor id).
    return503OnClosing: false,
    ajv: {
      // Strict: no type coercion and no silent removal of unknown fields; they are errors.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  })

  app.removeAllContentTypeParsers()
  app.addContentTypeParser(['application/json'], { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (req, body, done) => {
    // JSON is UTF-8: bytes that are not would be read as U+FFFD, so two different bodies would read the same.
    if (!isUtf8(body as Buffer)) return done(new AppError('body_invalid', 'the body is not valid UTF-8'), undefined)
    const text = (body as Buffer).toString('utf8')
    req.rawBody = text
    if (text.length === 0) return done(null, undefined)
    let parsed: unknown
    try {
      parsed = parseJsonBody(text)
    } catch (err) {
      if (err instanceof AppError) return done(err, undefined)
      return done(Object.assign(new Error('invalid JSON'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }), undefined)
    }
    done(null, parsed)
  })
  // Form posts from the checkout page (pay / decline buttons).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (req, body, done) => {
    req.rawBody = body as string
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })

  // Callback hooks, not async ones: every request runs them, and a promise each cost more than their work.
  let closing = false
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id)
    // Stopping: a request that still arrives on an open connection is done nowhere here; another node, or this
    // one restarted, takes the retry. The connection closes after the answer.
    if (closing) {
      reply.header('connection', 'close')
      return void done(Object.assign(new AppError('service_unavailable', 'this server is stopping; the request changed nothing: send it again'), { headers: { 'retry-after': '1' } }))
    }
    // No id, key or query value holds NUL, and PostgreSQL cannot even be asked about one. A customer's link
    // holding one leads nowhere: the page that says so, in their language.
    if (req.url.includes('%00')) {
      // A payment link's query checks its own (payment-link.ts), and says which field is wrong.
      if (req.method === 'GET' && /^\/l\/[^?]*\?/.test(req.url) && !req.url.split('?', 1)[0]!.includes('%00')) return done()
      if (req.method === 'GET' && CUSTOMER_PATH.test(req.url)) return void sendCustomerNotFound(req, reply)
      return void sendError(req, reply, new AppError('request_invalid', 'the URL must not contain NUL (%00)'))
    }
    // The query parser reads a malformed escape as it stands (a filter would then quietly match nothing). The
    // customer's links check their own query and answer with a page.
    if (hasMalformedQuery(req.url) && !CUSTOMER_PATH.test(req.url)) {
      return void sendError(req, reply, new AppError('request_invalid', 'the query string is not valid percent-encoded UTF-8'))
    }
    // Too large is too large whatever its media type (else a body of a type nobody reads would answer 415).
    const length = req.headers['content-length']
    if (length !== undefined && Number(length) > BODY_LIMIT) return void sendError(req, reply, bodyTooLarge())
    done()
  })
  app.addHook('onResponse', (req, reply, done) => {
    countRequest(req.routeOptions.url ?? 'unmatched', reply.statusCode)
    done()
  })
  app.addHook('preClose', (done) => {
    closing = true
    fastPaths.close()
    done()
  })

  app.setErrorHandler((err, req, reply) => {
    const appErr = givenTwice(err, req.query) ?? toAppError(err as Error)
    // A request turned away while this server stops is planned, not a failure: no stack, not at error.
    if (appErr.code === 'service_unavailable') req.log.info({ request_id: req.id, status: appErr.status, code: appErr.code }, 'request refused: this server is stopping')
    else if (appErr.status >= 500) req.log.error({ err, request_id: req.id }, 'request failed')
    return sendError(req, reply, appErr)
  })
  app.setNotFoundHandler((req, reply) => {
    // A customer's mistyped or cut link (a trailing slash, a path under a token) gets the page, not JSON.
    if (req.method === 'GET' && CUSTOMER_PATH.test(req.url)) return sendCustomerNotFound(req, reply)
    return sendError(req, reply, toAppError(Object.assign(new Error('not found'), { statusCode: 404 })))
  })

  await app.register(swagger, {
    openapi: {
      info: { title: 'ScanPay API', version: '1' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'sk_test_… or sk_live_…' },
          hmac: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'SCANPAY-HMAC-SHA256 key_id="…",timestamp="…",nonce="…",signature="…"' },
        },
      },
    },
    // Every POST of the API takes an Idempotency-Key (idempotency.ts checks it, not the route schemas): said here,
    // so a client generated from the document can send it.
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject
      const { openapiObject } = document
      for (const [path, item] of Object.entries(openapiObject.paths ?? {})) {
        const post = (item as { post?: { parameters?: unknown[] } }).post
        if (path.startsWith('/v1/') && post) post.parameters = [...(post.parameters ?? []), IDEMPOTENCY_KEY_PARAMETER]
      }
      return openapiObject
    },
  })

  await app.register(opsRoutes(ctx))
  await app.register(checkoutRoutes(ctx, fastPaths))
  await app.register(merchantApi(ctx))
  await app.register(channelNotifyRoutes(ctx))
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  return app
}


/** A query parameter given more than once arrives as a list, which its rule refuses: said as what it is. */
function givenTwice(err: unknown, query: unknown): AppError | null {
  if ((err as { validationContext?: string }).validationContext !== 'querystring') return null
  const param = toAppError(err as Error).param
  const value = param && typeof query === 'object' && query !== null ? (query as Record<string, unknown>)[param] : undefined
  return Array.isArray(value) ? new AppError('parameter_invalid', `${param} is given more than once`, param) : null
}

const IDEMPOTENCY_KEY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', minLength: 1, maxLength: 255 },
  description: 'Runs the request once and replays its first successful response for 24 h; another request under the same key is 409 idempotency_key_reused',
}

/** How long a client may take to send a whole request, headers and a body of at most 64 KiB. */
export const REQUEST_TIMEOUT_MS = 30_000

/** Pages customers open (checkout and payment links): errors there are pages, not JSON. */
const CUSTOMER_PATH = /^\/(pay|l)\//

/** Longer than any id, token or key id ScanPay issues, so every one of those reaches its route. */
const MAX_PARAM_LENGTH = 2048

/** A query string with a `%` that does not start a valid escape of UTF-8 (`%ZZ`, a cut `%E0%A4%A`). */
function hasMalformedQuery(url: string): boolean {
  const q = url.indexOf('?')
  if (q < 0 || !url.includes('%', q)) return false
  try {
    decodeURIComponent(url.slice(q + 1))
    return false
  } catch {
    return true
  }
}

/**
 * Node answers a request it cannot parse (a bad header line, a wrong Content-Length, headers too large) with a
 * bare status; this answers in the contract's error shape, with a request id of its own, and closes.
 */
function answerMalformed(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy()
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
  const requestId = newId('req')
  const message =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? `the request did not arrive whole within ${REQUEST_TIMEOUT_MS / 1000} s`
      : status === 431
        ? `the request's headers are larger than ${maxHeaderSize / 1024} KiB`
        : 'the request is not well-formed HTTP'
  const body = JSON.stringify(errorBody(new AppError('request_invalid', message), requestId))
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `x-request-id: ${requestId}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  )
}
