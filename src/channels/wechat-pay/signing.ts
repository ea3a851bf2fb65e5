// WeChat Pay API v3 cryptography: the WECHATPAY2-SHA256-RSA2048 request signature, verification of
// responses and notifications (Wechatpay-* headers), and AEAD_AES_256_GCM resource encryption.
import { createCipheriv, createDecipheriv, createSign, createVerify, randomBytes, type KeyObject } from 'node:crypto'

export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048'
/** Responses and notifications older or newer than this are refused, as the official SDKs do. */
export const MAX_SKEW_SECONDS = 300
/** WeChat's signature probes: the merchant must treat them as failures. */
export const PROBE_PREFIX = 'WECHATPAY/SIGNTEST/'

/** The five-line message a merchant signs; every line ends in \n, the empty GET body included. */
export function requestMessage(method: string, canonicalUrl: string, timestamp: string | number, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${canonicalUrl}\n${timestamp}\n${nonce}\n${body}\n`
}

/** The three-line message WeChat signs on responses and notifications. */
export function responseMessage(timestamp: string | number, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`
}

export function rsaSign(message: string, privateKey: KeyObject | string): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(privateKey, 'base64')
}

export function rsaVerify(message: string, signature: string, publicKey: KeyObject | string): boolean {
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(publicKey, signature, 'base64')
  } catch {
    return false
  }
}

/** 32 characters of [0-9A-Za-z], as the official Go SDK makes them. */
export function newNonce(length = 32): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
  const bytes = randomBytes(length)
  let out = ''
  // 248 = 62 * 4: rejecting bytes above it keeps every character equally likely.
  for (let i = 0; out.length < length; i++) {
    const b = i < bytes.length ? bytes[i]! : randomBytes(1)[0]!
    if (b < 248) out += alphabet[b % 62]
  }
  return out
}

export interface AuthorizationParams {
  mchid: string
  serialNo: string
  nonce: string
  timestamp: string
  signature: string
}

/** The Authorization header, in the parameter order of the official Go and Java SDKs. */
export function authorizationHeader(p: AuthorizationParams): string {
  return `${AUTH_SCHEME} mchid="${p.mchid}",nonce_str="${p.nonce}",timestamp="${p.timestamp}",serial_no="${p.serialNo}",signature="${p.signature}"`
}

export function signRequest(input: {
  mchid: string
  serialNo: string
  privateKey: KeyObject | string
  method: string
  canonicalUrl: string
  body: string
  timestamp?: number
  nonce?: string
}): string {
  const timestamp = String(input.timestamp ?? Math.floor(Date.now() / 1000))
  const nonce = input.nonce ?? newNonce()
  const signature = rsaSign(requestMessage(input.method, input.canonicalUrl, timestamp, nonce, input.body), input.privateKey)
  return authorizationHeader({ mchid: input.mchid, serialNo: input.serialNo, nonce, timestamp, signature })
}

/** Parses `WECHATPAY2-SHA256-RSA2048 k="v",…` in any parameter order (clients differ); null when malformed. */
export function parseAuthorization(header: string | undefined): AuthorizationParams | null {
  if (!header) return null
  const space = header.indexOf(' ')
  if (space < 0 || header.slice(0, space) !== AUTH_SCHEME) return null
  const params: Record<string, string> = {}
  const re = /\s*([a-z_]+)="([^"]*)"\s*(,|$)/gy
  const rest = header.slice(space + 1)
  let m: RegExpExecArray | null
  let consumed = 0
  while (consumed < rest.length && (m = re.exec(rest)) !== null) {
    if (m[1]! in params) return null
    params[m[1]!] = m[2]!
    consumed = re.lastIndex
  }
  if (consumed !== rest.length) return null
  const { mchid, serial_no, nonce_str, timestamp, signature } = params
  if (!mchid || !serial_no || !nonce_str || !timestamp || !signature) return null
  return { mchid, serialNo: serial_no, nonce: nonce_str, timestamp, signature }
}

export type HeaderBag = Record<string, string | string[] | undefined> | Headers

export function header(headers: HeaderBag, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  const v = headers[name.toLowerCase()] ?? headers[name]
  return Array.isArray(v) ? v[0] : v
}

export type VerifyFailure =
  | 'headers_missing'
  | 'signature_probe'
  | 'timestamp_invalid'
  | 'timestamp_out_of_window'
  | 'serial_unknown'
  | 'signature_invalid'

export class WechatSignatureError extends Error {
  constructor(readonly reason: VerifyFailure, message: string) {
    super(message)
    this.name = 'WechatSignatureError'
  }
}

/**
 * Verifies a response or notification signed by WeChat Pay: all four Wechatpay-* headers present, not a
 * probe, the timestamp within 300 s of now, a serial we trust (platform certificate serial, compared without
 * regard to case, or a PUB_KEY_ID_…), and the SHA256-RSA signature over `ts\nnonce\nbody\n`.
 */
