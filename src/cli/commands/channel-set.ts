// scanpay channel set --merchant mch_… wechatpay|alipay --from-file creds.json [--check]: checks a merchant's
// live channel credentials on the spot (fields, keys, certificates; with --check a signed call to the
// gateway) and stores them sealed by the master key.
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Config } from '../../config/config.ts'
import { ChannelCredentials, parseCredentials, type RealChannel } from '../../channels/channel-credentials.ts'
import { checkCredentialsOnline } from '../../channels/check-credentials.ts'
import { wechatCertificateNotes } from '../../channels/wechat-pay/credentials.ts'
import { assertSecretsOpen } from '../../context.ts'
import { SecretBox } from '../../security/secret-box.ts'
import { SqlChannelCredentialStore } from '../../storage/channel-credential-store.ts'
import { migrate, openDatabase } from '../../storage/database.ts'
import { SqlMerchantStore } from '../../storage/merchant-store.ts'

/** The credentials document, and the fields whose named file could not be read (field → why). */
export interface CredentialsFile {
  doc: Record<string, unknown>
  unreadable: Map<string, string>
}

/**
 * Reads the credentials file. A field `x_file` (or a list `x_files`) names a file, relative to the
 * credentials file, whose text becomes field `x`: keys and certificates can stay in their own PEM files. A named
 * file that cannot be read leaves its field out and is reported with the other problems, not alone.
 */
export function readCredentialsFile(path: string): CredentialsFile {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('the credentials file must hold a JSON object')
  const base = dirname(resolve(path))
  const unreadable = new Map<string, string>()
  const read = (key: string, file: unknown): string | undefined => {
    const named = resolve(base, String(file))
    try {
      return readFileSync(named, 'utf8')
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      // Each unreadable file of a list is named, in one problem for its field.
      const field = key.replace(/_files?$/, '')
      const problem = `cannot read ${named} (${e.code === 'ENOENT' ? 'no such file' : e.code ?? e.message})`
      const before = unreadable.get(field)
      unreadable.set(field, before ? `${before}; ${problem}` : `${key}: ${problem}`)
      return undefined
    }
  }
  for (const [key, value] of Object.entries(doc)) {
    if (key.endsWith('_files') && Array.isArray(value)) {
      const texts = value.map((f) => read(key, f))
      if (texts.every((t) => t !== undefined)) doc[key.slice(0, -'_files'.length)] = texts
      delete doc[key]
    } else if (key.endsWith('_file') && typeof value === 'string') {
      const text = read(key, value)
      if (text !== undefined) doc[key.slice(0, -'_file'.length)] = text
      delete doc[key]
    }
  }
  return { doc, unreadable }
}

export async function runChannelSet(
  config: Config,
  opts: { merchant?: string; channel?: string; fromFile?: string; check: boolean },
): Promise<number> {
  if (opts.channel !== 'wechatpay' && opts.channel !== 'alipay') {
    console.error('usage: scanpay channel set --merchant mch_… wechatpay|alipay --from-file creds.json [--check]')
    return 2
  }
  const channel: RealChannel = opts.channel
  if (!opts.merchant || !/^mch_[0-9a-z]{26}$/.test(opts.merchant)) {
    console.error('--merchant must be a merchant id (mch_…)')
    return 2
  }
  if (!opts.fromFile) {
    console.error('--from-file is required: a JSON file with the credentials (see docs/channels.md)')
    return 2
  }
  let file: CredentialsFile
  try {
    file = readCredentialsFile(opts.fromFile)
  } catch (err) {
    console.error(`cannot read ${opts.fromFile}: ${(err as Error).message}`)
    return 2
  }
  const { doc, unreadable } = file
  // Checked before anything is sent to the gateway or opened: the same rules set() applies. A field whose file
  // could not be read is reported once, as that, rather than again as missing.
  const parsed = parseCredentials(channel, doc, { production: config.production })
  const problems = [
    ...unreadable.values(),
    ...(parsed.ok ? [] : parsed.errors.filter((e) => ![...unreadable.keys()].some((field) => e.startsWith(`${field} `) || e.startsWith(`${field}:`)))),
  ]
  if (problems.length > 0) {
    console.error(`the ${channel} credentials are not usable:\n${problems.map((e) => `  - ${e}`).join('\n')}`)
    return 2
  }
  const database = await openDatabase(config.databaseUrl)
  try {
    await migrate(database.db)
    if (!(await new SqlMerchantStore(database.db).byId(opts.merchant))) {
      console.error(`no merchant ${opts.merchant}`)
      return 2
    }
    const box = new SecretBox(config.masterKey, config.previousMasterKeys)
    // Sealed under a key the servers lack, the credentials would stop every server's next start.
    await assertSecretsOpen(database.db, box)
    // Asked of the gateway only once the credentials could be stored: the merchant exists, the master key fits.
    if (opts.check) {
      const online = await checkCredentialsOnline(channel, doc)
      if (!online.ok) {
        console.error(
          online.unreachable
            ? `could not check these credentials: the ${channel} gateway did not answer (${online.error}); nothing was saved`
            : `the ${channel} gateway did not accept these credentials: ${online.error}`,
        )
        // Not reached is no fault of the command line: 1, so a script can tell it from a mistake to correct.
        return online.unreachable ? 1 : 2
      }
      for (const note of online.notes) console.log(`note: ${note}`)
    }
    const store = new SqlChannelCredentialStore(database.db)
    const credentials = new ChannelCredentials(store, box)
    const result = await credentials.set(opts.merchant, channel, doc, { production: config.production })
    if (!result.ok) throw new Error(`credentials checked above were refused: ${result.errors.join('; ')}`)
    const { accountId } = result.value
    console.log(`${channel} credentials for ${opts.merchant} saved (account ${accountId}${opts.check ? ', checked against the gateway' : ''}).`)
    // Allowed (one business, two shops), but each merchant's daily bill is the account's: each lists the other's.
    const sharing = (await store.byAccount(channel, accountId)).map((c) => c.merchantId).filter((id) => id !== opts.merchant)
    if (sharing.length > 0) {
      console.log(`note: ${sharing.join(', ')} use${sharing.length === 1 ? 's' : ''} the same ${channel} account ${accountId}: each merchant's daily bill check will list the others' payments and refunds as unknown`)
    }
    if (channel === 'wechatpay') for (const note of wechatCertificateNotes(doc, Date.now())) console.log(`note: ${note}`)
    return 0
  } finally {
    await database.close()
  }
}
