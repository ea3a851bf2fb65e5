// Merchants and their API keys. Secrets are stored sealed by the master key, and hashed for Bearer lookups.
import type { Kysely } from 'kysely'
import type { Mode } from '../core/order.ts'
import type { Database } from './schema.ts'

export interface MerchantRecord {
  id: string
  name: string
  webhookUrl: string | null
  webhookSecretEnc: string
  createdAt: number
  /** The webhook secret a roll replaced, still signing deliveries until `until`. */
  retiringWebhookSecret?: { sealed: string; until: number } | null
}

export interface ApiKeyRecord {
  id: string
  merchantId: string
  mode: Mode
  secretHash: string
  secretEnc: string
  revokedAt: number | null
}

/** A key as an operator sees it: no secret. */
export interface ApiKeyListing {
  id: string
  mode: Mode
  createdAt: number
  revokedAt: number | null
}

export interface MerchantListing {
  id: string
  name: string
  webhookUrl: string | null
  createdAt: number
  /** The live channels with credentials set, and the account at each (WeChat Pay's mchid, Alipay's app id). */
  channels: { channel: string; accountId: string }[]
}

export class SqlMerchantStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Changes the name and/or the default webhook URL (null clears it); false when there is no such merchant. */
  async update(id: string, change: { name?: string; webhookUrl?: string | null }): Promise<boolean> {
    const set: { name?: string; webhook_url?: string | null } = {}
    if (change.name !== undefined) set.name = change.name
    if (change.webhookUrl !== undefined) set.webhook_url = change.webhookUrl
    if (Object.keys(set).length === 0) return (await this.byId(id)) !== null
    const r = await this.db.updateTable('merchants').set(set).where('id', '=', id).executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  /**
   * Replaces the webhook secret. With `retiringUntil`, the secret replaced keeps signing deliveries beside the new
   * one until then (read and moved by the same statement); without, it is dropped, with any secret an earlier roll
   * left retiring. Unless `force`, only while no earlier roll's secret still signs (at `now`): a second roll would
   * drop the secret merchants verify with, it being the one an overlap is for. False when it did not apply (no
   * such merchant, or a roll in progress).
   */
  async rollWebhookSecret(id: string, newSecretEnc: string, retiringUntil: number | null, now: number, force = false): Promise<boolean> {
    let q = this.db
      .updateTable('merchants')
      .set((eb) => ({
        retiring_webhook_secret_enc: retiringUntil === null ? null : eb.ref('webhook_secret_enc'),
        retiring_webhook_secret_until: retiringUntil,
        webhook_secret_enc: newSecretEnc,
      }))
      .where('id', '=', id)
    if (!force) q = q.where((eb) => eb.or([eb('retiring_webhook_secret_until', 'is', null), eb('retiring_webhook_secret_until', '<=', now)]))
    const r = await q.executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  /** The merchant's keys, oldest first. */
  async keysOf(merchantId: string): Promise<ApiKeyListing[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .select(['id', 'mode', 'created_at', 'revoked_at'])
      .where('merchant_id', '=', merchantId)
      .orderBy('created_at')
      .orderBy('id')
      .execute()
    return rows.map((r) => ({ id: r.id, mode: r.mode, createdAt: Number(r.created_at), revokedAt: r.revoked_at === null ? null : Number(r.revoked_at) }))
  }

  /**
   * Adds a key and, in the same transaction, ends the mode's other keys at `oldKeysEndAt` (a key already set to
   * end sooner keeps its end). Returns the keys whose end was set.
   */
  async rollKey(key: ApiKeyRecord, createdAt: number, oldKeysEndAt: number): Promise<string[]> {
    return this.db.transaction().execute(async (trx) => {
      // Rolls of one merchant take turns: a write to its row holds a concurrent roll until this one commits
      // (PostgreSQL, READ COMMITTED), whose update then sees, and ends, the key this one adds. SQLite's writer
      // serializes them anyway.
      await trx.updateTable('merchants').set((eb) => ({ name: eb.ref('name') })).where('id', '=', key.merchantId).execute()
      const ending = await trx
        .updateTable('api_keys')
        // Never before a key was made (a concurrent roll's key, made after this one's clock was read).
        .set((eb) => ({ revoked_at: eb.case().when('created_at', '>', oldKeysEndAt).then(eb.ref('created_at')).else(oldKeysEndAt).end() }))
        .where('merchant_id', '=', key.merchantId)
        .where('mode', '=', key.mode)
        .where((eb) => eb.or([eb('revoked_at', 'is', null), eb('revoked_at', '>', oldKeysEndAt)]))
        .returning('id')
        .execute()
      await trx
        .insertInto('api_keys')
        .values({ id: key.id, merchant_id: key.merchantId, mode: key.mode, secret_hash: key.secretHash, secret_enc: key.secretEnc, created_at: createdAt, revoked_at: null })
        .execute()
      return ending.map((r) => r.id)
    })
  }

  async create(merchant: MerchantRecord, keys: ApiKeyRecord[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('merchants')
        .values({
          id: merchant.id,
          name: merchant.name,
          webhook_url: merchant.webhookUrl,
          webhook_secret_enc: merchant.webhookSecretEnc,
          created_at: merchant.createdAt,
        })
        .execute()
      for (const k of keys) {
        await trx
          .insertInto('api_keys')
          .values({
            id: k.id,
            merchant_id: k.merchantId,
            mode: k.mode,
            secret_hash: k.secretHash,
            secret_enc: k.secretEnc,
            created_at: merchant.createdAt,
            revoked_at: null,
          })
          .execute()
      }
    })
  }

  async byId(id: string): Promise<MerchantRecord | null> {
    const r = await this.db.selectFrom('merchants').selectAll().where('id', '=', id).executeTakeFirst()
    if (!r) return null
    const retiring = r.retiring_webhook_secret_enc !== null && r.retiring_webhook_secret_until !== null
      ? { sealed: r.retiring_webhook_secret_enc, until: Number(r.retiring_webhook_secret_until) }
      : null
    return { id: r.id, name: r.name, webhookUrl: r.webhook_url, webhookSecretEnc: r.webhook_secret_enc, createdAt: Number(r.created_at), retiringWebhookSecret: retiring }
  }

  /** Every merchant, oldest first, with the live channels it has credentials for (operator listing). */
  async list(): Promise<MerchantListing[]> {
    const [merchants, channels] = await Promise.all([
      this.db.selectFrom('merchants').select(['id', 'name', 'webhook_url', 'created_at']).orderBy('created_at').orderBy('id').execute(),
      this.db.selectFrom('channel_credentials').select(['merchant_id', 'channel', 'account_id']).orderBy('channel').execute(),
    ])
    const byMerchant = new Map<string, { channel: string; accountId: string }[]>()
    for (const c of channels) byMerchant.set(c.merchant_id, [...(byMerchant.get(c.merchant_id) ?? []), { channel: c.channel, accountId: c.account_id }])
    return merchants.map((m) => ({ id: m.id, name: m.name, webhookUrl: m.webhook_url, createdAt: Number(m.created_at), channels: byMerchant.get(m.id) ?? [] }))
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('merchants').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    return Number(r.n)
  }

  async keyByHash(secretHash: string): Promise<ApiKeyRecord | null> {
    const r = await this.db.selectFrom('api_keys').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst()
    return r ? toKey(r) : null
  }

  async keyById(id: string): Promise<ApiKeyRecord | null> {
    const r = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst()
    return r ? toKey(r) : null
  }
}

function toKey(r: { id: string; merchant_id: string; mode: Mode; secret_hash: string; secret_enc: string; revoked_at: number | null }): ApiKeyRecord {
  return {
    id: r.id,
    merchantId: r.merchant_id,
    mode: r.mode,
    secretHash: r.secret_hash,
    secretEnc: r.secret_enc,
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  }
}