export function verifyWechatSignature(input: {
  headers: HeaderBag
  body: string
  /** Trusted WeChat keys by serial or public-key id. */
  keys: ReadonlyMap<string, KeyObject>
  nowMs: number
  maxSkewSeconds?: number
}): void {
  const timestamp = header(input.headers, 'wechatpay-timestamp')
  const nonce = header(input.headers, 'wechatpay-nonce')
  const signature = header(input.headers, 'wechatpay-signature')
  const serial = header(input.headers, 'wechatpay-serial')
  if (!timestamp || !nonce || !signature || !serial) {
    throw new WechatSignatureError('headers_missing', 'Wechatpay-Timestamp, -Nonce, -Signature and -Serial are all required')
  }
  if (signature.startsWith(PROBE_PREFIX)) {
    throw new WechatSignatureError('signature_probe', 'a WECHATPAY/SIGNTEST/ signature probe is never genuine')
  }
  const signatureType = header(input.headers, 'wechatpay-signature-type')
  if (signatureType !== undefined && signatureType !== AUTH_SCHEME) {
    throw new WechatSignatureError('signature_invalid', `unsupported Wechatpay-Signature-Type ${signatureType}`)
  }
  if (!/^\d{1,12}$/.test(timestamp)) throw new WechatSignatureError('timestamp_invalid', 'Wechatpay-Timestamp is not unix seconds')
  const skew = Math.abs(Math.floor(input.nowMs / 1000) - Number(timestamp))
  if (skew > (input.maxSkewSeconds ?? MAX_SKEW_SECONDS)) {
    throw new WechatSignatureError('timestamp_out_of_window', `Wechatpay-Timestamp is ${skew} s from now`)
  }
  const key = keyForSerial(input.keys, serial)
  if (!key) throw new WechatSignatureError('serial_unknown', `no trusted WeChat Pay key has serial ${serial}`)
  if (!rsaVerify(responseMessage(timestamp, nonce, input.body), signature, key)) {
    throw new WechatSignatureError('signature_invalid', 'the Wechatpay-Signature does not verify')
  }
}

function keyForSerial(keys: ReadonlyMap<string, KeyObject>, serial: string): KeyObject | undefined {
  const exact = keys.get(serial)
  if (exact) return exact
  const upper = serial.toUpperCase()
  for (const [k, v] of keys) if (!k.startsWith('PUB_KEY_ID_') && k.toUpperCase() === upper) return v
  return undefined
}

export interface EncryptedResource {
  algorithm: string
  ciphertext: string
  associated_data?: string
  nonce: string
  original_type?: string
}

function gcmAlgorithm(key: Buffer): 'aes-256-gcm' | 'aes-128-gcm' {
  // Production APIv3 keys are 32 bytes. The official SDKs' own test vectors use 16-byte keys (Go picks the
  // AES variant from the key length), so those decrypt too.
  if (key.length === 32) return 'aes-256-gcm'
  if (key.length === 16) return 'aes-128-gcm'
  throw new Error(`the APIv3 key must be 32 bytes, got ${key.length}`)
}

/** AEAD_AES_256_GCM: the APIv3 key's raw UTF-8 bytes, the nonce's UTF-8 bytes, ciphertext ‖ 16-byte tag. */
export function decryptResource(apiV3Key: string, r: Pick<EncryptedResource, 'ciphertext' | 'nonce' | 'associated_data'>): string {
  const key = Buffer.from(apiV3Key, 'utf8')
  const data = Buffer.from(r.ciphertext, 'base64')
  if (data.length < 17) throw new Error('the ciphertext is too short')
  const decipher = createDecipheriv(gcmAlgorithm(key), key, Buffer.from(r.nonce, 'utf8'))
  decipher.setAAD(Buffer.from(r.associated_data ?? '', 'utf8'))
  decipher.setAuthTag(data.subarray(data.length - 16))
  return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8')
}

export function encryptResource(apiV3Key: string, plaintext: string, nonce: string, associatedData: string): string {
  const key = Buffer.from(apiV3Key, 'utf8')
  const cipher = createCipheriv(gcmAlgorithm(key), key, Buffer.from(nonce, 'utf8'))
  cipher.setAAD(Buffer.from(associatedData, 'utf8'))
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64')
}

/** The Wechatpay-* headers that sign a response or notification body. */
export function signedResponseHeaders(input: {
  privateKey: KeyObject | string
  serial: string
  body: string
  timestamp?: number
  nonce?: string
}): Record<string, string> {
  const timestamp = String(input.timestamp ?? Math.floor(Date.now() / 1000))
  const nonce = input.nonce ?? newNonce()
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Serial': input.serial,
    'Wechatpay-Signature': rsaSign(responseMessage(timestamp, nonce, input.body), input.privateKey),
    'Wechatpay-Signature-Type': AUTH_SCHEME,
  }
}
