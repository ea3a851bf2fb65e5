// Turns anything thrown into the contract's error shape, with the status its type maps to.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../core/errors.ts'
import { FIELD_RULES } from './schemas.ts'

interface AjvIssue {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
}

/** Maps the first schema violation to a code, the offending field and a message a developer can act on. */
export function validationError(issues: AjvIssue[], context: string): AppError {
  const issue = issues[0]
  if (!issue) return new AppError('body_invalid', 'the request is invalid')
  const path = issue.instancePath.split('/').filter(Boolean)
  if (issue.keyword === 'additionalProperties') {
    const field = [...path, String(issue.params.additionalProperty)].join('.')
    return new AppError('parameter_unknown', `unknown parameter ${field}`, field)
  }
  if (issue.keyword === 'required') {
    const field = [...path, String(issue.params.missingProperty)].join('.')
    return new AppError('parameter_missing', `${field} is required`, field)
  }
  const top = path[0]
  if (!top) {
    return new AppError('body_invalid', context === 'body' ? 'the body must be a JSON object' : `invalid ${context}`)
  }
  const field = path.join('.')
  // A top-level field with a fixed set of values (a union of constants) is told that set, from its own schema:
  // `status` means one thing for orders and another for bill checks.
  const allowed = path.length === 1 ? issues.filter((i) => i.keyword === 'const' && i.instancePath === issue.instancePath).map((i) => String(i.params.allowedValue)) : []
  if (allowed.length > 0) return new AppError('parameter_invalid', `${field} must be one of ${allowed.join(', ')}`, field)
  const rule = FIELD_RULES[top] ?? `${field} is invalid`
  // Whatever is wrong with it (too long, say), a cursor we did not hand out is the one error a cursor has.
  if (top === 'cursor') return new AppError('cursor_invalid', rule, field)
  return new AppError(top === 'amount' ? 'amount_invalid' : 'parameter_invalid', rule, field)
}

export function errorBody(err: AppError, requestId: string) {
  return {
    error: {
      type: err.type,
      code: err.code,
      message: err.message,
      // Always present, as the contract lists it: null when no one field is at fault.
      param: err.param ?? null,
      request_id: requestId,
    },
  }
}

export function bodyTooLarge(): AppError {
  return Object.assign(new AppError('body_too_large', 'the request body is larger than 64 KiB'), { status: 413 })
}

/** Normalizes Fastify's own errors (bad JSON, too large, wrong media type) and unexpected ones. */
export function toAppError(err: FastifyError | AppError | Error): AppError {
  if (err instanceof AppError) return err
  const fe = err as FastifyError & { validation?: AjvIssue[]; validationContext?: string }
  if (fe.validation) return validationError(fe.validation, fe.validationContext ?? 'body')
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyTooLarge()
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const e = new AppError('unsupported_media_type', 'send the body as application/json')
      return Object.assign(e, { status: 415 })
    }
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('body_invalid', 'the body is not valid JSON')
  }
  if (err instanceof SyntaxError) return new AppError('body_invalid', 'the body is not valid JSON')
  const status = (fe as { statusCode?: number }).statusCode
  if (status === 404) return new AppError('route_missing', 'no such route')
  if (status && status >= 400 && status < 500) return new AppError('body_invalid', fe.message)
  return new AppError('internal_error', 'something went wrong on our side; the request changed nothing')
}

export function sendError(request: FastifyRequest, reply: FastifyReply, err: AppError): FastifyReply {
  // Our own failures (5xx) are logged where they are caught, with the error; a refusal is logged here, so the
  // request id a merchant quotes leads to why its request was refused.
  // The route's pattern, not the URL: a checkout token in a log would hand its capability to whoever reads it.
  if (err.status < 500) request.log.info({ request_id: request.id, status: err.status, code: err.code, param: err.param, route: request.routeOptions?.url ?? 'unmatched' }, 'request refused')
  if (err.headers) reply.headers(err.headers)
  return reply.code(err.status).header('content-type', 'application/json; charset=utf-8').send(errorBody(err, request.id))
}
