// scanpay merchant create: makes a merchant and prints its credentials, once.
import type { Config } from '../../config/config.ts'
import { assertSecretsOpen } from '../../context.ts'
import { createMerchant } from '../../merchants/create-merchant.ts'
import { SecretBox } from '../../security/secret-box.ts'
import { databaseExists, migrate, openDatabase } from '../../storage/database.ts'
import { SqlMerchantStore } from '../../storage/merchant-store.ts'
import { isObviouslyInternal } from '../../webhooks/endpoint-guard.ts'
import { SUBJECT_PATTERN } from '../../../sdk/src/signing.ts'

export async function runMerchantCreate(
  config: Config,
  opts: { name?: string; webhookUrl?: string; json: boolean },
): Promise<number> {
  const nameProblem = merchantNameProblem(opts.name)
  if (nameProblem) {
    console.error(nameProblem)
    return 2
  }
  const name = opts.name!.trim()
  const webhookUrl = opts.webhookUrl ?? null
  const problem = webhookUrl === null ? null : webhookUrlProblem(webhookUrl, config.production)
  if (problem) {
    console.error(problem)
    return 2
  }
  const isNew = !databaseExists(config.databaseUrl)
  const database = await openDatabase(config.databaseUrl)
  try {
    // A merchant made in a database no server reads gets keys that server refuses: say where it went.
    if (isNew) console.error(`created a new database: ${database.description}`)
    await migrate(database.db)
    const box = new SecretBox(config.masterKey, config.previousMasterKeys)
    await assertSecretsOpen(database.db, box)
    const created = await createMerchant(new SqlMerchantStore(database.db), box, { name, webhookUrl })
    if (opts.json) {
      const { merchant_id, test, live, webhook_secret } = created
      process.stdout.write(JSON.stringify({ merchant_id, test, live, webhook_secret }) + '\n')
    } else {
      console.log(printable(created))
    }
    return 0
  } finally {
    await database.close()
  }
}

const NAME = new RegExp(SUBJECT_PATTERN, 'u')

/**
 * Why a --name cannot be a merchant's, or null when it can. Customers read it on the checkout page, so it follows
 * an order subject's rule: 1-128 characters, on one line, saying something, no control or bidirectional override.
 */
export function merchantNameProblem(raw: string | undefined): string | null {
  const name = raw?.trim()
  if (!name) return '--name is required (1-128 characters)'
  const length = Array.from(name).length
  if (length > 128) return `--name must be 1-128 characters, got ${length}`
  if (!NAME.test(name)) return '--name must say something on one line, without control or bidirectional override characters (customers read it on the checkout page)'
  return null
}

/** Why a --webhook-url cannot be a merchant's default, or null when it can. */
export function webhookUrlProblem(webhookUrl: string, production: boolean): string | null {
  // As the API's notify_url: a space or a control character the URL parser would drop is not stored as given.
  if (/[\s\u0000-\u001f\u007f]/.test(webhookUrl)) return '--webhook-url must be an http(s) URL without spaces or control characters'
  let url: URL
  try {
    url = new URL(webhookUrl)
  } catch {
    return '--webhook-url must be an http(s) URL'
  }
  if (!/^https?:$/.test(url.protocol) || webhookUrl.length > 1024) return '--webhook-url must be an http(s) URL of at most 1024 characters'
  if (production && isObviouslyInternal(url)) return '--webhook-url must not point at a loopback, private or link-local address in production'
  return null
}

export function printable(c: Awaited<ReturnType<typeof createMerchant>>): string {
  return [
    `Merchant ${c.merchant_id} (${c.name})`,
    `  test key id:     ${c.test.key_id}`,
    `  test secret:     ${c.test.secret}`,
    `  live key id:     ${c.live.key_id}`,
    `  live secret:     ${c.live.secret}`,
    `  webhook secret:  ${c.webhook_secret}`,
    `  webhook URL:     ${c.webhook_url ?? '(none: set notify_url on each order)'}`,
    'The secrets are shown only this once: store them now.',
  ].join('\n')
}
