// Idempotency-Key: any POST with the header replays its first successful response for 24 h; the same key
// with a different request is refused. Errors are not stored, since they changed nothing.
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../../core/errors.ts'
import type { ApiKey } from '../../merchants/merchant-directory.ts'
import type { SqlIdempotencyStore } from '../../storage/idempotency-store.ts'

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000

export interface Handled {
  status: number
  body: unknown
}

export async function withIdempotency(
  store: SqlIdempotencyStore,
  now: () => number,
  key: ApiKey,
  req: FastifyRequest,
  reply: FastifyReply,
  handle: () => Promise<Handled>,
): Promise<FastifyReply> {
  const header = req.headers['idempotency-key']
  if (header === undefined) {
    const r = await handle()
    return reply.code(r.status).send(r.body)
  }
  if (typeof header !== 'string' || header.length < 1 || header.length > 255) {
    throw new AppError('parameter_invalid', 'Idempotency-Key must be 1-255 characters', 'Idempotency-Key')
  }
  const requestHash = createHash('sha256').update(`${req.method}\n${req.url}\n`).update(req.rawBody ?? '').digest('hex')
  const previous = await store.find(key.merchantId, key.mode, header, now())
  if (previous) return replay(previous, requestHash, reply)
  const r = await handle()
  const saved = await store.save(key.merchantId, key.mode, header, { requestHash, statusCode: r.status, body: JSON.stringify(r.body) }, now(), IDEMPOTENCY_TTL_MS)
  return replay(saved, requestHash, reply)
}

function replay(saved: { requestHash: string; statusCode: number; body: string }, requestHash: string, reply: FastifyReply) {
  if (saved.requestHash !== requestHash) {
    throw new AppError('idempotency_key_reused', 'this Idempotency-Key was used with a different request', 'Idempotency-Key')
  }
  return reply.code(saved.statusCode).header('content-type', 'application/json; charset=utf-8').send(saved.body)
}
