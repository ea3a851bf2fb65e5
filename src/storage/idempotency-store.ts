// Idempotency-Key records: a key is claimed before its request runs (status 0, "in progress"), then holds
// the first successful response for 24 h. A failed request releases its claim, so it wrote nothing.
import type { Kysely } from 'kysely'
import type { Mode } from '../core/order.ts'
import type { Database } from './schema.ts'

export interface StoredResponse {
  requestHash: string
  /** 0 while the first request is still running. */
  statusCode: number
  body: string
}

/** A claim older than this is taken to be abandoned (its process died mid-request). */
export const ABANDONED_CLAIM_MS = 60_000

/** Runs one statement, atomic by itself (Storage.writeStatement: on SQLite it shares a group commit). */
export type WriteStatement = <T>(fn: (db: Kysely<Database>) => Promise<T>) => Promise<T>

export class SqlIdempotencyStore {
  constructor(
    private readonly db: Kysely<Database>,
    // A request with a key writes it twice around its own write: alone, each was a commit and an fsync of its
    // own on SQLite, and such a create cost ~5 × one without a key.
    private readonly write: WriteStatement = (fn) => fn(db),
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

  /** Claims the key for a request about to run; false when another request holds or has used it. */
  async claim(merchantId: string, mode: Mode, key: string, requestHash: string, now: number, ttlMs: number): Promise<boolean> {
    const claimed = await this.write((db) =>
      db
        .insertInto('idempotency_keys')
        .values({ merchant_id: merchantId, mode, key, request_hash: requestHash, status_code: 0, response_body: '', created_at: now, expires_at: now + ttlMs })
        .onConflict((oc) =>
          oc
            .columns(['merchant_id', 'mode', 'key'])
            .doUpdateSet({ request_hash: requestHash, status_code: 0, response_body: '', created_at: now, expires_at: now + ttlMs })
            .where((eb) =>
              eb.or([
                eb('idempotency_keys.expires_at', '<=', now),
                eb.and([eb('idempotency_keys.status_code', '=', 0), eb('idempotency_keys.created_at', '<', now - ABANDONED_CLAIM_MS)]),
              ]),
            ),
        )
        .executeTakeFirst(),
    )
    // Counted rather than returned: RETURNING cost SQLite's writer thread several µs a statement.
    return claimed.numInsertedOrUpdatedRows === 1n
  }

  /** Stores the response of the request that holds the claim. */
  async complete(merchantId: string, mode: Mode, key: string, statusCode: number, body: string): Promise<void> {
    await this.write((db) =>
      db
        .updateTable('idempotency_keys')
        .set({ status_code: statusCode, response_body: body })
        .where('merchant_id', '=', merchantId)
        .where('mode', '=', mode)
        .where('key', '=', key)
        .where('status_code', '=', 0)
        .execute(),
    )
  }

  /** Gives the claim back after the request failed, so a retry runs afresh. */
  async release(merchantId: string, mode: Mode, key: string): Promise<void> {
    await this.write((db) =>
      db
        .deleteFrom('idempotency_keys')
        .where('merchant_id', '=', merchantId)
        .where('mode', '=', mode)
        .where('key', '=', key)
        .where('status_code', '=', 0)
        .execute(),
    )
  }

  async purgeExpired(now: number): Promise<number> {
    const r = await this.db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst()
    return Number(r.numDeletedRows)
  }
}
