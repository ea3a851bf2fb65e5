// A local Alipay OpenAPI gateway (v2, /gateway.do) for development and tests, speaking the real wire
// protocol: it verifies the app's RSA2 signature by the exact rules (refusing bad ones with Alipay's own
// 40002 isv.invalid-signature), signs every response over the exact text it sends, models "the trade exists
// only after the scan", sends signed trade_status_sync notifications until it reads exactly `success`, and
// has a page where a "customer" scans and pays, declines or lets the QR code lapse.
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { generateRsaKeyPair } from '../self-signed-certificate.ts'
import { alipayTime, parseAlipayTime, shanghaiDate } from '../shanghai-time.ts'
import { fenToYuan, yuanToFen } from '../yuan.ts'
import { writeZip } from '../zip-file.ts'
import { loadPublicKey, notifySignContent, requestSignContent, responseKeyOf, rsa2Sign, rsa2Verify } from './signing.ts'

/** Alipay's schedule for a notification not answered `success` (seconds after the previous try). */
export const ALIPAY_RETRY_SCHEDULE_S = [240, 600, 600, 3600, 7200, 21600, 54000]

export interface SimApp {
  appId: string
  /** The app's public key (应用公钥), which verifies its requests. */
  appPublicKeyPem: string
}

export interface AlipaySimulatorOptions {
  port?: number
  host?: string
  keysDir?: string
  retryScale?: number
  now?: () => number
  apps?: SimApp[]
  /**
   * How far a request's `timestamp` (read as Beijing time) may be from now; undefined accepts any. The real
   * gateway's tolerance is not documented, and alipay-sdk sends the process's local time.
   */
  timestampToleranceSeconds?: number
}

export type SimTradeStatus = 'PRECREATED' | 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED' | 'TRADE_FINISHED'

export interface SimTrade {
  appId: string
  outTradeNo: string
  subject: string
  total: number
  notifyUrl: string | null
  /** When an unpaid trade closes: the QR code's own timeout until the scan; then also timeout_express from the scan. */
  expiresAt: number
  /** timeout_express as sent: counted from the trade's creation, which for a precreated code is the scan. */
  timeoutExpress: string
  createdAt: number
  /** PRECREATED: a QR code exists but no trade (nobody scanned). */
  status: SimTradeStatus
  qrCode: string
  tradeNo: string | null
  scannedAt: number | null
  paidAt: number | null
  closedAt: number | null
  refunds: SimRefund[]
}

/** settled false: accepted but still being made (see AlipaySimulator.holdRefunds); at: when it was made, or asked for. */
export interface SimRefund {
  outRequestNo: string
  amount: number
  at: number
  settled: boolean
}

export interface AlipayNotificationAttempt {
  url: string
  body: string
  params: Record<string, string>
  at: number
  status: number | null
  reply: string | null
  error: string | null
}

const FILES = { alipayKey: 'alipay_private_key.pem', alipayPublic: 'alipay_public_key.pem', appKey: 'app_private_key.pem', appPublic: 'app_public_key.pem', ids: 'alipay-simulator.json', credentials: 'alipay-credentials.json' }

class GatewayError {
  constructor(
    readonly code: string,
    readonly msg: string,
    readonly subCode: string,
    readonly subMsg: string,
  ) {}
}

const acq = (subCode: string, subMsg: string) => new GatewayError('40004', 'Business Failed', subCode, subMsg)
/** The extra fields a request asked to be answered (query_options: a list of names). */
const queryOptions = (biz: Record<string, unknown>): unknown[] => (Array.isArray(biz.query_options) ? biz.query_options : [])

const DAY_MS = 86_400_000
const BEIJING_MS = 8 * 3_600_000

/**
 * When a timeout_express / qr_code_timeout_express counted from `from` runs out: 1m to 15d in whole minutes,
 * hours or days, or 1c (the end of that Beijing day). Null for anything else: Alipay documents no other form.
 */
export function timeoutEnd(value: string, from: number): number | null {
  if (value === '1c') return (Math.floor((from + BEIJING_MS) / DAY_MS) + 1) * DAY_MS - BEIJING_MS
  const m = /^([1-9]\d*)([mhd])$/.exec(value)
  const ms = m ? Number(m[1]) * (m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3_600_000 : DAY_MS) : 0
  return ms >= 60_000 && ms <= 15 * DAY_MS ? from + ms : null
}

