// scanpay merchant show|update|roll-key|roll-webhook-secret: an operator's way to look at a merchant, change its
// name or default webhook URL, and replace an API key or the webhook secret (leaked, or on a schedule). Secrets are shown once, when made; a running
// server notices a change within a minute (its caches' life).
import type { Config } from '../../config/config.ts'
import { assertSecretsOpen } from '../../context.ts'
import type { Mode } from '../../core/order.ts'
import { newApiSecret, newKeyId, newWebhookSecret, sha256Hex } from '../../security/credentials.ts'
import { SecretBox } from '../../security/secret-box.ts'
import { migrate, openDatabase } from '../../storage/database.ts'
import { SqlMerchantStore, type ApiKeyListing } from '../../storage/merchant-store.ts'
import { merchantNameProblem, webhookUrlProblem } from './merchant-create.ts'

export const MERCHANT_MANAGE_USAGE = `usage:
  scanpay merchant show --merchant mch_… [--json]
  scanpay merchant update --merchant mch_… [--name NAME] [--webhook-url URL | --clear-webhook-url]
  scanpay merchant roll-key --merchant mch_… test|live [--expire-old-in SECONDS] [--json]
    (a new key for the mode; the mode's old keys end now, or after SECONDS, at most 7 days; running servers
    refuse an ended key within a minute, as they cache keys)
  scanpay merchant roll-webhook-secret --merchant mch_… [--expire-old-in SECONDS] [--force] [--json]
    (a new whsec_; deliveries are signed with the old one too for SECONDS, at most 7 days, else no more;
    refused while an earlier roll's old secret still signs, unless --force)`

/** Long enough to deploy a new secret everywhere; a key kept longer is a second key, not a rotation. */
const MAX_OVERLAP_S = 7 * 24 * 3600

export interface MerchantManageOptions {
  action: 'show' | 'update' | 'roll-key' | 'roll-webhook-secret'
  merchant?: string
  name?: string
  webhookUrl?: string
  clearWebhookUrl: boolean
  mode?: string
  expireOldIn?: string
  /** roll-webhook-secret: even while an earlier roll's old secret still signs (it is then dropped). */
  force: boolean
  json: boolean
}

type Print = (line: string, error?: boolean) => void

/** The caller has checked that the database exists (main.ts, before the configuration could make a master key). */
export async function runMerchantManage(config: Config, opts: MerchantManageOptions, print: Print = defaultPrint, now = Date.now()): Promise<number> {
  const problem = usageProblem(opts, config.production)
  if (problem) {
    print(`${problem}\n\n${MERCHANT_MANAGE_USAGE}`, true)
    return 2
  }
  const database = await openDatabase(config.databaseUrl)
  try {
    await migrate(database.db)
    const store = new SqlMerchantStore(database.db)
    const merchant = await store.byId(opts.merchant!)
    if (!merchant) {
      print(`no merchant ${opts.merchant} in ${database.description}`, true)
      return 2
    }
    if (opts.action === 'update') {
      const webhookUrl = opts.clearWebhookUrl ? null : opts.webhookUrl
      await store.update(merchant.id, { name: opts.name?.trim(), webhookUrl })
    }
    if (opts.action === 'roll-webhook-secret') {
      const box = new SecretBox(config.masterKey, config.previousMasterKeys)
      await assertSecretsOpen(database.db, box)
      const secret = newWebhookSecret()
      const overlapS = Number(opts.expireOldIn ?? 0)
      const until = overlapS > 0 ? now + overlapS * 1000 : null
      if (!(await store.rollWebhookSecret(merchant.id, box.encrypt(secret), until, now, opts.force))) {
        const signs = (await store.byId(merchant.id))?.retiringWebhookSecret?.until
        print(`a roll is in progress: the secret before it signs deliveries until ${signs ? iso(signs) : 'shortly'}, and merchants may still verify with it only. Roll again after that, or with --force if that secret must stop now (a leak).`, true)
        return 1
      }
      if (opts.json) {
        print(JSON.stringify({ merchant_id: merchant.id, webhook_secret: secret, old_secret_signs_until: until === null ? null : iso(until) }))
      } else {
        print(`New webhook secret for ${merchant.id}: ${secret}`)
        print('It is shown only this once: store it now.')
        print(until === null
          ? 'The old secret signs no more deliveries (a running server stops within a minute).'
          : `Until ${iso(until)} each delivery carries two signatures, with the new secret and the old: deploy the new one before then.`)
      }
      return 0
    }
    if (opts.action === 'roll-key') {
      const box = new SecretBox(config.masterKey, config.previousMasterKeys)
      await assertSecretsOpen(database.db, box)
      const mode = opts.mode as Mode
      const key = { id: newKeyId(mode), secret: newApiSecret(mode) }
      const endAt = now + Number(opts.expireOldIn ?? 0) * 1000
      const ended = await store.rollKey(
        { id: key.id, merchantId: merchant.id, mode, secretHash: sha256Hex(key.secret), secretEnc: box.encrypt(key.secret), revokedAt: null },
        now,
        endAt,
      )
      if (opts.json) {
        print(JSON.stringify({ merchant_id: merchant.id, mode, key_id: key.id, secret: key.secret, old_keys: ended, old_keys_end_at: ended.length === 0 ? null : iso(endAt) }))
      } else {
        print(`New ${mode} key for ${merchant.id}:`)
        print(`  key id:  ${key.id}`)
        print(`  secret:  ${key.secret}`)
        print('The secret is shown only this once: store it now.')
        const when = endAt <= now ? 'now (a running server refuses them within a minute)' : `at ${new Date(endAt).toISOString()}`
        print(ended.length === 0 ? `No other ${mode} key was in force.` : `${ended.join(', ')} stop${ended.length === 1 ? 's' : ''} working ${when}.`)
      }
      return 0
    }
    const after = (await store.byId(merchant.id))!
    const keys = await store.keysOf(merchant.id)
    const retiring = after.retiringWebhookSecret
    const retiringUntil = retiring && retiring.until > now ? retiring.until : null
    if (opts.json) {
      print(JSON.stringify({
        merchant_id: after.id, name: after.name, webhook_url: after.webhookUrl, created_at: iso(after.createdAt),
        old_webhook_secret_signs_until: retiringUntil === null ? null : iso(retiringUntil), keys: keys.map((k) => keyJson(k, now)),
      }))
    } else {
      print(`Merchant ${after.id} (${after.name}), made ${iso(after.createdAt)}`)
      print(`  webhook URL: ${after.webhookUrl ?? '(none: each order needs its notify_url)'}`)
      if (retiringUntil !== null) print(`  webhook secret: rolled; the old one also signs deliveries until ${iso(retiringUntil)}`)
      for (const k of keys) print(`  ${k.mode} key ${k.id}, made ${iso(k.createdAt)}: ${keyState(k, now)}`)
      if (opts.action === 'update') print('Updated; a running server uses it within a minute.')
    }
    return 0
  } finally {
    await database.close()
  }
}

