// A merchant's Alipay credentials (public-key mode): what `scanpay channel set … alipay` accepts, checked on the spot.
import { createPublicKey, type KeyObject } from 'node:crypto'
import { baseUrl, isRecord, Problems, type Parsed } from '../credential-errors.ts'
import { loadPrivateKey, loadPublicKey } from './signing.ts'

export const ALIPAY_GATEWAY_URL = 'https://openapi.alipay.com/gateway.do'

export interface AlipayCredentialsDoc {
  app_id: string
  /** 应用私钥: PEM (PKCS#1 or PKCS#8) or the bare base64 the key tool prints. */
  app_private_key: string
  /** 支付宝公钥 (not the app's own public key): PEM or bare base64. */
  alipay_public_key: string
  /** Defaults to https://openapi.alipay.com/gateway.do; the sandbox's or a simulator's for development. */
  gateway_url?: string
  /** The seller's 2088… user id; when given, notifications naming another seller are refused. */
  seller_id?: string
}

export interface AlipayCredentials {
  appId: string
  privateKey: KeyObject
  alipayPublicKey: KeyObject
  gatewayUrl: string
  sellerId: string | null
}

export function parseAlipayCredentials(doc: unknown): Parsed<AlipayCredentials> {
  const p = new Problems()
  if (!isRecord(doc)) return { ok: false, errors: ['the credentials must be a JSON object'] }
  const appId = p.string(doc, 'app_id', { pattern: /^\d{16}$/, hint: 'must be the 16-digit APPID' })
  const privText = p.string(doc, 'app_private_key')
  const privateKey = privText === undefined ? undefined : p.attempt('app_private_key', () => loadPrivateKey(privText))
  if (privateKey && privateKey.asymmetricKeyType !== 'rsa') p.add('app_private_key must be an RSA key (RSA2)')
  const pubText = p.string(doc, 'alipay_public_key')
  const alipayPublicKey = pubText === undefined ? undefined : p.attempt('alipay_public_key', () => loadPublicKey(pubText))
  if (privateKey && alipayPublicKey) {
    // A classic mistake is pasting the app's own public key where Alipay's belongs: then nothing verifies.
    const own = p.attempt('app_private_key', () => createPublicKey(privateKey))
    if (own && own.export({ type: 'spki', format: 'der' }).equals(alipayPublicKey.export({ type: 'spki', format: 'der' }))) {
      p.add('alipay_public_key is the app public key (应用公钥); it must be the Alipay public key (支付宝公钥)')
    }
  }
  const sellerId = p.string(doc, 'seller_id', { optional: true, pattern: /^2088\d{12}$/, hint: 'must be the 16-digit 2088… user id' })
  const gatewayUrl = baseUrl(p, doc, 'gateway_url', ALIPAY_GATEWAY_URL)
  if (p.list.length > 0) return { ok: false, errors: p.list }
  return { ok: true, value: { appId: appId!, privateKey: privateKey!, alipayPublicKey: alipayPublicKey!, gatewayUrl, sellerId: sellerId ?? null } }
}