function digits(n: number): string {
  let s = ''
  for (const b of randomBytes(n)) s += String(b % 10)
  return s
}

interface Identity {
  alipayKey: KeyObject
  alipayPublicKeyPem: string
  appId: string
  appPrivateKeyPem: string
  appPublicKeyPem: string
  sellerId: string
}

function loadIdentity(dir: string | undefined): Identity {
  const read = (f: string) => (dir && existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : null)
  const ids = read(FILES.ids)
  if (ids && read(FILES.alipayKey) && read(FILES.appKey)) {
    const parsed = JSON.parse(ids) as { app_id: string; seller_id: string }
    const alipayKey = createPrivateKey(read(FILES.alipayKey)!)
    const appKey = createPrivateKey(read(FILES.appKey)!)
    return {
      alipayKey,
      alipayPublicKeyPem: createPublicKey(alipayKey).export({ type: 'spki', format: 'pem' }) as string,
      appId: parsed.app_id,
      appPrivateKeyPem: read(FILES.appKey)!,
      appPublicKeyPem: createPublicKey(appKey).export({ type: 'spki', format: 'pem' }) as string,
      sellerId: parsed.seller_id,
    }
  }
  const alipay = generateRsaKeyPair()
  const app = generateRsaKeyPair()
  const id: Identity = {
    alipayKey: alipay.privateKey,
    alipayPublicKeyPem: alipay.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    appId: `2021${digits(12)}`,
    appPrivateKeyPem: app.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    appPublicKeyPem: app.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    sellerId: `2088${digits(12)}`,
  }
  if (dir) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, FILES.alipayKey), id.alipayKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 })
    writeFileSync(join(dir, FILES.alipayPublic), id.alipayPublicKeyPem)
    writeFileSync(join(dir, FILES.appKey), id.appPrivateKeyPem, { mode: 0o600 })
    writeFileSync(join(dir, FILES.appPublic), id.appPublicKeyPem)
    writeFileSync(join(dir, FILES.ids), JSON.stringify({ app_id: id.appId, seller_id: id.sellerId }, null, 2) + '\n')
  }
  return id
}

export class AlipaySimulator {
  readonly trades = new Map<string, SimTrade>()
  readonly attempts: AlipayNotificationAttempt[] = []
  readonly identity: Identity
  sendNotifications = true
  /**
   * While true, a refund is accepted but not yet made, until settleRefunds(): fund_change N, its query with
   * refund_amount but no refund_status (which Alipay's SDK reads as "not received, or failed"), and the same
   * out_request_no sent again answered fund_change N without refunding twice.
   */
  holdRefunds = false
  /** While true, new refunds are refused as when the merchant's balance cannot cover them (ACQ.SELLER_BALANCE_NOT_ENOUGH). */
  balanceShort = false
  url = ''
  #apps = new Map<string, KeyObject>()
  #server: Server | null = null
  #timers = new Set<NodeJS.Timeout>()
  #bills = new Map<string, Buffer>()
  #sweeper: NodeJS.Timeout | null = null
  #o: AlipaySimulatorOptions & { retryScale: number }

  constructor(options: AlipaySimulatorOptions = {}) {
    this.#o = { ...options, retryScale: options.retryScale ?? 1 }
    this.identity = loadIdentity(options.keysDir)
    this.addApp({ appId: this.identity.appId, appPublicKeyPem: this.identity.appPublicKeyPem })
    for (const a of options.apps ?? []) this.addApp(a)
  }

  addApp(app: SimApp): void {
    this.#apps.set(app.appId, loadPublicKey(app.appPublicKeyPem))
  }

  now(): number {
    return this.#o.now?.() ?? Date.now()
  }

  /** Makes every refund held so far (holdRefunds). */
  settleRefunds(): void {
    for (const t of this.trades.values()) {
      for (const r of t.refunds) {
        // Made now: its time (gmt_refund_pay) and its bill's day are this moment's.
        if (r.settled) continue
        Object.assign(r, { settled: true, at: this.now() })
        this.#refundMade(t, r)
      }
    }
  }

  get gatewayUrl(): string {
    return `${this.url}/gateway.do`
  }

