// Merchants' channel credentials: checked and sealed on the way in, decrypted and parsed (keys loaded) on
// the way out, with a short cache so each payment does not re-parse PEM.
import type { ChannelName } from '../core/order.ts'
import type { SecretBox } from '../security/secret-box.ts'
import type { SqlChannelCredentialStore } from '../storage/channel-credential-store.ts'
import { parseAlipayCredentials, type AlipayCredentials } from './alipay/credentials.ts'
import type { Parsed } from './credential-errors.ts'
import { parseWechatPayCredentials, type WechatPayCredentials } from './wechat-pay/credentials.ts'

export type RealChannel = Exclude<ChannelName, 'sandbox'>

const TTL_MS = 60_000
/** Merchants' parsed credentials kept at most; past it the oldest entry goes first. */
const CACHE_ENTRIES = 10_000

export interface CredentialRules {
  /** In production the channel's API is reached over https only: signatures prove who wrote a message, not that nobody else read or held it. */
  production: boolean
}

/** Each channel's credentials fields (wechat-pay/credentials.ts, alipay/credentials.ts). */
const CREDENTIAL_FIELDS: Record<RealChannel, readonly string[]> = {
  wechatpay: ['mchid', 'appid', 'merchant_serial_no', 'merchant_private_key', 'merchant_certificate', 'apiv3_key', 'wechatpay_public_key_id', 'wechatpay_public_key', 'wechatpay_certificates', 'api_base_url'],
  alipay: ['app_id', 'app_private_key', 'alipay_public_key', 'gateway_url', 'seller_id'],
}

/**
 * Fields the channel does not have, each a problem: a misspelt optional one (seler_id, api_base_uri) would
 * otherwise be dropped in silence, and with it the check or the gateway it sets. Named with the field meant, where
 * one is a letter or two away.
 */
function unknownFields(channel: RealChannel, doc: unknown): string[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return []
  const known = CREDENTIAL_FIELDS[channel]
  return Object.keys(doc)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const meant = known.find((k) => editDistance(k, key.replace(/_files?$/, '')) <= 2)
      return `unknown field ${key}${meant ? ` (did you mean ${meant}${key.endsWith('_files') ? '_files' : key.endsWith('_file') ? '_file' : ''}?)` : ''}`
    })
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    row = next
  }
  return row[b.length]!
}

/**
 * Checks a credentials document as it would be stored; the channel account it names, or every problem found. Only
 * when it is set: a document stored before a field was retired still loads.
 */
export function parseCredentials(channel: RealChannel, doc: unknown, rules: CredentialRules = { production: false }): Parsed<{ accountId: string }> {
  const parsed =
    channel === 'wechatpay'
      ? mapParsed(parseWechatPayCredentials(doc), (c) => ({ accountId: c.mchid, endpoint: c.baseUrl, field: 'api_base_url' }))
      : mapParsed(parseAlipayCredentials(doc), (c) => ({ accountId: c.appId, endpoint: c.gatewayUrl, field: 'gateway_url' }))
  const unknown = unknownFields(channel, doc)
  if (!parsed.ok || unknown.length > 0) return { ok: false, errors: [...(parsed.ok ? [] : parsed.errors), ...unknown] }
  const { accountId, endpoint, field } = parsed.value
  if (rules.production && !endpoint.toLowerCase().startsWith('https://')) return { ok: false, errors: [`${field} must be an https URL in production`] }
  return { ok: true, value: { accountId } }
}

function mapParsed<T, U>(p: Parsed<T>, fn: (value: T) => U): Parsed<U> {
  return p.ok ? { ok: true, value: fn(p.value) } : p
}

export class ChannelCredentials {
  readonly #cache = new Map<string, { value: unknown; until: number }>()
  /** WeChat key serial (upper case) → the merchants trusting it, rebuilt at most once a TTL, by one caller at a time. */
  #bySerial: { index: Promise<Map<string, string[]>>; until: number } | null = null

