// A merchant's WeChat Pay credentials: what `scanpay channel set … wechatpay` accepts, checked on the spot.
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto'
import { baseUrl, isRecord, Problems, type Parsed } from '../credential-errors.ts'
import { rsaSign, rsaVerify } from './signing.ts'

export const WECHATPAY_BASE_URL = 'https://api.mch.weixin.qq.com'

/**
 * The credentials document (JSON). WeChat gives new merchants a 微信支付公钥 (public-key id + PEM); older ones
 * verify with platform certificates. Either (or both) may be given.
 */
export interface WechatPayCredentialsDoc {
  mchid: string
  appid: string
  /** The merchant API certificate's serial number (hex), sent in Authorization. */
  merchant_serial_no: string
  /** apiclient_key.pem (PKCS#8). */
  merchant_private_key: string
  /** apiclient_cert.pem, optional: when given, its serial and key are checked against the two above. */
  merchant_certificate?: string
  /** The 32-byte APIv3 key, which decrypts notifications. */
  apiv3_key: string
  wechatpay_public_key_id?: string
  wechatpay_public_key?: string
  wechatpay_certificates?: string[]
  /** Defaults to https://api.mch.weixin.qq.com; a simulator's URL for offline development. */
  api_base_url?: string
}

export interface WechatPayCredentials {
  mchid: string
  appid: string
  serialNo: string
  privateKey: KeyObject
  apiV3Key: string
  /** WeChat's keys this merchant trusts, by platform certificate serial (upper-case hex) or PUB_KEY_ID_…. */
  platformKeys: Map<string, KeyObject>
  baseUrl: string
}

export function parseWechatPayCredentials(doc: unknown): Parsed<WechatPayCredentials> {
  const p = new Problems()
  if (!isRecord(doc)) return { ok: false, errors: ['the credentials must be a JSON object'] }
  const mchid = p.string(doc, 'mchid', { pattern: /^\d{6,32}$/, hint: 'must be the digits of the merchant number (商户号)' })
  const appid = p.string(doc, 'appid', { pattern: /^[A-Za-z0-9_]{4,32}$/, hint: 'must be an AppID such as wx…' })
  const serialNo = p.string(doc, 'merchant_serial_no', { pattern: /^[0-9A-Fa-f]{8,64}$/, hint: 'must be the hex serial of the merchant API certificate' })
  const keyPem = p.string(doc, 'merchant_private_key')
  const privateKey = keyPem === undefined ? undefined : p.attempt('merchant_private_key', () => createPrivateKey(keyPem))
  if (privateKey && privateKey.asymmetricKeyType !== 'rsa') p.add('merchant_private_key must be an RSA key')
  const apiV3Key = p.string(doc, 'apiv3_key')
  if (apiV3Key !== undefined && Buffer.byteLength(apiV3Key, 'utf8') !== 32) p.add('apiv3_key must be exactly 32 bytes (APIv3密钥)')

  const certPem = p.string(doc, 'merchant_certificate', { optional: true })
  if (certPem !== undefined) {
    const cert = p.attempt('merchant_certificate', () => new X509Certificate(certPem))
    if (cert && serialNo && cert.serialNumber.toUpperCase() !== serialNo.toUpperCase()) {
      p.add(`merchant_serial_no ${serialNo} is not the serial of merchant_certificate (${cert.serialNumber})`)
    }
    if (cert && privateKey && !keysMatch(privateKey, cert.publicKey)) p.add('merchant_private_key does not belong to merchant_certificate')
  }

  const platformKeys = new Map<string, KeyObject>()
  const keyId = p.string(doc, 'wechatpay_public_key_id', { optional: true, pattern: /^PUB_KEY_ID_[0-9A-Za-z]+$/, hint: 'must look like PUB_KEY_ID_…' })
  const pubPem = p.string(doc, 'wechatpay_public_key', { optional: true })
  if ((keyId === undefined) !== (pubPem === undefined) && !p.list.some((e) => e.startsWith('wechatpay_public_key'))) {
    p.add('wechatpay_public_key_id and wechatpay_public_key go together')
  }
  if (keyId && pubPem) {
    const key = p.attempt('wechatpay_public_key', () => createPublicKey(pubPem))
    if (key) platformKeys.set(keyId, key)
  }
  const certs = doc.wechatpay_certificates
  if (certs !== undefined) {
    if (!Array.isArray(certs) || certs.some((c) => typeof c !== 'string')) p.add('wechatpay_certificates must be a list of PEM certificates')
    else
      for (const [i, pem] of (certs as string[]).entries()) {
        const cert = p.attempt(`wechatpay_certificates[${i}]`, () => new X509Certificate(pem))
        if (cert) platformKeys.set(cert.serialNumber.toUpperCase(), cert.publicKey)
      }
  }
  if (platformKeys.size === 0 && !p.list.some((e) => e.startsWith('wechatpay_'))) {
    p.add('give wechatpay_public_key_id + wechatpay_public_key (微信支付公钥) or wechatpay_certificates (平台证书): responses and notifications cannot be verified without one')
  }
  const base = baseUrl(p, doc, 'api_base_url', WECHATPAY_BASE_URL)
  if (p.list.length > 0) return { ok: false, errors: p.list }
  return { ok: true, value: { mchid: mchid!, appid: appid!, serialNo: serialNo!.toUpperCase(), privateKey: privateKey!, apiV3Key: apiV3Key!, platformKeys, baseUrl: base } }
}

function keysMatch(privateKey: KeyObject, publicKey: KeyObject): boolean {
  try {
    return rsaVerify('scanpay key check', rsaSign('scanpay key check', privateKey), publicKey)
  } catch {
    return false
  }
}

/** How long before a certificate's end `channel set` starts to say so. */
const EXPIRY_NOTICE_MS = 30 * 24 * 3600 * 1000

/**
 * What `channel set` says of usable credentials' certificates: one that has ended, or ends within 30 days. Not a
 * refusal (the merchant may be replacing it that very day), but WeChat Pay refuses a request signed under an
 * ended merchant certificate, and a notification under an ended platform certificate cannot be trusted.
 */
export function wechatCertificateNotes(doc: Record<string, unknown>, now: number): string[] {
  const notes: string[] = []
  const note = (field: string, pem: unknown) => {
    if (typeof pem !== 'string') return
    let cert: X509Certificate
    try {
      cert = new X509Certificate(pem)
    } catch {
      return // parseWechatPayCredentials has said what is wrong with it
    }
    const end = Date.parse(cert.validTo)
    const day = new Date(end).toISOString().slice(0, 10)
    if (end <= now) notes.push(`${field} ended on ${day}: WeChat Pay refuses what is signed under it; replace it`)
    else if (end - now <= EXPIRY_NOTICE_MS) notes.push(`${field} ends on ${day}: replace it before then`)
  }
  note('merchant_certificate', doc.merchant_certificate)
  if (Array.isArray(doc.wechatpay_certificates)) for (const [i, pem] of doc.wechatpay_certificates.entries()) note(`wechatpay_certificates[${i}]`, pem)
  return notes
}
