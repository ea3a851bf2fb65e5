// A local WeChat Pay API v3 gateway for development and tests, speaking the real wire protocol: it verifies
// merchants' WECHATPAY2-SHA256-RSA2048 signatures (rejecting bad ones with WeChat's own error bodies), signs
// every response, sends signed and AES-256-GCM encrypted notifications on WeChat's retry schedule, and has a
// page where a "customer" scans a code_url and pays, declines or lets it lapse.
import { createHash, createPrivateKey, randomBytes, randomUUID, X509Certificate, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { selfSignedCertificate } from '../self-signed-certificate.ts'
import { formatMinor } from '../../core/money.ts'
import { rfc3339Shanghai, parseRfc3339, shanghaiDate } from '../shanghai-time.ts'
import {
  encryptResource,
  newNonce,
  parseAuthorization,
  PROBE_PREFIX,
  requestMessage,
  rsaVerify,
  signedResponseHeaders,
} from './signing.ts'

/** WeChat's schedule for a notification the merchant did not accept (seconds after the previous try). */
export const WECHAT_RETRY_SCHEDULE_S = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600]

export interface SimMerchant {
  mchid: string
  appid: string
  /** The merchant API certificate (its serial and public key verify the merchant's requests). */
  certificatePem: string
  apiV3Key: string
}

export interface WechatPaySimulatorOptions {
  port?: number
  host?: string
  /** Where keys and certificates are read from (when present) and written to, so identities survive restarts. */
  keysDir?: string
  /** How WeChat's responses name the key that signs them: a 微信支付公钥 id (new merchants) or a platform certificate serial. */
  serialMode?: 'public-key' | 'certificate'
  /** Multiplies the retry schedule: 0.001 turns 15 s into 15 ms for tests. */
  retryScale?: number
  /** The simulator's clock (ms), for skew tests. */
  now?: () => number
  /** Extra merchants the gateway knows besides the one it makes (e.g. the official SDKs' test keys). */
  merchants?: SimMerchant[]
  /** How long a refund stays PROCESSING before it succeeds. */
  refundDelayMs?: number
}

export type SimTradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'PAYERROR' | 'REFUND'

export interface SimOrder {
  mchid: string
  appid: string
  outTradeNo: string
  description: string
  total: number
  notifyUrl: string
  timeExpire: number
  createdAt: number
  state: SimTradeState
  stateDesc: string
  codeUrl: string
  /** When codeUrl was issued: it can be scanned for CODE_URL_LIFETIME_MS. */
  codeIssuedAt: number
  /** The prepay body's fingerprint: the same body again returns the current code_url. */
  fingerprint: string
  transactionId: string | null
  successTime: number | null
  refunds: SimRefund[]
}

export interface SimRefund {
  refundId: string
  outRefundNo: string
  amount: number
  createdAt: number
  notifyUrl: string | null
  /** How it ends once refundDelayMs has passed. */
  ending: 'SUCCESS' | 'ABNORMAL'
}

export interface NotificationAttempt {
  url: string
  headers: Record<string, string>
  body: string
  at: number
  status: number | null
  error: string | null
  probe: boolean
}

interface Identity {
  platformKey: KeyObject
  platformSerial: string
  platformCertPem: string
  publicKeyId: string
  publicKeyPem: string
  merchant: SimMerchant & { privateKeyPem: string; serial: string }
}

class HttpError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
  ) {}
}

const FILES = {
  platformKey: 'wechatpay_platform_key.pem',
  platformCert: 'wechatpay_platform_cert.pem',
  publicKey: 'wechatpay_public_key.pem',
  merchantKey: 'apiclient_key.pem',
  merchantCert: 'apiclient_cert.pem',
  ids: 'simulator.json',
  credentials: 'wechatpay-credentials.json',
}

/** How long a Native code_url can be scanned (protocols A.2). */
export const CODE_URL_LIFETIME_MS = 2 * 3_600_000

const newCodeUrl = () => `weixin://wxpay/bizpayurl?pr=${randomBytes(6).toString('base64url')}`

function digits(n: number): string {
  let s = ''
  for (const b of randomBytes(n)) s += String(b % 10)
  return s
}

/** Loads the identity from keysDir when it is there, else makes a new one (and writes it there). */
function loadIdentity(dir: string | undefined): Identity {
  const read = (f: string) => (dir && existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : null)
  const idsText = read(FILES.ids)
  if (dir && idsText && read(FILES.platformKey) && read(FILES.platformCert) && read(FILES.merchantKey) && read(FILES.merchantCert)) {
    const ids = JSON.parse(idsText) as { mchid: string; appid: string; apiv3_key: string; public_key_id: string }
    const platformCertPem = read(FILES.platformCert)!
    const merchantCertPem = read(FILES.merchantCert)!
    const platformKeyPem = read(FILES.platformKey)!
    return {
      platformKey: createPrivateKey(platformKeyPem),
      platformSerial: new X509Certificate(platformCertPem).serialNumber.toUpperCase(),
      platformCertPem,
      publicKeyId: ids.public_key_id,
      publicKeyPem: new X509Certificate(platformCertPem).publicKey.export({ type: 'spki', format: 'pem' }) as string,
      merchant: {
        mchid: ids.mchid,
        appid: ids.appid,
        apiV3Key: ids.apiv3_key,
        certificatePem: merchantCertPem,
        privateKeyPem: read(FILES.merchantKey)!,
        serial: new X509Certificate(merchantCertPem).serialNumber.toUpperCase(),
      },
    }
  }
  const platform = selfSignedCertificate({ C: 'CN', O: 'Tenpay.com', OU: 'Tenpay.com CA Center (simulator)', CN: 'Tenpay.com sign' })
  const mchid = `19${digits(8)}`
  const merchantCert = selfSignedCertificate({ C: 'CN', O: 'WeChat Pay simulator merchant', OU: mchid, CN: mchid })
  const identity: Identity = {
    platformKey: platform.privateKey,
    platformSerial: platform.serial,
    platformCertPem: platform.certificatePem,
    publicKeyId: `PUB_KEY_ID_01${mchid}${digits(20)}`,
    publicKeyPem: platform.publicKeyPem,
    merchant: {
      mchid,
      appid: `wx${randomBytes(8).toString('hex')}`,
      apiV3Key: newNonce(32),
      certificatePem: merchantCert.certificatePem,
      privateKeyPem: merchantCert.privateKeyPem,
      serial: merchantCert.serial,
    },
  }
  if (dir) writeIdentity(dir, identity)
  return identity
}


