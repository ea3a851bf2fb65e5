// The replay guard for signed requests, shared by every node through the database.
import type { Kysely } from 'kysely'
import type { Database } from './schema.ts'

export class SqlNonceStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records the nonce; false when the key used it before and it has not yet expired. */
  async claim(keyId: string, nonce: string, now: number, ttlMs: number): Promise<boolean> {
    const inserted = await this.db
      .insertInto('nonces')
      .values({ key_id: keyId, nonce, expires_at: now + ttlMs })
      .onConflict((oc) =>
        // An expired row may be reused: the window it guarded has closed.
        oc.columns(['key_id', 'nonce']).doUpdateSet({ expires_at: now + ttlMs }).where('nonces.expires_at', '<=', now),
      )
      .returning('nonce')
      .executeTakeFirst()
    return inserted !== undefined
  }

  async purgeExpired(now: number): Promise<number> {
    const r = await this.db.deleteFrom('nonces').where('expires_at', '<=', now).executeTakeFirst()
    return Number(r.numDeletedRows)
  }
}
