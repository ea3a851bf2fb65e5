// Idempotency-Key records: a key is claimed before its request runs (status 0, "in progress", the body holding
// the claim's owner), then holds the first successful response for 24 h. A failed request releases its claim, so
// it wrote nothing. Only the owner completes or releases a claim: one taken over as abandoned is the new owner's.
import type { Kysely } from 'kysely'
import type { Mode } from '../core/order.ts'
import { CompiledOnce } from './compiled-once.ts'
import type { WriteCompiled } from './nonce-store.ts'
import type { Database } from './schema.ts'

export interface StoredResponse {
  requestHash: string
  /** 0 while the first request is still running. */
  statusCode: number
  body: string
}

/** A claim older than this is taken to be abandoned (its process died mid-request). */
export const ABANDONED_CLAIM_MS = 60_000

// Every keyed request runs two of these: compiled once (compiled-once.ts).
const claimKey = new CompiledOnce()
const completeKey = new CompiledOnce()
const releaseKey = new CompiledOnce()

export class SqlIdempotencyStore {
  constructor(
    private readonly db: Kysely<Database>,
    // A keyed request writes its key twice around its own write: alone, each was a commit and an fsync of its
    // own on SQLite, and a keyed create cost ~5 × one without a key. Storage passes its shared commit.
    private readonly write: WriteCompiled = (query) => db.executeQuery(query),
  ) {}

  async find(merchantId: string, mode: Mode, key: string, now: number): Promise<StoredResponse | null> {
    const r = await this.db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'status_code', 'response_body'])
      .where('merchant_id', '=', merchantId)
      .where('mode', '=', mode)
      .where('key', '=', key)
      .where('expires_at', '>', now)
      .executeTakeFirst()
    return r ? { requestHash: r.request_hash, statusCode: Number(r.status_code), body: r.response_body } : null
  }

  /**
   * Claims the key for a request about to run, for `owner` (unique to the request: its id); false when another
   * request holds or has used it.
   */
  async claim(merchantId: string, mode: Mode, key: string, requestHash: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    const until = now + ttlMs
    const abandonedBefore = now - ABANDONED_CLAIM_MS
    const values = [merchantId, mode, key, requestHash, 0, owner, now, until, requestHash, 0, owner, now, until, now, 0, abandonedBefore]
    const claimed = await this.write(
      claimKey.compile(this.db, values, () =>
        this.db
          .insertInto('idempotency_keys')
          .values({ merchant_id: merchantId, mode, key, request_hash: requestHash, status_code: 0, response_body: owner, created_at: now, expires_at: until })
          .onConflict((oc) =>
            oc
              .columns(['merchant_id', 'mode', 'key'])
              .doUpdateSet({ request_hash: requestHash, status_code: 0, response_body: owner, created_at: now, expires_at: until })
              // Expired, or claimed by a request whose process died before it answered.
              .where((eb) =>
                eb.or([
                  eb('idempotency_keys.expires_at', '<=', now),
                  eb.and([eb('idempotency_keys.status_code', '=', 0), eb('idempotency_keys.created_at', '<', abandonedBefore)]),
                ]),
              ),
          ),
      ),
    )
    // Counted rather than returned: RETURNING cost SQLite's writer thread several µs a statement.
    return claimed.numAffectedRows === 1n
  }

  /** Stores the response of the request that holds the claim (none, once another took it over). */
  async complete(merchantId: string, mode: Mode, key: string, owner: string, statusCode: number, body: string): Promise<void> {
    await this.write(
      completeKey.compile(this.db, [statusCode, body, merchantId, mode, key, 0, owner], () =>
        this.db
          .updateTable('idempotency_keys')
          .set({ status_code: statusCode, response_body: body })
          .where('merchant_id', '=', merchantId)
          .where('mode', '=', mode)
          .where('key', '=', key)
          .where('status_code', '=', 0)
          .where('response_body', '=', owner),
      ),
    )
  }

  /** Gives the claim back after the request failed, so a retry runs afresh (only the owner's own claim). */
  async release(merchantId: string, mode: Mode, key: string, owner: string): Promise<void> {
    await this.write(
      releaseKey.compile(this.db, [merchantId, mode, key, 0, owner], () =>
        this.db
          .deleteFrom('idempotency_keys')
          .where('merchant_id', '=', merchantId)
          .where('mode', '=', mode)
          .where('key', '=', key)
          .where('status_code', '=', 0)
          .where('response_body', '=', owner),
      ),
    )
  }

  /**
   * Gives back every claim still in progress that expires after `expiringAfter` (the index on expires_at finds
   * them: a claim expires its TTL after it was taken). Only for claims no running request holds; returns how many.
   */
  async releaseUnfinished(expiringAfter: number): Promise<number> {
    const r = await this.db.deleteFrom('idempotency_keys').where('expires_at', '>', expiringAfter).where('status_code', '=', 0).executeTakeFirst()
    return Number(r.numDeletedRows)
  }

  async purgeExpired(now: number): Promise<number> {
    const r = await this.db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst()
    return Number(r.numDeletedRows)
  }
}
