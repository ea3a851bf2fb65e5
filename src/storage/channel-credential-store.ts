// Merchants' channel credentials in SQL, sealed by the master key: one row per merchant and channel.
import type { Kysely } from 'kysely'
import type { Database } from './schema.ts'

export interface StoredChannelCredentials {
  merchantId: string
  channel: string
  /** The channel's public account id (WeChat mchid, Alipay app_id). */
  accountId: string
  credentialsEnc: string
  createdAt: number
  updatedAt: number
}

export class SqlChannelCredentialStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts or replaces the merchant's credentials for the channel. */
  async put(merchantId: string, channel: string, accountId: string, credentialsEnc: string, now: number): Promise<void> {
    await this.db
      .insertInto('channel_credentials')
      .values({ merchant_id: merchantId, channel, account_id: accountId, credentials_enc: credentialsEnc, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['merchant_id', 'channel']).doUpdateSet({ account_id: accountId, credentials_enc: credentialsEnc, updated_at: now }))
      .execute()
  }

  async get(merchantId: string, channel: string): Promise<StoredChannelCredentials | null> {
    const r = await this.db.selectFrom('channel_credentials').selectAll().where('merchant_id', '=', merchantId).where('channel', '=', channel).executeTakeFirst()
    return r ? toStored(r) : null
  }

  /** Every merchant with credentials for this channel account (normally one). */
  async byAccount(channel: string, accountId: string): Promise<StoredChannelCredentials[]> {
    const rows = await this.db.selectFrom('channel_credentials').selectAll().where('channel', '=', channel).where('account_id', '=', accountId).limit(50).execute()
    return rows.map(toStored)
  }

  /** The merchants with credentials for this channel, every one (ids only). */
  async merchantsOf(channel: string): Promise<string[]> {
    const rows = await this.db.selectFrom('channel_credentials').select('merchant_id').where('channel', '=', channel).orderBy('merchant_id').execute()
    return rows.map((r) => r.merchant_id)
  }

  async remove(merchantId: string, channel: string): Promise<boolean> {
    const r = await this.db.deleteFrom('channel_credentials').where('merchant_id', '=', merchantId).where('channel', '=', channel).executeTakeFirst()
    return Number(r.numDeletedRows) === 1
  }
}

function toStored(r: { merchant_id: string; channel: string; account_id: string; credentials_enc: string; created_at: number; updated_at: number }): StoredChannelCredentials {
  return { merchantId: r.merchant_id, channel: r.channel, accountId: r.account_id, credentialsEnc: r.credentials_enc, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) }
}
