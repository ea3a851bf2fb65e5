// Stored secrets and the master keys that sealed them (SecretBox). At start, secretsNoKeyOpens says whether a key
// that sealed some of them is missing from the configuration. After a rotation, resealSecrets seals every one
// again under the current master key, so the previous key can be forgotten: each by a conditional update that
// applies only if the row still holds what was read (a secret changed meanwhile was sealed by its writer with the
// current key already).
import { sql, type Kysely } from 'kysely'
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

/** Every column that holds a sealed secret. */
const SEALED = [
  { what: 'api key secrets', table: 'api_keys', column: 'secret_enc' },
  { what: 'webhook secrets', table: 'merchants', column: 'webhook_secret_enc' },
  { what: 'retiring webhook secrets', table: 'merchants', column: 'retiring_webhook_secret_enc' },
  { what: 'channel credentials', table: 'channel_credentials', column: 'credentials_enc' },
] as const
type Sealed = (typeof SEALED)[number]

/** Rows read per statement (each is rewritten alone), so a large table never holds a long transaction. */
const PAGE = 500

/** One sealed column: how to read a page of it after a key, and how to rewrite one row of it. */
interface SealedColumn {
  what: string
  page(after: string | null, size: number): Promise<{ key: string; sealed: string }[]>
  rewrite(key: string, from: string, to: string): Promise<boolean>
}

/** A sealed column of a table keyed by `id`. */
function keyedById(db: Kysely<Database>, { what, table, column }: Extract<Sealed, { table: 'api_keys' | 'merchants' }>): SealedColumn {
  return {
    what,
    page: async (after, size) => {
      // A column that may be empty (a retiring secret) has nothing to reseal where it is.
      const from = after === null ? sql`` : sql`AND id > ${after}`
      const r = await sql<{ key: string; sealed: string }>`SELECT id AS "key", ${sql.ref(column)} AS sealed FROM ${sql.table(table)} WHERE ${sql.ref(column)} IS NOT NULL ${from} ORDER BY id LIMIT ${size}`.execute(db)
      return r.rows
    },
    rewrite: async (id, from, to) => {
      const r = await sql`UPDATE ${sql.table(table)} SET ${sql.ref(column)} = ${to} WHERE id = ${id} AND ${sql.ref(column)} = ${from}`.execute(db)
      return Number(r.numAffectedRows) === 1
    },
  }
}

function columns(db: Kysely<Database>): SealedColumn[] {
  return [
    keyedById(db, SEALED[0]),
    keyedById(db, SEALED[1]),
    keyedById(db, SEALED[2]),
    {
      // Keyed by merchant and channel; the page key joins them with a character neither may contain.
      what: SEALED[3].what,
      page: async (after, size) => {
        const [merchant, channel] = after === null ? ['', ''] : after.split('\n')
        const rows = await db.selectFrom('channel_credentials').select(['merchant_id', 'channel', 'credentials_enc'])
          .where((eb) => eb.or([eb('merchant_id', '>', merchant!), eb.and([eb('merchant_id', '=', merchant!), eb('channel', '>', channel!)])]))
          .orderBy('merchant_id').orderBy('channel').limit(size).execute()
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
export async function resealSecrets(db: Kysely<Database>, box: SecretBox, pageSize = PAGE, now = Date.now()): Promise<ResealCount[]> {
  // A retiring webhook secret past its time signs nothing more: dropped, not sealed again (nor kept needing a key).
  await db.updateTable('merchants').set({ retiring_webhook_secret_enc: null, retiring_webhook_secret_until: null }).where('retiring_webhook_secret_until', '<=', now).execute()
  const counts: ResealCount[] = []
  for (const column of columns(db)) {
    const count: ResealCount = { what: column.what, resealed: 0, current: 0 }
    counts.push(count)
    for (let after: string | null = null; ; ) {
      const rows = await column.page(after, pageSize)
      for (const { key, sealed } of rows) {
        if (box.sealedWithCurrentKey(sealed)) {
          count.current++
          continue
        }
        // A row changed since it was read was changed by a writer using the current key: nothing to do.
        let secret: string
        try {
          secret = box.decrypt(sealed)
        } catch (err) {
          // Which one, so a person can look at it: the kind and the row, never the secret.
          throw new Error(`${column.what}, row ${key.replace('\n', ' ')}: ${(err as Error).message}`)
        }
        if (await column.rewrite(key, sealed, box.encrypt(secret))) count.resealed++
        else count.current++
      }
      if (rows.length < pageSize) break
      after = rows[rows.length - 1]!.key
    }
  }
  return counts
}

/**
 * What no configured master key opens, as sentences (none: every key that sealed something is configured).
 * Secrets that name their key are checked by id for every row; the first format's, which name none, by opening
 * a few (they were sealed before any rotation, by one key).
 */
export async function secretsNoKeyOpens(db: Kysely<Database>, box: SecretBox): Promise<string[]> {
  const problems: string[] = []
  for (const { what, table, column } of SEALED) {
    const named = await sql<{ key_id: string; n: number | string }>`
      SELECT substr(${sql.ref(column)}, 4, 11) AS key_id, count(*) AS n FROM ${sql.table(table)}
      WHERE ${sql.ref(column)} LIKE 'v2.%' GROUP BY substr(${sql.ref(column)}, 4, 11)`.execute(db)
    for (const { key_id, n } of named.rows) {
      if (!box.hasKey(key_id)) problems.push(`${n} ${what} sealed with master key ${key_id}`)
    }
    const unnamed = await sql<{ sealed: string }>`
      SELECT ${sql.ref(column)} AS sealed FROM ${sql.table(table)} WHERE ${sql.ref(column)} LIKE 'v1.%' LIMIT 3`.execute(db)
    for (const { sealed } of unnamed.rows) {
      try {
        box.decrypt(sealed)
      } catch {
        problems.push(`${what} sealed before key ids were recorded, by a master key not configured`)
        break
      }
    }
  }
  return problems
}
