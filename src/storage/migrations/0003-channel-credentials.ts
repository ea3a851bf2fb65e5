// Per-merchant credentials for the real channels (live mode): one row per merchant and channel, the whole
// credential document sealed with the master key; only the channel's public account id stays readable.
import { type Kysely, type Migration } from 'kysely'

const BIG = 'bigint' as const

export const m0003ChannelCredentials: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('channel_credentials')
      .addColumn('merchant_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('channel', 'varchar(24)', (c) => c.notNull())
      // The WeChat Pay mchid or the Alipay app_id: not secret, shown to operators and used to find a merchant.
      .addColumn('account_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('credentials_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', BIG, (c) => c.notNull())
      .addColumn('updated_at', BIG, (c) => c.notNull())
      .addPrimaryKeyConstraint('channel_credentials_pk', ['merchant_id', 'channel'])
      .execute()
    await db.schema.createIndex('channel_credentials_account_ix').on('channel_credentials').columns(['channel', 'account_id']).execute()
  },
}
