// Cached, decrypted views of merchants and keys for the hot path. Keys and names are immutable once made,
// so entries only expire to bound memory and to notice revocations within a minute.
import type { Mode } from '../core/order.ts'
import { sha256Hex } from '../security/credentials.ts'
import { HmacSha256Key } from '../security/hmac-sha256.ts'
import type { SecretBox } from '../security/secret-box.ts'
import type { SqlMerchantStore } from '../storage/merchant-store.ts'

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
  set(key: string, value: V, now: number): void {
    if (this.#map.size >= MAX_ENTRIES) this.#map.delete(this.#map.keys().next().value as string)
    this.#map.set(key, { value, until: now + TTL_MS })
  }
}

function withSigningKey(key: ApiKey): ApiKey {
  return { ...key, signingKey: new HmacSha256Key(key.secret) }
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
    const key = row && row.revokedAt === null ? { keyId: row.id, merchantId: row.merchantId, mode: row.mode, secret } : null
    this.#bySecret.set(secret, key, now)
    return key
  }

  async keyById(keyId: string, now = Date.now()): Promise<ApiKey | null> {
    // Not asked of the database, nor remembered as missing: anyone may send any key_id, of any length.
    if (!isPlausibleKeyId(keyId)) return null
    const cached = this.#byKeyId.get(keyId, now)
    if (cached !== undefined) return cached
    const row = await this.store.keyById(keyId)
    const key =
      row && row.revokedAt === null
        ? withSigningKey({ keyId: row.id, merchantId: row.merchantId, mode: row.mode, secret: this.box.decrypt(row.secretEnc) })
        : null
    this.#byKeyId.set(keyId, key, now)
    return key
  }

  async merchant(id: string, now = Date.now()): Promise<Merchant | null> {
    const cached = this.#merchants.get(id, now)
    if (cached !== undefined) return cached
    const row = await this.store.byId(id)
    const merchant = row
      ? { id: row.id, name: row.name, webhookUrl: row.webhookUrl, webhookSecret: this.box.decrypt(row.webhookSecretEnc) }
      : null
    this.#merchants.set(id, merchant, now)
    return merchant
  }
}