  credentialsDocument(): Record<string, unknown> {
    return {
      app_id: this.identity.appId,
      app_private_key: this.identity.appPrivateKeyPem,
      alipay_public_key: this.identity.alipayPublicKeyPem,
      gateway_url: this.gatewayUrl,
      seller_id: this.identity.sellerId,
    }
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res))
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject)
      this.#server!.listen(this.#o.port ?? 0, this.#o.host ?? '127.0.0.1', () => resolve())
    })
    const addr = this.#server.address() as AddressInfo
    this.url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
    if (this.#o.keysDir) writeFileSync(join(this.#o.keysDir, FILES.credentials), JSON.stringify(this.credentialsDocument(), null, 2) + '\n', { mode: 0o600 })
    // Alipay closes lapsed trades on its own (and tells the merchant about scanned ones), not only when asked.
    this.#sweeper = setInterval(() => {
      for (const t of this.trades.values()) this.#expireIfDue(t)
    }, 1000)
    this.#sweeper.unref()
    return this
  }

  async stop(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper)
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    if (!this.#server) return
    this.#server.closeAllConnections()
    await new Promise<void>((r) => this.#server!.close(() => r()))
    this.#server = null
  }

  // ---- the customer's side ----

  tradeByQr(qrCode: string): SimTrade | undefined {
    for (const t of this.trades.values()) if (t.qrCode === qrCode) return t
    return undefined
  }

  /** Time passes: an unpaid trade past its timeout closes (and, if it was scanned, says so). */
  #expireIfDue(t: SimTrade): void {
    if ((t.status === 'PRECREATED' || t.status === 'WAIT_BUYER_PAY') && this.now() >= t.expiresAt) {
      const scanned = t.status === 'WAIT_BUYER_PAY'
      t.status = 'TRADE_CLOSED'
      t.closedAt = this.now()
      if (scanned && this.sendNotifications) this.#notify(t)
    }
  }

  /** The buyer scans: the trade now exists, waiting for payment. */
  scan(qrCode: string): SimTrade {
    const t = this.tradeByQr(qrCode)
    if (!t) throw new Error('no such qr_code')
    this.#expireIfDue(t)
    if (t.status === 'PRECREATED') {
      t.status = 'WAIT_BUYER_PAY'
      t.tradeNo = `${shanghaiDate(this.now()).replaceAll('-', '')}2200${digits(16)}`
      t.scannedAt = this.now()
      t.expiresAt = Math.min(t.expiresAt, timeoutEnd(t.timeoutExpress, t.scannedAt)!)
    }
    return t
  }

  /** The buyer pays. `force` pays a closed trade (a success that raced the close); `notify: false` drops the notification. */
  pay(qrCode: string, opts: { force?: boolean; notify?: boolean } = {}): SimTrade {
    const t = this.scan(qrCode)
    if (t.status !== 'WAIT_BUYER_PAY' && !(opts.force && t.status === 'TRADE_CLOSED' && t.paidAt === null)) throw new Error(`the trade is ${t.status}`)
    if (!t.tradeNo) t.tradeNo = `${shanghaiDate(this.now()).replaceAll('-', '')}2200${digits(16)}`
    t.status = 'TRADE_SUCCESS'
    t.paidAt = Math.floor(this.now() / 1000) * 1000
    if (opts.notify ?? this.sendNotifications) this.#notify(t)
    return t
  }

  /** The buyer scans and walks away: the trade waits, then closes at its timeout. */
  decline(qrCode: string): SimTrade {
    return this.scan(qrCode)
  }

  /**
   * The merchant refunds in Alipay's merchant console, not through the API: done at once under a batch number the
   * console makes up. Only the day's bill shows the refund; one in full closes the trade, as through the API.
   */
  consoleRefund(t: SimTrade, amount: number): void {
    if (t.status !== 'TRADE_SUCCESS') throw new Error(`the trade is ${t.status}`)
    const refunded = t.refunds.reduce((s, r) => s + r.amount, 0)
    if (refunded + amount > t.total) throw new Error('more than is left to refund')
    const r = { outRequestNo: `${alipayTime(this.now()).replace(/\D/g, '')}${randomBytes(4).readUInt32BE(0)}`, amount, at: this.now(), settled: true }
    t.refunds.push(r)
    if (refunded + amount === t.total) this.#refundMade(t, r)
  }

  #notifyParams(t: SimTrade, notifyId: string, refund?: SimRefund): Record<string, string> {
    const paid = t.paidAt !== null
    const amount = fenToYuan(t.total)
    const p: Record<string, string> = {
      gmt_create: alipayTime(t.scannedAt ?? t.createdAt),
      charset: 'utf-8',
      seller_email: 'sim-seller@alipay.example',
      subject: t.subject,
      buyer_id: '2088102534368455',
      invoice_amount: paid ? amount : '0.00',
      notify_id: notifyId,
      fund_bill_list: paid ? JSON.stringify([{ amount, fundChannel: 'ALIPAYACCOUNT' }]) : '',
      notify_type: 'trade_status_sync',
      trade_status: t.status,
      receipt_amount: paid ? amount : '0.00',
      app_id: t.appId,
      buyer_pay_amount: paid ? amount : '0.00',
      seller_id: this.identity.sellerId,
      gmt_payment: paid ? alipayTime(t.paidAt!) : '',
      gmt_close: t.closedAt !== null && t.status === 'TRADE_CLOSED' ? alipayTime(t.closedAt) : '',
      // Refund fields on the notification a refund brings (B.7): the total refunded, and that refund's request.
      refund_fee: refund ? fenToYuan(t.refunds.reduce((sum, r) => sum + (r.settled ? r.amount : 0), 0)) : '',
      gmt_refund: refund ? alipayTime(refund.at) : '',
      out_biz_no: refund?.outRequestNo ?? '',
      notify_time: alipayTime(this.now()),
      version: '1.0',
      out_trade_no: t.outTradeNo,
      total_amount: amount,
      trade_no: t.tradeNo ?? '',
      auth_app_id: t.appId,
      buyer_logon_id: 'sim***@alipay.example',
      point_amount: '0.00',
    }
    for (const k of Object.keys(p)) if (p[k] === '') delete p[k]
    return { ...p, sign: rsa2Sign(notifySignContent(p), this.identity.alipayKey), sign_type: 'RSA2' }
  }

  /** Tells the trade's notify_url how it stands; after a refund was made, naming that refund (B.7). */
  #notify(t: SimTrade, refund?: SimRefund): void {
    if (!t.notifyUrl) return
    const notifyId = `${shanghaiDate(this.now()).replaceAll('-', '')}00222${digits(24)}`
    this.#deliver(t.notifyUrl, this.#notifyParams(t, notifyId, refund), 0)
  }

  /** A refund made now: a full one closes the trade, as Alipay does (B.7: TRADE_CLOSED on a full refund). Either way it tells. */
  #refundMade(t: SimTrade, r: SimRefund): void {
    if (t.refunds.every((x) => x.settled) && t.refunds.reduce((s, x) => s + x.amount, 0) === t.total) {
      t.status = 'TRADE_CLOSED'
      t.closedAt = this.now()
    }
    if (this.sendNotifications) this.#notify(t, r)
  }

  /** One try; anything but the exact body `success` is retried on Alipay's schedule with the same notify_id. */
  #deliver(url: string, params: Record<string, string>, attempt: number): void {
    void (async () => {
      const body = new URLSearchParams(params).toString()
      const record: AlipayNotificationAttempt = { url, body, params, at: Date.now(), status: null, reply: null, error: null }
      this.attempts.push(record)
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body, signal: AbortSignal.timeout(15_000) })
        record.status = res.status
        record.reply = await res.text()
      } catch (err) {
        record.error = (err as Error).message
      }
      if (record.reply === 'success') return
      const delay = ALIPAY_RETRY_SCHEDULE_S[attempt]
      if (delay === undefined || !this.#server) return
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        this.#deliver(url, params, attempt + 1)
      }, delay * 1000 * this.#o.retryScale)
      this.#timers.add(timer)
    })()
  }

  // ---- the gateway ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const [path, queryText = ''] = (req.url ?? '/').split('?') as [string, string?]
    if (path === '/gateway.do' && req.method === 'POST') return this.#gateway(res, queryText, body, req.headers['content-type'] ?? '')
    if (path.startsWith('/bill/')) {
      const file = this.#bills.get(path.slice('/bill/'.length))
      res.writeHead(file ? 200 : 404, { 'content-type': file ? 'application/zip' : 'text/plain' })
      return void res.end(file ?? 'not found')
    }
    return this.#customer(req, res, path, new URLSearchParams(queryText), new URLSearchParams(body))
  }

  /** Emits `{"<key>":<payload>,"sign":"…"}`, signing exactly the payload text sent (with Alipay's `\/` escapes). */
  #respond(res: ServerResponse, key: string, payload: Record<string, unknown>, sign = true): void {
    const text = JSON.stringify(payload).replaceAll('/', '\\/')
    const body = sign ? `{"${key}":${text},"sign":"${rsa2Sign(text, this.identity.alipayKey)}"}` : `{"${key}":${text}}`
    res.writeHead(200, { 'content-type': 'text/html;charset=utf-8', trace_id: randomBytes(12).toString('hex') })
    res.end(body)
  }

  #gateway(res: ServerResponse, queryText: string, body: string, contentType: string): void {
    // Parameters may come in the query string, the form body, or both (the Node SDK splits them).
    const params: Record<string, string> = Object.fromEntries(new URLSearchParams(queryText))
    if (contentType.includes('application/x-www-form-urlencoded')) Object.assign(params, Object.fromEntries(new URLSearchParams(body)))
    const method = params.method ?? ''
    const key = method ? responseKeyOf(method) : 'error_response'
    const error = (e: GatewayError) => this.#respond(res, key, { code: e.code, msg: e.msg, sub_code: e.subCode, sub_msg: e.subMsg })
    if (!method) return error(new GatewayError('40001', 'Missing Required Arguments', 'isv.missing-method', '缺少方法名参数'))
    if (!params.app_id) return error(new GatewayError('40001', 'Missing Required Arguments', 'isv.missing-app-id', '缺少AppID参数'))
    const appKey = this.#apps.get(params.app_id)
    if (!appKey) return error(new GatewayError('40002', 'Invalid Arguments', 'isv.invalid-app-id', '无效的AppID参数'))
    if (!params.sign) return error(new GatewayError('40001', 'Missing Required Arguments', 'isv.missing-signature', '缺少签名参数'))
    if (params.sign_type !== 'RSA2') return error(new GatewayError('40002', 'Invalid Arguments', 'isv.invalid-signature-type', '无效的签名类型参数'))
    // charset, timestamp and version are required (B.2); Alipay's code list (105806) has no missing-charset code.
    if (!params.timestamp) return error(new GatewayError('40001', 'Missing Required Arguments', 'isv.missing-timestamp', '缺少时间戳参数'))
    if (!params.version) return error(new GatewayError('40001', 'Missing Required Arguments', 'isv.missing-version', '缺少版本参数'))
    if (params.charset?.toLowerCase() !== 'utf-8') return error(new GatewayError('40002', 'Invalid Arguments', 'isv.invalid-charset', '字符集错误'))
    const sentAt = parseAlipayTime(params.timestamp)
    if (sentAt === null) return error(new GatewayError('40002', 'Invalid Arguments', 'isv.invalid-timestamp', '非法的时间戳参数'))
    const content = requestSignContent(params)
    if (!rsa2Verify(content, params.sign, appKey)) {
      return error(new GatewayError('40002', 'Invalid Arguments', 'isv.invalid-signature', `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${content}`))
    }
    const tolerance = this.#o.timestampToleranceSeconds
    if (tolerance !== undefined && Math.abs(sentAt - this.now()) > tolerance * 1000) {
      return error(new GatewayError('40002', 'Invalid Arguments', 'isv.invalid-timestamp', '非法的时间戳参数'))
    }
    let biz: Record<string, any>
    try {
      biz = JSON.parse(params.biz_content ?? '{}')
    } catch {
      return error(new GatewayError('40002', 'Invalid Arguments', 'isv.invalid-biz-content', 'biz_content格式错误'))
    }
    try {
      this.#respond(res, key, this.#dispatch(method, params, biz))
    } catch (err) {
      if (err instanceof GatewayError) return error(err)
      return error(new GatewayError('20000', 'Service Currently Unavailable', 'isp.unknow-error', '系统繁忙'))
    }
  }

  #trade(appId: string, biz: Record<string, any>): SimTrade {
    const t = biz.trade_no
      ? [...this.trades.values()].find((x) => x.appId === appId && x.tradeNo === biz.trade_no)
      : this.trades.get(`${appId}:${biz.out_trade_no}`)
    if (!t) throw acq('ACQ.TRADE_NOT_EXIST', '交易不存在')
    this.#expireIfDue(t)
    return t
  }

  #dispatch(method: string, params: Record<string, string>, biz: Record<string, any>): Record<string, unknown> {
    const ok = { code: '10000', msg: 'Success' }
    const appId = params.app_id!
    switch (method) {
      case 'alipay.trade.precreate': {
        if (typeof biz.out_trade_no !== 'string' || !/^[A-Za-z0-9_\-.|*]{1,64}$/.test(biz.out_trade_no)) throw acq('ACQ.INVALID_PARAMETER', '参数无效 out_trade_no')
        const total = typeof biz.total_amount === 'string' ? yuanToFen(biz.total_amount) : null
        if (total === null || total < 1 || total > 10_000_000_000) throw acq('ACQ.INVALID_PARAMETER', '参数无效 total_amount')
        if (typeof biz.subject !== 'string' || !biz.subject) throw acq('ACQ.INVALID_PARAMETER', '参数无效 subject')
        // timeout_express counts from the trade's creation, the scan; qr_code_timeout_express from the code. A
        // code nobody scans lapses after two hours without the latter; a trade after 15 days without the former.
        const now = this.now()
        const timeoutExpress: unknown = biz.timeout_express ?? '15d'
        const qrTimeout: unknown = biz.qr_code_timeout_express ?? '120m'
        const valid = (v: unknown): v is string => typeof v === 'string' && timeoutEnd(v, now) !== null
        if (!valid(timeoutExpress)) throw acq('ACQ.INVALID_PARAMETER', '参数无效 timeout_express')
        if (!valid(qrTimeout)) throw acq('ACQ.INVALID_PARAMETER', '参数无效 qr_code_timeout_express')
        const existing = this.trades.get(`${appId}:${biz.out_trade_no}`)
        if (existing) {
          this.#expireIfDue(existing)
          if (existing.status === 'TRADE_SUCCESS' || existing.status === 'TRADE_FINISHED') throw acq('ACQ.TRADE_HAS_SUCCESS', '交易已被支付')
          if (existing.status === 'TRADE_CLOSED') throw acq('ACQ.TRADE_HAS_CLOSE', '交易已经关闭')
          if (existing.total !== total) throw acq('ACQ.INVALID_PARAMETER', '订单信息与已有交易不一致')
          // The code made first, its timeout counted from then (whether Alipay restarts it is not documented).
          return { ...ok, out_trade_no: existing.outTradeNo, qr_code: existing.qrCode }
        }
        const trade: SimTrade = {
          appId, outTradeNo: biz.out_trade_no, subject: biz.subject, total, notifyUrl: params.notify_url ?? null, expiresAt: timeoutEnd(qrTimeout, now)!, timeoutExpress,
          createdAt: now, status: 'PRECREATED', qrCode: `https://qr.alipay.com/bax0${randomBytes(12).toString('hex')}`, tradeNo: null, scannedAt: null,
          paidAt: null, closedAt: null, refunds: [],
        }
        this.trades.set(`${appId}:${trade.outTradeNo}`, trade)
        return { ...ok, out_trade_no: trade.outTradeNo, qr_code: trade.qrCode }
      }
      case 'alipay.trade.query': {
        const t = this.#trade(appId, biz)
        if (t.status === 'PRECREATED' || (t.status === 'TRADE_CLOSED' && !t.tradeNo)) throw acq('ACQ.TRADE_NOT_EXIST', '交易不存在')
        const paid = t.paidAt !== null
        const refunded = t.refunds.reduce((s, r) => s + r.amount, 0)
        return {
          ...ok, trade_no: t.tradeNo, out_trade_no: t.outTradeNo, buyer_logon_id: 'sim***@alipay.example', trade_status: t.status,
          total_amount: fenToYuan(t.total), buyer_pay_amount: paid ? fenToYuan(t.total) : '0.00', point_amount: '0.00',
          invoice_amount: paid ? fenToYuan(t.total) : '0.00', receipt_amount: paid ? fenToYuan(t.total) : '0.00',
          ...(paid ? { send_pay_date: alipayTime(t.paidAt!), fund_bill_list: [{ fund_channel: 'ALIPAYACCOUNT', amount: fenToYuan(t.total) }] } : {}),
          ...(refunded ? { refund_fee: fenToYuan(refunded) } : {}),
          buyer_user_id: '2088102534368455',
        }
      }
      case 'alipay.trade.close': {
        // As query and refund: trade_no wins when both are given (B.6), and only this app's trades are found.
        const t = this.#trade(appId, biz)
        if (t.status === 'TRADE_SUCCESS' || t.status === 'TRADE_FINISHED') throw acq('ACQ.TRADE_STATUS_ERROR', '交易状态不合法')
        const scanned = t.tradeNo !== null
        t.status = 'TRADE_CLOSED'
        t.closedAt ??= this.now()
        // Before the scan the trade "does not exist" yet, but closing still stops any later payment.
        if (!scanned) throw acq('ACQ.TRADE_NOT_EXIST', '交易不存在')
        return { ...ok, trade_no: t.tradeNo, out_trade_no: t.outTradeNo }
      }
      case 'alipay.trade.refund': {
        const t = this.#trade(appId, biz)
        const amount = typeof biz.refund_amount === 'string' ? yuanToFen(biz.refund_amount) : null
        if (amount === null || amount < 1) throw acq('ACQ.INVALID_PARAMETER', '参数无效 refund_amount')
        // out_request_no is required for a partial refund (B.6); a full one without it is numbered by the trade.
        if (typeof biz.out_request_no !== 'string' && amount < t.total) throw acq('ACQ.INVALID_PARAMETER', '参数无效 out_request_no：部分退款必填')
        const requestNo = typeof biz.out_request_no === 'string' ? biz.out_request_no : t.outTradeNo
        const again = t.refunds.find((r) => r.outRequestNo === requestNo)
        const refunded = t.refunds.reduce((s, r) => s + r.amount, 0)
        const reply = (fundChange: 'Y' | 'N', total: number) => ({ ...ok, trade_no: t.tradeNo, out_trade_no: t.outTradeNo, buyer_logon_id: 'sim***@alipay.example', fund_change: fundChange, refund_fee: fenToYuan(total), gmt_refund_pay: alipayTime(this.now()) })
        const settledTotal = t.refunds.reduce((s, r) => s + (r.settled ? r.amount : 0), 0)
        if (again) return reply('N', settledTotal)
        if (t.status !== 'TRADE_SUCCESS') throw acq('ACQ.TRADE_STATUS_ERROR', '交易状态不合法')
        if (this.balanceShort) throw acq('ACQ.SELLER_BALANCE_NOT_ENOUGH', '卖家余额不足')
        if (refunded + amount > t.total) throw acq('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限')
        const made = { outRequestNo: requestNo, amount, at: this.now(), settled: !this.holdRefunds }
        t.refunds.push(made)
        if (made.settled) this.#refundMade(t, made)
        return this.holdRefunds ? reply('N', settledTotal) : reply('Y', settledTotal + amount)
      }
      case 'alipay.trade.fastpay.refund.query': {
        const t = this.#trade(appId, biz)
        const r = t.refunds.find((x) => x.outRequestNo === (biz.out_request_no ?? t.outTradeNo))
        if (!r) return { ...ok }
        return {
          ...ok,
          trade_no: t.tradeNo,
          out_trade_no: t.outTradeNo,
          out_request_no: r.outRequestNo,
          total_amount: fenToYuan(t.total),
          refund_amount: fenToYuan(r.amount),
          ...(r.settled ? { refund_status: 'REFUND_SUCCESS' } : {}),
          // As Alipay does, the time it was made only when asked for.
          ...(r.settled && queryOptions(biz).includes('gmt_refund_pay') ? { gmt_refund_pay: alipayTime(r.at) } : {}),
        }
      }
      case 'alipay.data.dataservice.bill.downloadurl.query': {
        if (biz.bill_type !== 'trade' || typeof biz.bill_date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(biz.bill_date)) throw acq('isv.invalid-parameter', '参数无效')
        // As Alipay does, a day without a payment or a refund has no bill at all.
        if (this.#billRows(appId, biz.bill_date).length === 0) throw acq('isp.bill_not_exist', '账单不存在')
        const token = randomBytes(12).toString('hex')
        this.#bills.set(token, this.billZip(appId, biz.bill_date))
        return { ...ok, bill_download_url: `${this.url}/bill/${token}` }
      }
      default:
        throw new GatewayError('40002', 'Invalid Arguments', 'isv.invalid-method', '不存在的方法名')
    }
  }

  /** The day's bill as Alipay ships it: a zip holding the detail CSV between `#` comment lines. */
  billZip(appId: string, date: string): Buffer {
    const header = '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注'
    const rows = this.#billRows(appId, date)
    const csv = ['#支付宝业务明细查询', `#账号：[${this.identity.sellerId}0156]`, `#起始日期：[${date} 00:00:00]   终止日期：[${date} 23:59:59]`, '#-----------------------------------------业务明细列表----------------------------------------', header, ...rows, '#-----------------------------------------业务明细列表结束------------------------------------', `#交易合计：${rows.length}笔`, `#导出时间：[${alipayTime(this.now())}]`].join('\r\n') + '\r\n'
    const day = date.replaceAll('-', '')
    return writeZip([{ name: `${this.identity.sellerId}0156_${day}_业务明细.csv`, data: Buffer.from(csv, 'utf8') }])
  }

  /** The detail lines of a day's bill: the payments made and the refunds settled that Beijing day. */
  #billRows(appId: string, date: string): string[] {
    const rows: string[] = []
    for (const t of this.trades.values()) {
      if (t.appId !== appId || t.paidAt === null) continue
      const fee = fenToYuan(-Math.round((t.total * 6) / 1000))
      if (shanghaiDate(t.paidAt) === date) {
        rows.push([t.tradeNo, t.outTradeNo, '交易', t.subject, alipayTime(t.scannedAt ?? t.createdAt), alipayTime(t.paidAt), '', '', '', '', 'sim***@alipay.example', fenToYuan(t.total), fenToYuan(t.total), '0.00', '0.00', '0.00', '0.00', '0.00', '', '0.00', '0.00', '', fee, '0.00', ''].map(csvField).join(','))
      }
      for (const r of t.refunds) {
        if (!r.settled || shanghaiDate(r.at) !== date) continue
        rows.push([t.tradeNo, t.outTradeNo, '退款', t.subject, alipayTime(t.scannedAt ?? t.createdAt), alipayTime(r.at), '', '', '', '', 'sim***@alipay.example', fenToYuan(-r.amount), fenToYuan(-r.amount), '0.00', '0.00', '0.00', '0.00', '0.00', '', '0.00', '0.00', r.outRequestNo, '0.00', '0.00', ''].map(csvField).join(','))
      }
    }
    return rows
  }

  // ---- the customer's page ----

  #customer(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, form: URLSearchParams): void {
    const send = (status: number, html: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>支付宝模拟器</title></head><body><h2>支付宝模拟器 Alipay simulator</h2>${html}</body></html>`)
    }
    if (req.method === 'POST' && (path === '/sim/pay' || path === '/sim/decline')) {
      const qr = form.get('qr_code') ?? ''
      try {
        if (path === '/sim/pay') this.pay(qr, { notify: form.get('notify') !== 'false', force: form.get('force') === 'true' })
        else this.decline(qr)
      } catch (err) {
        return send(409, `<p>${escape((err as Error).message)}</p><p><a href="/sim">返回</a></p>`)
      }
      res.writeHead(303, { location: `/sim/scan?qr_code=${encodeURIComponent(qr)}` })
      return void res.end()
    }
    if (path === '/sim/scan') {
      const t = this.tradeByQr(query.get('qr_code') ?? '')
      if (!t) return send(404, '<p>二维码无效 (unknown qr_code)</p>')
      this.#expireIfDue(t)
      const qr = escape(t.qrCode)
      const open = t.status === 'PRECREATED' || t.status === 'WAIT_BUYER_PAY'
      const actions = open
        ? `<form method="post" action="/sim/pay"><input type="hidden" name="qr_code" value="${qr}"><button>付款 Pay ¥${fenToYuan(t.total)}</button></form>
<form method="post" action="/sim/decline"><input type="hidden" name="qr_code" value="${qr}"><button>扫码后放弃 Decline</button></form>
<p>不操作则二维码到期失效 (do nothing to let it lapse at ${escape(alipayTime(t.expiresAt))})</p>`
        : ''
      return send(200, `<h1>${escape(t.subject)}</h1><p>¥${fenToYuan(t.total)} · ${escape(t.outTradeNo)} · <b>${t.status}</b></p>${actions}`)
    }
    const list = [...this.trades.values()]
      .reverse()
      .map((t) => {
        this.#expireIfDue(t)
        return `<li><a href="/sim/scan?qr_code=${encodeURIComponent(t.qrCode)}">${escape(t.outTradeNo)}</a> ¥${fenToYuan(t.total)} ${t.status}</li>`
      })
      .join('')
    return send(200, `<p>app_id ${escape(this.identity.appId)} · seller ${escape(this.identity.sellerId)}</p><ul>${list || '<li>(no trades yet)</li>'}</ul>`)
  }
}

/** A CSV field, quoted by RFC 4180 when it holds a separator, a quote or a line break (a product name may). */
function csvField(value: string | null): string {
  const v = value ?? ''
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
