// Idempotency-Key: any POST with the header runs once and replays its first successful response for 24 h;
// the same key with a different request is refused. The key is claimed before the request runs, so
// concurrent twins wait for the first and replay its answer instead of running again. Errors are not stored:
// they changed nothing, so a retry may run afresh.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../../core/errors.ts'
import { sha256Hex } from '../../security/credentials.ts'
import type { ApiKey } from '../../merchants/merchant-directory.ts'
import { ABANDONED_CLAIM_MS, type SqlIdempotencyStore, type StoredResponse } from '../../storage/idempotency-store.ts'

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
/** How long a twin waits for the first request to finish before answering 409. */
const WAIT_FOR_FIRST_MS = 10_000
const POLL_MS = 20

export interface Handled {
  status: number
  body: unknown
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

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
  const requestHash = sha256Hex(`${req.method}\n${req.url}\n${req.rawBody ?? ''}`)
  const deadline = now() + WAIT_FOR_FIRST_MS
  for (;;) {
    // The request's id owns the claim: a claim taken over as abandoned is not completed or released by its first owner.
    if (await store.claim(key.merchantId, key.mode, header, requestHash, req.id, now(), IDEMPOTENCY_TTL_MS)) {
      let r: Handled
      try {
        r = await handle()
      } catch (err) {
        await store.release(key.merchantId, key.mode, header, req.id)
        throw err
      }
      const body = JSON.stringify(r.body)
      await store.complete(key.merchantId, key.mode, header, req.id, r.status, body)
      return send(reply, { requestHash, statusCode: r.status, body })
    }
    const previous = await store.find(key.merchantId, key.mode, header, now())
    // Released by a failed first request (or just expired): try to claim it again.
    if (!previous) continue
    if (previous.requestHash !== requestHash) {
      throw new AppError('idempotency_key_reused', 'this Idempotency-Key was used with a different request', 'Idempotency-Key')
    }
    if (previous.statusCode !== 0) return send(reply, previous)
    if (now() > deadline) {
      throw new AppError('idempotency_key_in_use', 'a request with this Idempotency-Key is still being processed; retry later', 'Idempotency-Key')
    }
    await sleep(POLL_MS)
  }
}

/**
 * At the start of a SQLite database's one server (its server lock held): no other process serves the database,
 * so a claim still in progress was left by a server that died mid-request (kill -9, a crash, power). Given back,
 * its retry runs at once instead of answering idempotency_key_in_use until the claim is a minute old. Running it
 * again is safe: it wrote nothing that was answered, and what it may have written before dying (an order, a refund)
 * is found again by the request's own idempotency (out_trade_no, out_refund_no). Claims older than a minute are
 * taken over by claim() anyway, so only the last minute's are looked for. Returns how many were given back.
 */
export function releaseClaimsOfDeadServer(store: SqlIdempotencyStore, now: number): Promise<number> {
  return store.releaseUnfinished(now + IDEMPOTENCY_TTL_MS - ABANDONED_CLAIM_MS)
}

function send(reply: FastifyReply, saved: StoredResponse): FastifyReply {
  return reply.code(saved.statusCode).header('content-type', 'application/json; charset=utf-8').send(saved.body)
}