  constructor(
    private readonly store: SqlChannelCredentialStore,
    private readonly box: SecretBox,
    private readonly now: () => number = Date.now,
  ) {}

  /** Checks and stores a credentials document; returns the problems instead when there are any. */
  async set(merchantId: string, channel: RealChannel, doc: unknown, rules?: CredentialRules): Promise<Parsed<{ accountId: string }>> {
    const parsed = parseCredentials(channel, doc, rules)
    if (!parsed.ok) return parsed
    await this.store.put(merchantId, channel, parsed.value.accountId, this.box.encrypt(JSON.stringify(doc)), this.now())
    this.#cache.delete(`${channel}:${merchantId}`)
    if (channel === 'wechatpay') this.#bySerial = null
    return parsed
  }

  async #load<T>(channel: RealChannel, merchantId: string, parse: (doc: unknown) => Parsed<T>): Promise<T | null> {
    const key = `${channel}:${merchantId}`
    const hit = this.#cache.get(key)
    if (hit && hit.until > this.now()) return hit.value as T | null
    const row = await this.store.get(merchantId, channel)
    let value: T | null = null
    if (row) {
      const parsed = parse(JSON.parse(this.box.decrypt(row.credentialsEnc)))
      // Stored documents were checked when set; one that no longer parses is treated as absent.
      value = parsed.ok ? parsed.value : null
    }
    // Requests can name any merchant (a notify URL's id), so the cache is bounded, oldest out first: a flood of
    // made-up ids pushes entries out one at a time, never the whole cache at once.
    this.#cache.delete(key)
    if (this.#cache.size >= CACHE_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!)
    this.#cache.set(key, { value, until: this.now() + TTL_MS })
    return value
  }

  wechatpay(merchantId: string): Promise<WechatPayCredentials | null> {
    return this.#load('wechatpay', merchantId, parseWechatPayCredentials)
  }

  alipay(merchantId: string): Promise<AlipayCredentials | null> {
    return this.#load('alipay', merchantId, parseAlipayCredentials)
  }

  async alipayByAppId(appId: string): Promise<{ merchantId: string; credentials: AlipayCredentials }[]> {
    const rows = await this.store.byAccount('alipay', appId)
    const out = []
    for (const r of rows) {
      const credentials = await this.alipay(r.merchantId)
      if (credentials) out.push({ merchantId: r.merchantId, credentials })
    }
    return out
  }

  /**
   * Merchants that trust the WeChat key with this serial (for notifications without a merchant in the URL). Such
   * a request needs no key to send, so it reads an index of every merchant's serials, rebuilt at most once a
   * minute whatever the rate, not every merchant's credentials each time. Only stored serials are indexed: a platform
   * certificate the WeChat channel downloads after a rotation is not, so such notifications need the merchant's URL.
   */
  async wechatpayBySerial(serial: string): Promise<{ merchantId: string; credentials: WechatPayCredentials }[]> {
    const now = this.now()
    if (!this.#bySerial || this.#bySerial.until <= now) {
      const index = this.#serialIndex()
      this.#bySerial = { index, until: now + TTL_MS }
      index.catch(() => (this.#bySerial = null))
    }
    const out = []
    for (const merchantId of (await this.#bySerial.index).get(serial.toUpperCase()) ?? []) {
      const credentials = await this.wechatpay(merchantId)
      if (credentials) out.push({ merchantId, credentials })
    }
    return out
  }

  async #serialIndex(): Promise<Map<string, string[]>> {
    const index = new Map<string, string[]>()
    for (const merchantId of await this.store.merchantsOf('wechatpay')) {
      const credentials = await this.wechatpay(merchantId)
      for (const serial of credentials?.platformKeys.keys() ?? []) {
        const key = serial.toUpperCase()
        index.set(key, [...(index.get(key) ?? []), merchantId])
      }
    }
    return index
  }
}
