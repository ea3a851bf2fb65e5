// scanpay merchant list: every merchant, oldest first, with its default webhook URL and the live channels it has
// credentials for. Reads no secret, so it needs no master key (and makes none).
import { migrate, openDatabase } from '../../storage/database.ts'
import { SqlMerchantStore, type MerchantListing } from '../../storage/merchant-store.ts'

export async function runMerchantList(databaseUrl: string, opts: { json: boolean }): Promise<number> {
  const database = await openDatabase(databaseUrl)
  try {
    await migrate(database.db)
    const merchants = await new SqlMerchantStore(database.db).list()
    if (opts.json) console.log(JSON.stringify({ merchants: merchants.map(listed) }))
    else if (merchants.length === 0) console.log('no merchants yet: scanpay merchant create --name NAME')
    else for (const m of merchants) console.log(describe(m))
    return 0
  } finally {
    await database.close()
  }
}

function listed(m: MerchantListing) {
  return {
    merchant_id: m.id,
    name: m.name,
    webhook_url: m.webhookUrl,
    created_at: new Date(m.createdAt).toISOString(),
    channels: m.channels.map((c) => ({ channel: c.channel, account_id: c.accountId })),
  }
}

function describe(m: MerchantListing): string {
  const channels = m.channels.length === 0 ? 'no live channel' : m.channels.map((c) => `${c.channel} ${c.accountId}`).join(', ')
  return `${m.id}  ${m.name}  (made ${new Date(m.createdAt).toISOString()}; webhook ${m.webhookUrl ?? 'none'}; ${channels})`
}