function writeIdentity(dir: string, id: Identity): void {
  mkdirSync(dir, { recursive: true })
  const w = (f: string, text: string, secret = false) => writeFileSync(join(dir, f), text, { mode: secret ? 0o600 : 0o644 })
  w(FILES.platformKey, id.platformKey.export({ type: 'pkcs8', format: 'pem' }) as string, true)
  w(FILES.platformCert, id.platformCertPem)
  w(FILES.publicKey, id.publicKeyPem)
  w(FILES.merchantKey, id.merchant.privateKeyPem, true)
  w(FILES.merchantCert, id.merchant.certificatePem)
  w(FILES.ids, JSON.stringify({ mchid: id.merchant.mchid, appid: id.merchant.appid, apiv3_key: id.merchant.apiV3Key, public_key_id: id.publicKeyId }, null, 2) + '\n', true)
}

interface KnownMerchant {
  mchid: string
  appid: string
  apiV3Key: string
  serial: string
  publicKey: KeyObject
}

export class WechatPaySimulator {
  readonly orders = new Map<string, SimOrder>()
  /** Every notification request sent (probes included), oldest first. */
  readonly attempts: NotificationAttempt[] = []
  /** While true, new refunds are refused as WeChat refuses them when the merchant's balance cannot cover them. */
  balanceShort = false
  /** A fault in the next bills served, for tests: a file that does not match its hash, or an answer without one. */
  billFault: 'tampered' | 'unhashed' | null = null
  readonly identity: Identity
  /** When false, payments succeed without a notification (the "missing notification" case). */
  sendNotifications = true
  /** When false, finished refunds send no REFUND.SUCCESS notification (only asking finds them). */
  sendRefundNotifications = true
  /** While true, new refunds end ABNORMAL instead of SUCCESS (the account paid with cannot take the money back). */
  abnormalRefunds = false
  /** Native prepay requests received (POST /v3/pay/transactions/native), refused ones included. */
  prepayRequests = 0
  /** While set, prepay requests are answered only once it settles: a slow WeChat Pay, for tests. */
  prepayGate: Promise<unknown> | null = null
  /** Signed GET /v3/certificates requests received, refused ones (public-key mode) included. */
  certificateDownloads = 0
  /** Platform certificates rotated out but still listed by /v3/certificates, as WeChat does during a rotation. */
  readonly #retiredPlatformCerts: string[] = []
  #server: Server | null = null
  #merchants = new Map<string, KnownMerchant>()
  #timers = new Set<NodeJS.Timeout>()
  #o: Required<Pick<WechatPaySimulatorOptions, 'serialMode' | 'retryScale' | 'refundDelayMs'>> & WechatPaySimulatorOptions
  #bills = new Map<string, string>()
  url = ''

  constructor(options: WechatPaySimulatorOptions = {}) {
    // Options given as undefined (e.g. from unset CLI flags) take the defaults too.
    this.#o = { ...options, serialMode: options.serialMode ?? 'public-key', retryScale: options.retryScale ?? 1, refundDelayMs: options.refundDelayMs ?? 500 }
    this.identity = loadIdentity(options.keysDir)
    const m = this.identity.merchant
    this.addMerchant({ mchid: m.mchid, appid: m.appid, apiV3Key: m.apiV3Key, certificatePem: m.certificatePem })
    for (const extra of options.merchants ?? []) this.addMerchant(extra)
  }

  addMerchant(m: SimMerchant): void {
    const cert = new X509Certificate(m.certificatePem)
    this.#merchants.set(m.mchid, { mchid: m.mchid, appid: m.appid, apiV3Key: m.apiV3Key, serial: cert.serialNumber.toUpperCase(), publicKey: cert.publicKey })
  }

  now(): number {
    return this.#o.now?.() ?? Date.now()
  }

  /** The serial responses and notifications carry in Wechatpay-Serial. */
  get signingSerial(): string {
    return this.#o.serialMode === 'certificate' ? this.identity.platformSerial : this.identity.publicKeyId
  }

