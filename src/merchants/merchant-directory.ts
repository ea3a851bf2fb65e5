// Cached, decrypted views of merchants and keys for the hot path. Entries expire after a minute, to bound
// memory and to notice what an operator changed (a key ended, a webhook URL set) from another process; a key
// set to end at a later time is not served from the cache past that time.
import type { Mode } from '../core/order.ts'
import { sha256Hex } from '../security/credentials.ts'
import { HmacSha256Key } from '../security/hmac-sha256.ts'
import type { SecretBox } from '../security/secret-box.ts'
import type { ApiKeyRecord, SqlMerchantStore } from '../storage/merchant-store.ts'

export interface ApiKey {
  keyId: string
  merchantId: string
  mode: Mode
  secret: string
  /** The secret as an HMAC key, its padded blocks made once (signed requests). */
  signingKey?: HmacSha256Key
}

export interface Merchant {
  id: string
  name: string
  webhookUrl: string | null
  webhookSecret: string
  /** The secret a roll replaced, which signs deliveries beside webhookSecret until `until` (webhookSecretsAt). */
  retiringWebhookSecret: { secret: string; until: number } | null
}

/** The secrets a delivery made at `now` is signed with: the current one, and the one it replaced while it retires. */
export function webhookSecretsAt(merchant: Merchant, now: number): string[] {
  const retiring = merchant.retiringWebhookSecret
  return retiring && retiring.until > now ? [merchant.webhookSecret, retiring.secret] : [merchant.webhookSecret]
}

const TTL_MS = 60_000
const MAX_ENTRIES = 10_000

class TtlCache<V> {
  readonly #map = new Map<string, { value: V; until: number }>()
  get(key: string, now: number): V | undefined {
    const hit = this.#map.get(key)
    if (!hit) return undefined
    if (hit.until <= now) {
      this.#map.delete(key)
      return undefined
    }
    return hit.value
  }
  set(key: string, value: V, now: number, endsAt: number | null = null): void {
    if (this.#map.size >= MAX_ENTRIES) this.#map.delete(this.#map.keys().next().value as string)
    this.#map.set(key, { value, until: endsAt === null ? now + TTL_MS : Math.min(now + TTL_MS, endsAt) })
  }
}

function withSigningKey(key: ApiKey): ApiKey {
  return { ...key, signingKey: new HmacSha256Key(key.secret) }
}

/** A key works until its end (`revoked_at`), which an operator may set now or ahead (scanpay merchant roll-key). */
function inForce(row: ApiKeyRecord, now: number): boolean {
  return row.revokedAt === null || row.revokedAt > now
}

/** The shape of the key ids ScanPay issues (`key_test_…`, `key_live_…`). */
export function isPlausibleKeyId(keyId: string): boolean {
  return /^key_(test|live)_[A-Za-z0-9_-]{8,64}$/.test(keyId)
}

export class MerchantDirectory {
  readonly #bySecret = new TtlCache<ApiKey | null>()
  readonly #byKeyId = new TtlCache<ApiKey | null>()
  readonly #merchants = new TtlCache<Merchant | null>()

  constructor(
    private readonly store: SqlMerchantStore,
    private readonly box: SecretBox,
  ) {}

  async keyBySecret(secret: string, now = Date.now()): Promise<ApiKey | null> {
    // Keyed by the secret itself (the ApiKey holds it anyway), so a cache hit costs no SHA-256; the hash is
    // only what the database is asked by.
    const cached = this.#bySecret.get(secret, now)
    if (cached !== undefined) return cached
    const row = await this.store.keyByHash(sha256Hex(secret))
    const key = row && inForce(row, now) ? { keyId: row.id, merchantId: row.merchantId, mode: row.mode, secret } : null
    this.#bySecret.set(secret, key, now, key && row!.revokedAt)
    return key
  }

  async keyById(keyId: string, now = Date.now()): Promise<ApiKey | null> {
    // Not asked of the database, nor remembered as missing: anyone may send any key_id, of any length.
    if (!isPlausibleKeyId(keyId)) return null
    const cached = this.#byKeyId.get(keyId, now)
    if (cached !== undefined) return cached
    const row = await this.store.keyById(keyId)
    const key =
      row && inForce(row, now)
        ? withSigningKey({ keyId: row.id, merchantId: row.merchantId, mode: row.mode, secret: this.box.decrypt(row.secretEnc) })
        : null
    this.#byKeyId.set(keyId, key, now, key && row!.revokedAt)
    return key
  }

  async merchant(id: string, now = Date.now()): Promise<Merchant | null> {
    const cached = this.#merchants.get(id, now)
    if (cached !== undefined) return cached
    const row = await this.store.byId(id)
    const merchant = row
      ? {
          id: row.id,
          name: row.name,
          webhookUrl: row.webhookUrl,
          webhookSecret: this.box.decrypt(row.webhookSecretEnc),
          retiringWebhookSecret: row.retiringWebhookSecret && row.retiringWebhookSecret.until > now
            ? { secret: this.box.decrypt(row.retiringWebhookSecret.sealed), until: row.retiringWebhookSecret.until }
            : null,
        }
      : null
    this.#merchants.set(id, merchant, now)
    return merchant
  }
}
