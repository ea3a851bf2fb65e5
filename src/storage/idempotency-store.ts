// Stored first responses for Idempotency-Key replays (24 h).
import type { Kysely } from 'kysely'
import type { Mode } from '../core/order.ts'
import type { Database } from './schema.ts'

export interface StoredResponse {
  requestHash: string
  statusCode: number
  body: string
}

export class SqlIdempotencyStore {
  constructor(private readonly db: Kysely<Database>) {}

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

  /** Saves the first response; a concurrent twin that saved first wins, and its response is returned. */
  async save(merchantId: string, mode: Mode, key: string, res: StoredResponse, now: number, ttlMs: number): Promise<StoredResponse> {
    await this.db
      .insertInto('idempotency_keys')
      .values({
        merchant_id: merchantId,
        mode,
        key,
        request_hash: res.requestHash,
        status_code: res.statusCode,
        response_body: res.body,
        created_at: now,
        expires_at: now + ttlMs,
      })
      .onConflict((oc) =>
        oc
          .columns(['merchant_id', 'mode', 'key'])
          .doUpdateSet({
            request_hash: res.requestHash,
            status_code: res.statusCode,
            response_body: res.body,
            created_at: now,
            expires_at: now + ttlMs,
          })
          .where('idempotency_keys.expires_at', '<=', now),
      )
      .execute()
    return (await this.find(merchantId, mode, key, now)) ?? res
  }

  async purgeExpired(now: number): Promise<number> {
    const r = await this.db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst()
    return Number(r.numDeletedRows)
  }
}
