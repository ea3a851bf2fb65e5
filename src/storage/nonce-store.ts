// The replay guard for signed requests, shared by every node through the database.
import type { CompiledQuery, Kysely, QueryResult } from 'kysely'
import { CompiledOnce } from './compiled-once.ts'
import type { Database } from './schema.ts'

/** Runs one compiled statement, atomic by itself (Storage.writeCompiled: on SQLite it shares a group commit). */
export type WriteCompiled = <R>(query: CompiledQuery<R>) => Promise<QueryResult<R>>

/** Every signed request runs this statement: compiled once (compiled-once.ts). */
const claimNonce = new CompiledOnce()

export class SqlNonceStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly write: WriteCompiled = (query) => db.executeQuery(query),
  ) {}

  /** Records the nonce; false when the key used it before and it has not yet expired. */
  async claim(keyId: string, nonce: string, now: number, ttlMs: number): Promise<boolean> {
    // The claim must be durable before the request it guards is answered; a group commit keeps that cheap.
    const r = await this.write(this.claimStatement(keyId, nonce, now, ttlMs))
    // One row changed: claimed, new or expired; none: used before. Counted rather than returned, since SQLite's
    // RETURNING cost the writer 1.5 µs a claim, a third of the claim.
    return (r.numAffectedRows ?? 0n) > 0n
  }

  /** The claim as a statement that changes one row when it claims, none when the nonce is taken (a WriteGuard's). */
  claimStatement(keyId: string, nonce: string, now: number, ttlMs: number): CompiledQuery {
    const until = now + ttlMs
    return claimNonce.compile(this.db, [keyId, nonce, until, until, now], () =>
      this.db
        .insertInto('nonces')
        .values({ key_id: keyId, nonce, expires_at: until })
        .onConflict((oc) =>
          // An expired row may be reused: the window it guarded has closed.
          oc.columns(['key_id', 'nonce']).doUpdateSet({ expires_at: until }).where('nonces.expires_at', '<=', now),
        ),
    )
  }

  async purgeExpired(now: number): Promise<number> {
    const r = await this.db.deleteFrom('nonces').where('expires_at', '<=', now).executeTakeFirst()
    return Number(r.numDeletedRows)
  }
}
