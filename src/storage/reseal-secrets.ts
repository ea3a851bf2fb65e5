// After a master-key rotation: seals every stored secret again under the current master key (SecretBox), so the
// previous key can be forgotten. Each secret is rewritten by a conditional update that only applies if the row
// still holds what was read: a secret changed meanwhile is left as its writer made it (already current).
import type { Kysely } from 'kysely'
import type { SecretBox } from '../security/secret-box.ts'
import type { Database } from './schema.ts'

export interface ResealCount {
  /** What kind of secret: `api key secrets`, `webhook secrets`, `channel credentials`. */
  what: string
  /** Sealed again under the current key. */
  resealed: number
  /** Already sealed under it. */
  current: number
}

/** Rows read and rewritten per statement, so a large table never holds a long transaction. */
const PAGE = 500

/** One sealed column: how to read a page of it after a key, and how to rewrite one row of it. */
interface SealedColumn {
  what: string
  page(after: string | null): Promise<{ key: string; sealed: string }[]>
  rewrite(key: string, from: string, to: string): Promise<boolean>
}

function columns(db: Kysely<Database>): SealedColumn[] {
  return [
    {
      what: 'api key secrets',
      page: (after) =>
        db.selectFrom('api_keys').select(['id as key', 'secret_enc as sealed'])
          .$if(after !== null, (q) => q.where('id', '>', after!)).orderBy('id').limit(PAGE).execute(),
      rewrite: async (id, from, to) =>
        Number((await db.updateTable('api_keys').set({ secret_enc: to }).where('id', '=', id).where('secret_enc', '=', from).executeTakeFirst()).numUpdatedRows) === 1,
    },
    {
      what: 'webhook secrets',
      page: (after) =>
        db.selectFrom('merchants').select(['id as key', 'webhook_secret_enc as sealed'])
          .$if(after !== null, (q) => q.where('id', '>', after!)).orderBy('id').limit(PAGE).execute(),
      rewrite: async (id, from, to) =>
        Number((await db.updateTable('merchants').set({ webhook_secret_enc: to }).where('id', '=', id).where('webhook_secret_enc', '=', from).executeTakeFirst()).numUpdatedRows) === 1,
    },
    {
      // Keyed by merchant and channel; the page key joins them with a character neither may contain.
      what: 'channel credentials',
      page: async (after) => {
        const [merchant, channel] = after === null ? ['', ''] : after.split('\n')
        const rows = await db.selectFrom('channel_credentials').select(['merchant_id', 'channel', 'credentials_enc'])
          .where((eb) => eb.or([eb('merchant_id', '>', merchant!), eb.and([eb('merchant_id', '=', merchant!), eb('channel', '>', channel!)])]))
          .orderBy('merchant_id').orderBy('channel').limit(PAGE).execute()
        return rows.map((r) => ({ key: `${r.merchant_id}\n${r.channel}`, sealed: r.credentials_enc }))
      },
      rewrite: async (key, from, to) => {
        const [merchant, channel] = key.split('\n')
        const r = await db.updateTable('channel_credentials').set({ credentials_enc: to })
          .where('merchant_id', '=', merchant!).where('channel', '=', channel!).where('credentials_enc', '=', from).executeTakeFirst()
        return Number(r.numUpdatedRows) === 1
      },
    },
  ]
}

/**
 * Seals every secret not sealed with the current master key again under it. Fails, changing nothing more, on a
 * secret no configured key opens: the key that sealed it must be among the previous keys.
 */
export async function resealSecrets(db: Kysely<Database>, box: SecretBox): Promise<ResealCount[]> {
  const counts: ResealCount[] = []
  for (const column of columns(db)) {
    const count: ResealCount = { what: column.what, resealed: 0, current: 0 }
    counts.push(count)
    for (let after: string | null = null; ; ) {
      const rows = await column.page(after)
      for (const { key, sealed } of rows) {
        if (box.sealedWithCurrentKey(sealed)) {
          count.current++
          continue
        }
        // A row changed since it was read was changed by a writer using the current key: nothing to do.
        if (await column.rewrite(key, sealed, box.encrypt(box.decrypt(sealed)))) count.resealed++
        else count.current++
      }
      if (rows.length < PAGE) break
      after = rows[rows.length - 1]!.key
    }
  }
  return counts
}
