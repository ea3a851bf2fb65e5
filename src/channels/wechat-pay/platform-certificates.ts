// WeChat Pay's platform certificates as this process has learned them. In certificate mode WeChat rotates the
// certificate it signs with; a merchant's stored credentials only name the ones known when they were set. So a
// response or notification naming a certificate serial the merchant lacks makes us ask WeChat for its current
// list (GET /v3/certificates), at most once per merchant per DOWNLOAD_INTERVAL_MS: anyone can post a
// notification naming a made-up serial, and that must not make us call WeChat per request.
import { X509Certificate, type KeyObject } from 'node:crypto'
import type { WechatPayCredentials } from './credentials.ts'
import { decryptResource } from './signing.ts'

export const DOWNLOAD_INTERVAL_MS = 10 * 60_000

const PUBLIC_KEY_ID = 'PUB_KEY_ID_'

/** Certificate mode: the merchant verifies with at least one platform certificate (not only a 微信支付公钥). */
export function usesPlatformCertificates(creds: WechatPayCredentials): boolean {
  for (const id of creds.platformKeys.keys()) if (!id.startsWith(PUBLIC_KEY_ID)) return true
  return false
}

/**
 * The certificates of a /v3/certificates answer, by upper-case serial. Decrypting with the merchant's APIv3 key,
 * which only WeChat and the merchant hold, is what makes one WeChat's; one that does not decrypt, is not an X.509
 * certificate, carries another serial than it is listed under, or has expired is left out.
 */
export function certificatesInAnswer(apiV3Key: string, answerText: string, nowMs: number): Map<string, KeyObject> {
  const found = new Map<string, KeyObject>()
  let answer: unknown
  try {
    answer = JSON.parse(answerText)
  } catch {
    return found
  }
  const data = (answer as { data?: unknown } | null)?.data
  if (!Array.isArray(data)) return found
  for (const entry of data as { serial_no?: unknown; encrypt_certificate?: Record<string, unknown> }[]) {
    const sealed = entry?.encrypt_certificate
    if (typeof entry?.serial_no !== 'string' || sealed?.algorithm !== 'AEAD_AES_256_GCM') continue
    if (typeof sealed.ciphertext !== 'string' || typeof sealed.nonce !== 'string') continue
    const associatedData = typeof sealed.associated_data === 'string' ? sealed.associated_data : undefined
    let cert: X509Certificate
    try {
      cert = new X509Certificate(decryptResource(apiV3Key, { ciphertext: sealed.ciphertext, nonce: sealed.nonce, associated_data: associatedData }))
    } catch {
      continue
    }
    const serial = cert.serialNumber.toUpperCase()
    if (serial !== entry.serial_no.toUpperCase() || !(Date.parse(cert.validTo) > nowMs)) continue
    found.set(serial, cert.publicKey)
  }
  return found
}

/** Fetches WeChat's current platform certificates for a merchant (verified and decrypted), or throws. */
export type DownloadCertificates = (merchantId: string, creds: WechatPayCredentials) => Promise<Map<string, KeyObject>>

interface Learned {
  /** Whose certificates these are: credentials set anew (another account or APIv3 key) start over. */
  account: string
  keys: Map<string, KeyObject>
  triedAt: number | null
  download: Promise<void> | null
  failure: string | null
}

export class PlatformCertificates {
  readonly #byMerchant = new Map<string, Learned>()

  constructor(
    private readonly download: DownloadCertificates,
    private readonly now: () => number,
  ) {}

  /**
   * The keys to verify this merchant's responses and notifications with: its credentials' keys plus the
   * certificates learned since. A new map, so the (shared, cached) credentials object is never changed.
   */
  keys(merchantId: string, creds: WechatPayCredentials): ReadonlyMap<string, KeyObject> {
    const learned = this.#learned(merchantId, creds)
    if (!learned || learned.keys.size === 0 || !usesPlatformCertificates(creds)) return creds.platformKeys
    return new Map([...learned.keys, ...creds.platformKeys])
  }

  /**
   * Downloads the merchant's platform certificates when `serial` may be a new one of them and no download was
   * tried in the last DOWNLOAD_INTERVAL_MS; callers meanwhile share the one in flight. Never rejects: a failed
   * download leaves the keys as they were (and is not retried within the interval).
   */
  async refresh(merchantId: string, creds: WechatPayCredentials, serial: string | undefined): Promise<void> {
    // A public key id is not a certificate: no download can bring its key.
    if (!serial || serial.startsWith(PUBLIC_KEY_ID) || !usesPlatformCertificates(creds)) return
    let learned = this.#learned(merchantId, creds)
    if (!learned) {
      learned = { account: accountOf(creds), keys: new Map(), triedAt: null, download: null, failure: null }
      this.#byMerchant.set(merchantId, learned)
    }
    if (learned.download) return learned.download
    const now = this.now()
    if (learned.triedAt !== null && now - learned.triedAt < DOWNLOAD_INTERVAL_MS) return
    learned.triedAt = now
    const entry = learned
    entry.download = Promise.resolve()
      .then(() => this.download(merchantId, creds))
      .then(
        // WeChat lists every certificate still in use, so its latest list replaces the one learned before.
        (keys) => {
          entry.keys = keys
          entry.failure = null
        },
        (err: unknown) => {
          entry.failure = err instanceof Error ? err.message : String(err)
        },
      )
      .finally(() => {
        entry.download = null
      })
    return entry.download
  }

  /** Why the merchant's last download failed (null when it succeeded or none was tried), for error messages. */
  lastFailure(merchantId: string, creds: WechatPayCredentials): string | null {
    return this.#learned(merchantId, creds)?.failure ?? null
  }

  #learned(merchantId: string, creds: WechatPayCredentials): Learned | undefined {
    const learned = this.#byMerchant.get(merchantId)
    return learned && learned.account === accountOf(creds) ? learned : undefined
  }
}

function accountOf(creds: WechatPayCredentials): string {
  return `${creds.baseUrl} ${creds.mchid} ${creds.apiV3Key}`
}