function usageProblem(opts: MerchantManageOptions, production: boolean): string | null {
  if (!opts.merchant) return '--merchant is required'
  if (opts.action !== 'roll-key' && opts.mode !== undefined) return `${opts.action} takes no mode`
  const rolls = opts.action === 'roll-key' || opts.action === 'roll-webhook-secret'
  if (!rolls && opts.expireOldIn !== undefined) return `${opts.action} takes no --expire-old-in`
  if (opts.action !== 'roll-webhook-secret' && opts.force) return '--force is for roll-webhook-secret'
  if (opts.action !== 'update' && (opts.name !== undefined || opts.webhookUrl !== undefined || opts.clearWebhookUrl)) {
    return '--name, --webhook-url and --clear-webhook-url are for merchant update'
  }
  if (opts.action === 'update') {
    if (opts.name === undefined && opts.webhookUrl === undefined && !opts.clearWebhookUrl) return 'nothing to update: give --name, --webhook-url or --clear-webhook-url'
    if (opts.webhookUrl !== undefined && opts.clearWebhookUrl) return 'give --webhook-url or --clear-webhook-url, not both'
    if (opts.name !== undefined) {
      const problem = merchantNameProblem(opts.name)
      if (problem) return problem
    }
    if (opts.webhookUrl !== undefined) return webhookUrlProblem(opts.webhookUrl, production)
  }
  if (opts.action === 'roll-key' && opts.mode !== 'test' && opts.mode !== 'live') return 'roll-key needs the mode: test or live'
  if (rolls && opts.expireOldIn !== undefined) {
    const s = Number(opts.expireOldIn)
    if (!/^\d+$/.test(opts.expireOldIn) || s > MAX_OVERLAP_S) return `--expire-old-in must be whole seconds from 0 to ${MAX_OVERLAP_S} (7 days)`
  }
  return null
}

function keyState(k: ApiKeyListing, now: number): string {
  if (k.revokedAt === null) return 'in force'
  return k.revokedAt > now ? `in force until ${iso(k.revokedAt)}` : `ended ${iso(k.revokedAt)}`
}

function keyJson(k: ApiKeyListing, now: number) {
  return { key_id: k.id, mode: k.mode, created_at: iso(k.createdAt), ends_at: k.revokedAt === null ? null : iso(k.revokedAt), in_force: k.revokedAt === null || k.revokedAt > now }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function defaultPrint(line: string, error = false): void {
  if (error) console.error(line)
  else console.log(line)
}