  /**
   * WeChat replaces its platform certificate: from now on responses and notifications are signed with a new one,
   * and /v3/certificates lists old and new. Certificate mode only (a 微信支付公钥 is not rotated this way); in
   * memory only, keysDir keeps the identity it started with.
   */
  rotatePlatformCertificate(): string {
    if (this.#o.serialMode !== 'certificate') throw new Error('only certificate mode has platform certificates to rotate')
    const next = selfSignedCertificate({ C: 'CN', O: 'Tenpay.com', OU: 'Tenpay.com CA Center (simulator)', CN: 'Tenpay.com sign' })
    this.#retiredPlatformCerts.push(this.identity.platformCertPem)
    this.identity.platformKey = next.privateKey
    this.identity.platformSerial = next.serial
    this.identity.platformCertPem = next.certificatePem
    return next.serial
  }

  /** The credentials document for `scanpay channel set … wechatpay` pointing at this simulator. */
  credentialsDocument(): Record<string, unknown> {
    const id = this.identity
    return {
      mchid: id.merchant.mchid,
      appid: id.merchant.appid,
      merchant_serial_no: id.merchant.serial,
      merchant_private_key: id.merchant.privateKeyPem,
      merchant_certificate: id.merchant.certificatePem,
      apiv3_key: id.merchant.apiV3Key,
      ...(this.#o.serialMode === 'public-key'
        ? { wechatpay_public_key_id: id.publicKeyId, wechatpay_public_key: id.publicKeyPem }
        : { wechatpay_certificates: [id.platformCertPem] }),
      api_base_url: this.url,
    }
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res))
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject)
      this.#server!.listen(this.#o.port ?? 0, this.#o.host ?? '127.0.0.1', () => resolve())
    })
    const addr = this.#server.address() as AddressInfo
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
    this.url = `http://${host}:${addr.port}`
    if (this.#o.keysDir) {
      writeFileSync(join(this.#o.keysDir, FILES.credentials), JSON.stringify(this.credentialsDocument(), null, 2) + '\n', { mode: 0o600 })
    }
    return this
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    if (!this.#server) return
    this.#server.closeAllConnections()
    await new Promise<void>((r) => this.#server!.close(() => r()))
    this.#server = null
  }

  // ---- the customer's side ----

  orderByCodeUrl(codeUrl: string): SimOrder | undefined {
    for (const o of this.orders.values()) if (o.codeUrl === codeUrl) return o
    return undefined
  }

  #expireIfDue(o: SimOrder): void {
    if (o.state === 'NOTPAY' && this.now() >= o.timeExpire) {
      o.state = 'CLOSED'
      o.stateDesc = '订单已关闭'
    }
  }

  /**
   * The customer scans and pays. `force` pays even a closed or expired order: a success that raced the
   * close on WeChat's side, which the merchant must still handle. `notify: false` drops the notification.
   */
  pay(codeUrl: string, opts: { force?: boolean; notify?: boolean } = {}): SimOrder {
    const o = this.orderByCodeUrl(codeUrl)
    if (!o) throw new Error('no such code_url')
    if (this.now() - o.codeIssuedAt >= CODE_URL_LIFETIME_MS) throw new Error('the code_url has expired (二维码已过期)')
    this.#expireIfDue(o)
    if (o.state !== 'NOTPAY' && !(opts.force && (o.state === 'CLOSED' || o.state === 'PAYERROR'))) {
      throw new Error(`the order is ${o.state}`)
    }
    o.state = 'SUCCESS'
    o.stateDesc = '支付成功'
    o.transactionId = `4200${digits(24)}`
    o.successTime = Math.floor(this.now() / 1000) * 1000
    if (opts.notify ?? this.sendNotifications) this.#deliver(o.notifyUrl, this.#transactionNotification(o), 0)
    return o
  }

  /** The customer's bank refuses the payment: the order reads PAYERROR (WeChat sends no notification for it). */
  decline(codeUrl: string): SimOrder {
    const o = this.orderByCodeUrl(codeUrl)
    if (!o) throw new Error('no such code_url')
    this.#expireIfDue(o)
    if (o.state !== 'NOTPAY') throw new Error(`the order is ${o.state}`)
    o.state = 'PAYERROR'
    o.stateDesc = '支付失败，请重新下单支付'
    return o
  }

  /**
   * The merchant refunds in WeChat Pay's merchant platform, not through the API: finished at once, with a number
   * the platform makes up, and told to nobody (there is no notify_url). Only the day's bill shows it.
   */
  consoleRefund(o: SimOrder, amount: number): SimRefund {
    if (o.state !== 'SUCCESS' && o.state !== 'REFUND') throw new Error(`the order is ${o.state}`)
    if (o.refunds.reduce((s, r) => s + r.amount, 0) + amount > o.total) throw new Error('more than is left to refund')
    const refund: SimRefund = { refundId: `50${digits(27)}`, outRefundNo: digits(20), amount, createdAt: this.now() - this.#o.refundDelayMs, notifyUrl: null, ending: 'SUCCESS' }
    o.refunds.push(refund)
    o.state = 'REFUND'
    o.stateDesc = '转入退款'
    return refund
  }

  /** Sends a WECHATPAY/SIGNTEST/ probe; a correct merchant answers it with a failure. Resolves to its status. */
  async probe(url: string): Promise<number | null> {
    const body = JSON.stringify({ id: randomUUID(), create_time: rfc3339Shanghai(this.now()), resource_type: 'encrypt-resource', event_type: 'TRANSACTION.SUCCESS', summary: '支付成功', resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: randomBytes(64).toString('base64'), associated_data: 'transaction', nonce: newNonce(12) } })
    const headers = signedResponseHeaders({ privateKey: this.identity.platformKey, serial: this.signingSerial, body, timestamp: Math.floor(this.now() / 1000) })
    headers['Wechatpay-Signature'] = PROBE_PREFIX + randomBytes(32).toString('base64')
    return (await this.#send(url, headers, body, true)).status
  }

  #transactionNotification(o: SimOrder): string {
    return this.#notification(o.mchid, 'TRANSACTION.SUCCESS', '支付成功', 'transaction', this.#transaction(o))
  }

  /** REFUND.SUCCESS (or ABNORMAL) with the plaintext fields WeChat's refund notice lists (channel-protocols.md A.5). */
  #refundNotification(o: SimOrder, r: SimRefund): string {
    return this.#notification(o.mchid, `REFUND.${r.ending}`, r.ending === 'SUCCESS' ? '退款成功' : '退款异常', 'refund', {
      mchid: o.mchid,
      transaction_id: o.transactionId,
      out_trade_no: o.outTradeNo,
      refund_id: r.refundId,
      out_refund_no: r.outRefundNo,
      refund_status: r.ending,
      ...(r.ending === 'SUCCESS' ? { success_time: rfc3339Shanghai(r.createdAt + this.#o.refundDelayMs) } : {}),
      user_received_account: '支付用户零钱',
      amount: { total: o.total, refund: r.amount, payer_total: o.total, payer_refund: r.amount },
    })
  }

  #notification(mchid: string, eventType: string, summary: string, originalType: string, resource: object): string {
    const m = this.#merchants.get(mchid)!
    const nonce = newNonce(12)
    return JSON.stringify({
      id: randomUUID(),
      create_time: rfc3339Shanghai(this.now()),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary,
      resource: { original_type: originalType, algorithm: 'AEAD_AES_256_GCM', ciphertext: encryptResource(m.apiV3Key, JSON.stringify(resource), nonce, originalType), associated_data: originalType, nonce },
    })
  }

  /** The merchant acts on an ABNORMAL refund in the merchant platform: it ends SUCCESS, and WeChat says so. */
  resolveAbnormalRefund(outRefundNo: string): void {
    for (const o of this.orders.values()) {
      const r = o.refunds.find((x) => x.outRefundNo === outRefundNo && x.ending === 'ABNORMAL')
      if (!r) continue
      r.ending = 'SUCCESS'
      if (r.notifyUrl && this.sendRefundNotifications) this.#deliver(r.notifyUrl, this.#refundNotification(o, r), 0)
      return
    }
    throw new Error(`no ABNORMAL refund ${outRefundNo}`)
  }

  /** Once the refund has finished (refundDelayMs), WeChat tells the refund's notify_url, if it was given one. */
  #notifyRefundLater(o: SimOrder, r: SimRefund): void {
    if (!r.notifyUrl || !this.sendRefundNotifications) return
    const url = r.notifyUrl
    const t = setTimeout(() => {
      this.#timers.delete(t)
      this.#deliver(url, this.#refundNotification(o, r), 0)
    }, this.#o.refundDelayMs)
    this.#timers.add(t)
  }

  /** One delivery try; on anything but 2xx the next try follows WeChat's schedule, with the same body. */
  #deliver(url: string, body: string, attempt: number): void {
    void (async () => {
      const headers = signedResponseHeaders({ privateKey: this.identity.platformKey, serial: this.signingSerial, body, timestamp: Math.floor(this.now() / 1000) })
      const { status } = await this.#send(url, headers, body, false)
      if (status !== null && status >= 200 && status < 300) return
      const delay = WECHAT_RETRY_SCHEDULE_S[attempt]
      if (delay === undefined || !this.#server) return
      const t = setTimeout(() => {
        this.#timers.delete(t)
        this.#deliver(url, body, attempt + 1)
      }, delay * 1000 * this.#o.retryScale)
      this.#timers.add(t)
    })()
  }

  async #send(url: string, headers: Record<string, string>, body: string, probe: boolean): Promise<{ status: number | null }> {
    const record: NotificationAttempt = { url, headers, body, at: Date.now(), status: null, error: null, probe }
    this.attempts.push(record)
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'Mozilla/4.0', 'request-id': randomUUID() },
        body,
        // WeChat waits 5 s for the merchant's answer.
        signal: AbortSignal.timeout(5000),
      })
      await res.arrayBuffer()
      record.status = res.status
    } catch (err) {
      record.error = (err as Error).message
    }
    return { status: record.status }
  }

  #transaction(o: SimOrder) {
    this.#expireIfDue(o)
    const paid = o.state === 'SUCCESS' || o.state === 'REFUND'
    return {
      appid: o.appid,
      mchid: o.mchid,
      out_trade_no: o.outTradeNo,
      ...(o.transactionId ? { transaction_id: o.transactionId } : {}),
      trade_type: paid ? 'NATIVE' : '',
      trade_state: o.state,
      trade_state_desc: o.stateDesc,
      ...(paid ? { bank_type: 'OTHERS', success_time: rfc3339Shanghai(o.successTime!), payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } } : {}),
      attach: '',
      amount: paid ? { total: o.total, payer_total: o.total, currency: 'CNY', payer_currency: 'CNY' } : { total: o.total, currency: 'CNY', payer_currency: 'CNY' },
    }
  }

  // ---- the gateway ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const url = req.url ?? '/'
    const path = url.split('?')[0]!
    try {
      if (path === '/' || path.startsWith('/sim')) return this.#customer(req, res, path, body)
      if (path.startsWith('/v3/billdownload/')) return this.#billFile(req, res, url)
      const merchant = this.#authenticate(req, url, body)
      if (req.method === 'POST' && path === '/v3/pay/transactions/native') {
        this.prepayRequests++
        if (this.prepayGate) await this.prepayGate
      }
      const [status, payload] = this.#route(req.method ?? 'GET', url, path, body, merchant)
      this.#reply(res, status, payload)
    } catch (err) {
      if (err instanceof HttpError) return this.#reply(res, err.status, { code: err.code, message: err.message })
      this.#reply(res, 500, { code: 'SYSTEM_ERROR', message: '系统错误' })
    }
  }

  /** Signs every answer, 204 and errors included (clients verify only 2xx; signing the rest is harmless). */
  #reply(res: ServerResponse, status: number, payload: unknown): void {
    const body = payload === undefined ? '' : JSON.stringify(payload)
    const headers = signedResponseHeaders({ privateKey: this.identity.platformKey, serial: this.signingSerial, body, timestamp: Math.floor(this.now() / 1000) })
    delete (headers as Record<string, string | undefined>)['Wechatpay-Signature-Type']
    res.writeHead(status, { ...headers, 'Request-ID': randomUUID().replaceAll('-', '').toUpperCase(), 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
  }

  #authenticate(req: IncomingMessage, url: string, body: string): KnownMerchant {
    const auth = parseAuthorization(req.headers.authorization)
    if (!auth) throw new HttpError(401, 'SIGN_ERROR', 'Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》')
    const m = this.#merchants.get(auth.mchid)
    if (!m) throw new HttpError(400, 'MCH_NOT_EXISTS', '商户号不存在')
    if (auth.serialNo.toUpperCase() !== m.serial) throw new HttpError(401, 'SIGN_ERROR', '商户证书序列号有误。请使用签名私钥匹配的证书序列号')
    if (!/^\d+$/.test(auth.timestamp) || Math.abs(Math.floor(this.now() / 1000) - Number(auth.timestamp)) > 300) {
      throw new HttpError(401, 'SIGN_ERROR', 'Http头Authorization中的timestamp与发起请求的时间不得超过5分钟')
    }
    if (!rsaVerify(requestMessage(req.method ?? 'GET', url, auth.timestamp, auth.nonce, body), auth.signature, m.publicKey)) {
      throw new HttpError(401, 'SIGN_ERROR', '错误的签名，验签失败')
    }
    return m
  }

  #json(body: string): Record<string, any> {
    try {
      const v = JSON.parse(body)
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v
    } catch {}
    throw new HttpError(400, 'PARAM_ERROR', '输入源“/body”映射到字段“body”必填性规则校验失败，此字段为必填项')
  }

  #route(method: string, url: string, path: string, body: string, m: KnownMerchant): [number, unknown] {
    const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '')
    let match: RegExpExecArray | null
    if (method === 'POST' && path === '/v3/pay/transactions/native') return this.#prepay(this.#json(body), m)
    if (method === 'GET' && (match = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/.exec(path))) {
      if (query.get('mchid') !== m.mchid) throw new HttpError(400, 'PARAM_ERROR', 'mchid不匹配')
      const o = this.orders.get(`${m.mchid}:${decodeURIComponent(match[1]!)}`)
      if (!o) throw new HttpError(404, 'ORDER_NOT_EXIST', '订单不存在')
      return [200, this.#transaction(o)]
    }
    if (method === 'GET' && (match = /^\/v3\/pay\/transactions\/id\/([^/]+)$/.exec(path))) {
      if (query.get('mchid') !== m.mchid) throw new HttpError(400, 'PARAM_ERROR', 'mchid不匹配')
      const o = [...this.orders.values()].find((x) => x.mchid === m.mchid && x.transactionId === decodeURIComponent(match![1]!))
      if (!o) throw new HttpError(404, 'ORDER_NOT_EXIST', '订单不存在')
      return [200, this.#transaction(o)]
    }
    if (method === 'POST' && (match = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/.exec(path))) {
      const b = this.#json(body)
      if (b.mchid !== m.mchid) throw new HttpError(400, 'PARAM_ERROR', 'mchid不匹配')
      const o = this.orders.get(`${m.mchid}:${decodeURIComponent(match[1]!)}`)
      if (!o) throw new HttpError(404, 'ORDER_NOT_EXIST', '订单不存在')
      this.#expireIfDue(o)
      if (o.state === 'SUCCESS' || o.state === 'REFUND') throw new HttpError(400, 'ORDERPAID', '订单已支付')
      o.state = 'CLOSED'
      o.stateDesc = '订单已关闭'
      return [204, undefined]
    }
    if (method === 'POST' && path === '/v3/refund/domestic/refunds') return this.#refund(this.#json(body), m)
    if (method === 'GET' && (match = /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/.exec(path))) {
      const found = this.#findRefund(m, decodeURIComponent(match[1]!))
      if (!found) throw new HttpError(404, 'RESOURCE_NOT_EXISTS', '退款单不存在')
      return [200, this.#refundView(found.order, found.refund)]
    }
    if (method === 'GET' && path === '/v3/certificates') return this.#certificates(m)
    if (method === 'GET' && path === '/v3/bill/tradebill') return this.#tradeBill(query, m)
    throw new HttpError(404, 'NOT_FOUND', '请求的资源不存在')
  }

  /** Every platform certificate in use, each encrypted with the asking merchant's APIv3 key. */
  #certificates(m: KnownMerchant): [number, unknown] {
    this.certificateDownloads++
    if (this.#o.serialMode !== 'certificate') throw new HttpError(404, 'RESOURCE_NOT_EXISTS', '无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥')
    const data = [...this.#retiredPlatformCerts, this.identity.platformCertPem].map((pem) => {
      const cert = new X509Certificate(pem)
      const nonce = newNonce(12)
      return {
        serial_no: cert.serialNumber.toUpperCase(),
        effective_time: rfc3339Shanghai(Date.parse(cert.validFrom)),
        expire_time: rfc3339Shanghai(Date.parse(cert.validTo)),
        encrypt_certificate: { algorithm: 'AEAD_AES_256_GCM', nonce, associated_data: 'certificate', ciphertext: encryptResource(m.apiV3Key, pem, nonce, 'certificate') },
      }
    })
    return [200, { data }]
  }

  #prepay(b: Record<string, any>, m: KnownMerchant): [number, unknown] {
    const param = (ok: boolean, field: string) => {
      if (!ok) throw new HttpError(400, 'PARAM_ERROR', `输入源“/body/${field}”映射到值字段“${field}”校验失败`)
    }
    if (b.mchid !== m.mchid) throw new HttpError(400, 'PARAM_ERROR', 'mchid不匹配')
    param(typeof b.appid === 'string', 'appid')
    if (b.appid !== m.appid) throw new HttpError(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配')
    param(typeof b.description === 'string' && b.description.length > 0 && Buffer.byteLength(b.description) <= 127, 'description')
    param(typeof b.out_trade_no === 'string' && /^[0-9A-Za-z_\-|*]{6,32}$/.test(b.out_trade_no), 'out_trade_no')
    param(typeof b.notify_url === 'string' && /^https?:\/\/[^?]+$/.test(b.notify_url) && b.notify_url.length <= 255, 'notify_url')
    param(typeof b.amount === 'object' && b.amount !== null && Number.isSafeInteger(b.amount.total) && b.amount.total >= 1, 'amount/total')
    param(b.amount.currency === undefined || b.amount.currency === 'CNY', 'amount/currency')
    const now = this.now()
    let expire = now + 7 * 86_400_000
    if (b.time_expire !== undefined) {
      const t = typeof b.time_expire === 'string' ? parseRfc3339(b.time_expire) : null
      param(t !== null, 'time_expire')
      // WeChat moves an expiry under a minute ahead to a minute, and caps it at 90 days.
      expire = Math.min(Math.max(t!, now + 60_000), now + 90 * 86_400_000)
    }
    const fingerprint = createHash('sha256').update(JSON.stringify([b.appid, b.description, b.notify_url, b.amount.total, b.time_expire ?? null, b.attach ?? null])).digest('hex')
    const key = `${m.mchid}:${b.out_trade_no}`
    const existing = this.orders.get(key)
    if (existing) {
      this.#expireIfDue(existing)
      if (existing.state === 'SUCCESS' || existing.state === 'REFUND') throw new HttpError(400, 'ORDERPAID', '该订单已支付')
      if (existing.state === 'CLOSED') throw new HttpError(400, 'ORDER_CLOSED', '订单已关闭')
      if (existing.fingerprint !== fingerprint) throw new HttpError(403, 'OUT_TRADE_NO_USED', '商户订单号重复')
      // The current code: a new one once the last can no longer be scanned.
      if (now - existing.codeIssuedAt >= CODE_URL_LIFETIME_MS) {
        existing.codeUrl = newCodeUrl()
        existing.codeIssuedAt = now
      }
      return [200, { code_url: existing.codeUrl }]
    }
    const order: SimOrder = {
      mchid: m.mchid,
      appid: m.appid,
      outTradeNo: b.out_trade_no,
      description: b.description,
      total: b.amount.total,
      notifyUrl: b.notify_url,
      timeExpire: expire,
      createdAt: now,
      state: 'NOTPAY',
      stateDesc: '订单未支付',
      codeUrl: newCodeUrl(),
      codeIssuedAt: now,
      fingerprint,
      transactionId: null,
      successTime: null,
      refunds: [],
    }
    this.orders.set(key, order)
    return [200, { code_url: order.codeUrl }]
  }

  #findRefund(m: KnownMerchant, outRefundNo: string): { order: SimOrder; refund: SimRefund } | null {
    for (const order of this.orders.values()) {
      if (order.mchid !== m.mchid) continue
      const refund = order.refunds.find((r) => r.outRefundNo === outRefundNo)
      if (refund) return { order, refund }
    }
    return null
  }

  #refundView(o: SimOrder, r: SimRefund) {
    const ended = this.now() - r.createdAt >= this.#o.refundDelayMs
    const done = ended && r.ending === 'SUCCESS'
    return {
      refund_id: r.refundId,
      out_refund_no: r.outRefundNo,
      transaction_id: o.transactionId,
      out_trade_no: o.outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      ...(done ? { success_time: rfc3339Shanghai(r.createdAt + this.#o.refundDelayMs) } : {}),
      create_time: rfc3339Shanghai(r.createdAt),
      status: ended ? r.ending : 'PROCESSING',
      funds_account: 'AVAILABLE',
      amount: { total: o.total, refund: r.amount, payer_total: o.total, payer_refund: r.amount, settlement_refund: r.amount, settlement_total: o.total, discount_refund: 0, currency: 'CNY' },
    }
  }

  #refund(b: Record<string, any>, m: KnownMerchant): [number, unknown] {
    if (typeof b.out_refund_no !== 'string' || !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(b.out_refund_no)) throw new HttpError(400, 'PARAM_ERROR', 'out_refund_no 格式错误')
    if (b.notify_url !== undefined && !(typeof b.notify_url === 'string' && /^https?:\/\/[^?]+$/.test(b.notify_url) && b.notify_url.length <= 256)) {
      throw new HttpError(400, 'PARAM_ERROR', 'notify_url 格式错误')
    }
    // The customer sees the reason in WeChat; it may take 80 bytes of UTF-8, not 80 characters.
    if (b.reason !== undefined && !(typeof b.reason === 'string' && b.reason.length > 0 && Buffer.byteLength(b.reason, 'utf8') <= 80)) {
      throw new HttpError(400, 'PARAM_ERROR', '输入源“/body/reason”映射到值字段“退款原因”字符串规则校验失败：长度须为 1 到 80 个字节')
    }
    const a = b.amount
    if (typeof a !== 'object' || a === null || !Number.isSafeInteger(a.refund) || a.refund < 1 || !Number.isSafeInteger(a.total) || a.currency !== 'CNY') {
      throw new HttpError(400, 'PARAM_ERROR', 'amount 格式错误')
    }
    const o = [...this.orders.values()].find(
      (x) => x.mchid === m.mchid && ((b.transaction_id && x.transactionId === b.transaction_id) || (!b.transaction_id && x.outTradeNo === b.out_trade_no)),
    )
    if (!o) throw new HttpError(404, 'RESOURCE_NOT_EXISTS', '订单不存在')
    const existing = o.refunds.find((r) => r.outRefundNo === b.out_refund_no)
    if (existing) return [200, this.#refundView(o, existing)]
    if (o.state !== 'SUCCESS' && o.state !== 'REFUND') throw new HttpError(403, 'TRADE_ERROR', '订单未支付，不能退款')
    if (a.total !== o.total) throw new HttpError(400, 'PARAM_ERROR', '订单金额与原订单金额不一致')
    const refunded = o.refunds.reduce((s, r) => s + r.amount, 0)
    if (refunded + a.refund > o.total) throw new HttpError(403, 'NOT_ENOUGH', '申请退款金额超过订单可退金额')
    if (this.balanceShort) throw new HttpError(403, 'NOT_ENOUGH', '基本账户余额不足，请充值后重新发起')
    const refund: SimRefund = { refundId: `50${digits(27)}`, outRefundNo: b.out_refund_no, amount: a.refund, createdAt: this.now(), notifyUrl: typeof b.notify_url === 'string' ? b.notify_url : null, ending: this.abnormalRefunds ? 'ABNORMAL' : 'SUCCESS' }
    o.refunds.push(refund)
    o.state = 'REFUND'
    o.stateDesc = '转入退款'
    this.#notifyRefundLater(o, refund)
    return [200, this.#refundView(o, refund)]
  }

  // ---- bills ----

  #tradeBill(query: URLSearchParams, m: KnownMerchant): [number, unknown] {
    const date = query.get('bill_date') ?? ''
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new HttpError(400, 'PARAM_ERROR', 'bill_date 格式错误')
    // As WeChat Pay does, a day without a payment or a refund has no bill at all.
    const today = (t: number | null) => t !== null && shanghaiDate(t) === date
    const anyThatDay = [...this.orders.values()].some((o) => o.mchid === m.mchid && (today(o.successTime) || o.refunds.some((r) => today(r.createdAt))))
    if (!anyThatDay) throw new HttpError(400, 'NO_STATEMENT_EXIST', '账单文件不存在')
    // Served with a byte order mark, as spreadsheet-friendly CSV files are: the digest covers the file's bytes,
    // so a client that hashes the decoded text (which has lost the mark) fails here as it would against WeChat.
    const file = '\uFEFF' + this.tradeBillText(m.mchid, date)
    const token = randomBytes(12).toString('hex')
    this.#bills.set(token, file)
    const download_url = `${this.url}/v3/billdownload/file?token=${token}`
    if (this.billFault === 'unhashed') return [200, { download_url }]
    const hashed = this.billFault === 'tampered' ? file.replace('SUCCESS', 'REFUND') : file
    return [200, { hash_type: 'SHA1', hash_value: createHash('sha1').update(hashed).digest('hex'), download_url }]
  }

  /**
   * The tradebill CSV of a Beijing day: a line for each payment made that day and for each refund asked for that
   * day (its 应结订单金额 0.00, its state as it is now), every field prefixed with a backtick, then the totals.
   */
  tradeBillText(mchid: string, date: string): string {
    const header = '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注'
    const rows: string[] = []
    let totalSettled = 0
    let totalRefund = 0
    let totalFee = 0
    const yuan = (fen: number) => formatMinor(fen, 'CNY')
    const time = (t: number) => rfc3339Shanghai(t).replace('T', ' ').slice(0, 19)
    for (const o of this.orders.values()) {
      if (o.mchid !== mchid) continue
      const payer = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o'
      if (o.successTime && shanghaiDate(o.successTime) === date) {
        const fee = Math.round((o.total * 6) / 1000)
        totalSettled += o.total
        totalFee += fee
        const cells = [time(o.successTime), o.appid, o.mchid, '0', '', o.transactionId ?? '', o.outTradeNo, payer, 'NATIVE', 'SUCCESS', 'OTHERS', 'CNY', yuan(o.total), '0.00', '0', '0', '0.00', '0.00', '', '', o.description, '', yuan(fee), '0.60%', yuan(o.total), '0.00', '']
        rows.push(cells.map((c) => '`' + c).join(','))
      }
      for (const r of o.refunds) {
        if (shanghaiDate(r.createdAt) !== date) continue
        // The bill's older words for the refund API's states: ABNORMAL is CHANGE there.
        const state = this.now() - r.createdAt < this.#o.refundDelayMs ? 'PROCESSING' : r.ending === 'ABNORMAL' ? 'CHANGE' : r.ending
        const fee = -Math.round((r.amount * 6) / 1000)
        totalRefund += r.amount
        totalFee += fee
        const cells = [time(r.createdAt), o.appid, o.mchid, '0', '', o.transactionId ?? '', o.outTradeNo, payer, 'NATIVE', 'REFUND', 'OTHERS', 'CNY', '0.00', '0.00', r.refundId, r.outRefundNo, yuan(r.amount), '0.00', 'ORIGINAL', state, o.description, '', yuan(fee), '0.60%', '0.00', yuan(r.amount), '']
        rows.push(cells.map((c) => '`' + c).join(','))
      }
    }
    const summaryHeader = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额'
    const summary = [String(rows.length), yuan(totalSettled), yuan(totalRefund), '0.00', yuan(totalFee), yuan(totalSettled), yuan(totalRefund)]
    return [header, ...rows, summaryHeader, summary.map((c) => '`' + c).join(',')].join('\r\n') + '\r\n'
  }

  #billFile(req: IncomingMessage, res: ServerResponse, url: string): void {
    const token = new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('token') ?? ''
    try {
      this.#authenticate(req, url, '')
    } catch (err) {
      if (err instanceof HttpError) return this.#reply(res, err.status, { code: err.code, message: err.message })
      throw err
    }
    const text = this.#bills.get(token)
    if (text === undefined) return this.#reply(res, 404, { code: 'NO_STATEMENT_EXIST', message: '账单文件不存在' })
    // The file itself is not signed (clients skip verifying bill downloads); the hash from tradebill covers it.
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(text)
  }

  // ---- the customer's page ----

  #customer(req: IncomingMessage, res: ServerResponse, path: string, body: string): void {
    const form = new URLSearchParams(body)
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '')
    const send = (status: number, html: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(html)
    }
    if (req.method === 'POST' && (path === '/sim/pay' || path === '/sim/decline')) {
      const code = form.get('code_url') ?? ''
      try {
        if (path === '/sim/pay') this.pay(code, { notify: form.get('notify') !== 'false', force: form.get('force') === 'true' })
        else this.decline(code)
      } catch (err) {
        return send(409, page('微信支付模拟器', `<p>${escape((err as Error).message)}</p><p><a href="/sim">返回</a></p>`))
      }
      res.writeHead(303, { location: `/sim/scan?code_url=${encodeURIComponent(code)}` })
      return void res.end()
    }
    // A refund made by hand in the merchant platform (商户平台): what an operator does once WeChat refused
    // ScanPay's, then records with `scanpay unexpected resolve`; or one ScanPay never hears of (unknown_refund).
    if (req.method === 'POST' && path === '/sim/console-refund') {
      const code = form.get('code_url') ?? ''
      const o = this.orderByCodeUrl(code)
      const fen = /^\d{1,9}(\.\d{1,2})?$/.test(form.get('yuan') ?? '') ? Math.round(Number(form.get('yuan')) * 100) : 0
      try {
        if (!o) throw new Error('二维码无效 (unknown code_url)')
        if (fen < 1) throw new Error('退款金额无效 (give an amount in yuan, such as 12.34)')
        this.consoleRefund(o, fen)
      } catch (err) {
        return send(409, page('微信支付模拟器', `<p>${escape((err as Error).message)}</p><p><a href="/sim">返回</a></p>`))
      }
      res.writeHead(303, { location: `/sim/scan?code_url=${encodeURIComponent(code)}` })
      return void res.end()
    }
    // To rehearse a refund WeChat refuses: the merchant's balance too short to refund from (403 NOT_ENOUGH).
    if (req.method === 'POST' && path === '/sim/balance') {
      this.balanceShort = form.get('short') === 'true'
      res.writeHead(303, { location: '/sim' })
      return void res.end()
    }
    if (path === '/sim/scan') {
      const o = this.orderByCodeUrl(query.get('code_url') ?? '')
      if (!o) return send(404, page('微信支付模拟器', '<p>二维码无效 (unknown code_url)</p>'))
      this.#expireIfDue(o)
      const code = escape(o.codeUrl)
      const actions =
        o.state === 'NOTPAY'
          ? `<form method="post" action="/sim/pay"><input type="hidden" name="code_url" value="${code}"><button>支付 Pay ¥${formatMinor(o.total, 'CNY')}</button></form>
<form method="post" action="/sim/decline"><input type="hidden" name="code_url" value="${code}"><button>拒绝 Decline</button></form>
<p>不操作则订单到期关闭 (do nothing to let it lapse at ${escape(rfc3339Shanghai(o.timeExpire))})</p>`
          : o.state === 'CLOSED'
            ? // The customer's payment racing the close: WeChat took the money before it heard of it.
              `<form method="post" action="/sim/pay"><input type="hidden" name="code_url" value="${code}"><input type="hidden" name="force" value="true"><button>仍然支付 Pay anyway (as if it raced the close)</button></form>`
            : o.state === 'SUCCESS' || o.state === 'REFUND'
              ? `<form method="post" action="/sim/console-refund"><input type="hidden" name="code_url" value="${code}"><input name="yuan" value="${formatMinor(o.total - o.refunds.reduce((s, r) => s + r.amount, 0), 'CNY')}" size="8"><button>商户平台退款 Refund in the merchant platform (ScanPay is not told)</button></form>`
              : ''
      return send(200, page('微信支付模拟器', `<h1>${escape(o.description)}</h1><p>¥${formatMinor(o.total, 'CNY')} · ${escape(o.outTradeNo)} · <b>${o.state}</b></p>${actions}`))
    }
    const list = [...this.orders.values()]
      .reverse()
      .map((o) => {
        this.#expireIfDue(o)
        return `<li><a href="/sim/scan?code_url=${encodeURIComponent(o.codeUrl)}">${escape(o.outTradeNo)}</a> ¥${formatMinor(o.total, 'CNY')} ${o.state}</li>`
      })
      .join('')
    const balance = `<form method="post" action="/sim/balance"><input type="hidden" name="short" value="${!this.balanceShort}"><button>${
      this.balanceShort ? '余额已充值 Top the balance up (refunds go through again)' : '余额不足 Make the balance short (refunds refused: NOT_ENOUGH)'
    }</button></form>`
    return send(200, page('微信支付模拟器', `<p>mchid ${escape(this.identity.merchant.mchid)} · appid ${escape(this.identity.merchant.appid)}</p><p>${this.balanceShort ? '余额不足：退款被拒绝 (balance short: refunds refused)' : '余额充足 (balance sufficient)'}</p>${balance}<ul>${list || '<li>(no orders yet)</li>'}</ul>`))
  }
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head><body><h2>${title}</h2>${body}</body></html>`
}

