// The WeChat Pay API v3 adapter (Native: the customer scans code_url). Each call loads the order's merchant's
// credentials, signs the request, and verifies every 2xx response before believing it. Its only state is the
// platform certificates WeChat rotated in since the credentials were set (platform-certificates.ts).
import { createHash, type KeyObject } from 'node:crypto'
import type { Clock } from '../../core/ports.ts'
import {
  ChannelError,
  type ChannelNotification,
  type ChannelNotificationRequest,
  type ChannelPaymentState,
  type ChannelRefundInput,
  type ChannelRefundRef,
  type ChannelRefundState,
  type ChannelReply,
  type CreatedPayment,
  type CreatePaymentInput,
  type PaymentChannel,
} from '../../core/payment-channel.ts'
import type { Order } from '../../core/order.ts'
import { channelFetch, type ChannelFetch } from '../channel-http.ts'
import { NotificationRejected } from '../notification-rejected.ts'
import { parseTradeBill, type TradeBill } from './bill.ts'
import type { WechatPayCredentials } from './credentials.ts'
import { certificatesInAnswer, PlatformCertificates } from './platform-certificates.ts'
import { decryptResource, header, signRequest, verifyWechatSignature, WechatSignatureError, type HeaderBag } from './signing.ts'
import {
  isWechatError,
  nativePrepayRequest,
  paymentStateOf,
  refundNoticeOf,
  refundStateOf,
  toWechatAmount,
  wechatRefundReason,
  type NotificationEnvelope,
  type RefundNotice,
  type RefundRequest,
  type RefundResponse,
  type Transaction,
} from './transformers.ts'

export interface WechatPayChannelOptions {
  /** The merchant's live credentials; null when the merchant has not set any. */
  credentials(merchantId: string): Promise<WechatPayCredentials | null>
  /** Candidates for a notification that arrived without a merchant in its URL. */
  credentialsForSerial?(serial: string): Promise<{ merchantId: string; credentials: WechatPayCredentials }[]>
  clock: Clock
  fetch?: ChannelFetch
  timeoutMs?: number
}

interface ApiResult<T> {
  status: number
  body: T | null
  /** The answer's Date header: WeChat's clock, to name our own clock's drift when WeChat refuses a timestamp. */
  date: string | null
}

/** Past this, a SIGN_ERROR is worth blaming on our clock: WeChat refuses a timestamp more than 5 minutes off. */
const CLOCK_DRIFT_NOTED_MS = 60_000

export { NotificationRejected }

export class WechatPayChannel implements PaymentChannel {
  readonly name = 'wechatpay' as const
  /** A Native code_url can be scanned for 2 hours; the same prepay again gives the current one (protocols A.2). */
  readonly codeLifetimeMs = 2 * 3_600_000
  readonly #o: WechatPayChannelOptions
  readonly #fetch: ChannelFetch
  readonly #certificates: PlatformCertificates

  constructor(options: WechatPayChannelOptions) {
    this.#o = options
    this.#fetch = options.fetch ?? channelFetch
    this.#certificates = new PlatformCertificates((merchantId, creds) => this.#downloadCertificates(merchantId, creds), () => options.clock.now())
  }

  async availableFor(merchantId: string): Promise<boolean> {
    return (await this.#o.credentials(merchantId)) !== null
  }

  async #creds(merchantId: string): Promise<WechatPayCredentials> {
    const c = await this.#o.credentials(merchantId)
    if (!c) throw new ChannelError('the merchant has no WeChat Pay credentials (scanpay channel set … wechatpay)', false, false)
    return c
  }

  /**
   * Signs, sends, and verifies the answer. Non-2xx answers are WeChat's errors, which it does not sign. `trusted`
   * replaces the merchant's keys (and the certificate download an unknown serial brings) with exactly its own.
   */
  async #call<T>(
    merchantId: string,
    creds: WechatPayCredentials,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    trusted?: (answerText: string) => ReadonlyMap<string, KeyObject>,
  ): Promise<ApiResult<T>> {
    const raw = body === undefined ? '' : JSON.stringify(body)
    const authorization = signRequest({
      mchid: creds.mchid,
      serialNo: creds.serialNo,
      privateKey: creds.privateKey,
      method,
      canonicalUrl: path,
      body: raw,
      timestamp: Math.floor(this.#o.clock.now() / 1000),
    })
    const res = await this.#fetch({
      method,
      url: creds.baseUrl + path,
      headers: {
        authorization,
        accept: 'application/json',
        'user-agent': 'scanpay-wechatpay/1',
        ...(raw ? { 'content-type': 'application/json' } : {}),
        // Tells WeChat which of its keys we can verify with, as the official Go SDK does.
        ...(creds.platformKeys.size > 0 ? { 'wechatpay-serial': [...creds.platformKeys.keys()][0]! } : {}),
      },
      body: raw || undefined,
      timeoutMs: this.#o.timeoutMs ?? 10_000,
    })
    if (res.status >= 200 && res.status < 300) {
      try {
        if (trusted) verifyWechatSignature({ headers: res.headers, body: res.text, keys: trusted(res.text), nowMs: this.#o.clock.now() })
        else await this.#verify(merchantId, creds, res.headers, res.text, true)
      } catch (err) {
        // An unverifiable success may be an attacker in the path or a key we lack: never believe it, ask again later.
        throw new ChannelError(`${method} ${path}: response signature rejected: ${(err as Error).message}`, true, true)
      }
    }
    let parsed: unknown = null
    if (res.text) {
      try {
        parsed = JSON.parse(res.text)
      } catch {
        if (res.status < 300) throw new ChannelError(`${method} ${path}: the response is not JSON`, true, true)
      }
    }
    return { status: res.status, body: parsed as T, date: res.headers.get('date') }
  }

  /**
   * verifyWechatSignature with the merchant's keys. In certificate mode a serial they lack may be WeChat's new
   * platform certificate: when `mayDownload`, fetch WeChat's current ones (rate-limited) and check once more,
   * which fails just as the first check did unless the serial turned up.
   */
  async #verify(merchantId: string, creds: WechatPayCredentials, headers: HeaderBag, body: string, mayDownload: boolean): Promise<void> {
    const check = () => verifyWechatSignature({ headers, body, keys: this.#certificates.keys(merchantId, creds), nowMs: this.#o.clock.now() })
    try {
      return check()
    } catch (err) {
      if (!mayDownload || !(err instanceof WechatSignatureError) || err.reason !== 'serial_unknown') throw err
    }
    await this.#certificates.refresh(merchantId, creds, header(headers, 'wechatpay-serial'))
    try {
      check()
    } catch (err) {
      const failure = this.#certificates.lastFailure(merchantId, creds)
      if (err instanceof WechatSignatureError && err.reason === 'serial_unknown' && failure) {
        throw new WechatSignatureError(err.reason, `${err.message} (the last download of WeChat Pay's platform certificates failed: ${failure})`)
      }
      throw err
    }
  }

  /**
   * GET /v3/certificates. Its answer is usually signed by the new certificate it carries, so it is verified with
   * the keys we trust plus those it brings: they decrypted with the APIv3 key, so they are WeChat's.
   */
  async #downloadCertificates(merchantId: string, creds: WechatPayCredentials): Promise<Map<string, KeyObject>> {
    let listed = new Map<string, KeyObject>()
    let r
    try {
      r = await this.#call(merchantId, creds, 'GET', '/v3/certificates', undefined, (answerText) => {
        listed = certificatesInAnswer(creds.apiV3Key, answerText, this.#o.clock.now())
        return new Map([...listed, ...this.#certificates.keys(merchantId, creds)])
      })
    } catch (err) {
      // Signed with a certificate we neither hold nor could decrypt: a wrong APIv3 key looks just like this.
      if (err instanceof ChannelError && listed.size === 0) throw new ChannelError(`${err.message}; no certificate it lists decrypts with the APIv3 key (apiv3_key)`, err.retryable, err.outcomeUnknown)
      throw err
    }
    if (r.status !== 200) throw this.#fail('platform certificate download', r)
    return listed
  }

  /**
   * WeChat's platform certificates in use now, downloaded whatever was learned or tried before (for `channel set
   * --check`): each decrypted with the merchant's APIv3 key, so an empty list means that key is not WeChat's.
   */
  async currentPlatformCertificates(merchantId: string): Promise<Map<string, KeyObject>> {
    return this.#downloadCertificates(merchantId, await this.#creds(merchantId))
  }

  #fail(what: string, r: ApiResult<unknown>): ChannelError {
    const err = (isWechatError(r.body) ? `${r.body.code}: ${r.body.message}` : `HTTP ${r.status}`) + this.#clockDrift(r)
    // 5xx, 429 and SYSTEM_ERROR: WeChat may or may not have acted. Other 4xx in WeChat's error shape: it refused,
    // nothing happened. A 4xx without it (a proxy's 408, a gateway's page) is nobody's refusal: unknown as well,
    // so a refund is asked about again rather than failed while WeChat may have made it.
    const unknown = r.status >= 500 || r.status === 429 || !isWechatError(r.body) || r.body.code === 'SYSTEM_ERROR'
    return new ChannelError(`WeChat Pay ${what} failed: ${err}`, unknown, unknown)
  }

  /**
   * Why WeChat may have refused our signature when the key is right: this server's clock, read against the Date
   * of WeChat's answer. The operator has to fix it (NTP); nothing here can.
   */
  #clockDrift(r: ApiResult<unknown>): string {
    if (r.status !== 401 || !isWechatError(r.body) || r.body.code !== 'SIGN_ERROR' || !r.date) return ''
    const theirs = Date.parse(r.date)
    const drift = this.#o.clock.now() - theirs
    if (Number.isNaN(theirs) || Math.abs(drift) < CLOCK_DRIFT_NOTED_MS) return ''
    return ` (this server's clock is ${Math.round(Math.abs(drift) / 1000)} s ${drift > 0 ? 'ahead of' : 'behind'} WeChat Pay's; WeChat refuses a request timestamp more than 5 minutes off: fix the clock)`
  }

  async createPayment(input: CreatePaymentInput): Promise<CreatedPayment> {
    const creds = await this.#creds(input.order.merchantId)
    let body
    try {
      body = nativePrepayRequest({ appid: creds.appid, mchid: creds.mchid, paymentId: input.paymentId, order: input.order, notifyUrl: input.notifyUrl })
    } catch (err) {
      throw new ChannelError((err as Error).message, false, false)
    }
    const r = await this.#call<{ code_url?: string }>(input.order.merchantId, creds, 'POST', '/v3/pay/transactions/native', body)
    if (r.status !== 200 || typeof r.body?.code_url !== 'string') throw this.#fail('Native prepay', r)
    return { qrContent: r.body.code_url, channelPaymentId: input.paymentId }
  }

  async queryPayment(ref: { paymentId: string; order: Order }): Promise<ChannelPaymentState> {
    const creds = await this.#creds(ref.order.merchantId)
    const path = `/v3/pay/transactions/out-trade-no/${encodeURIComponent(ref.paymentId)}?mchid=${encodeURIComponent(creds.mchid)}`
    const r = await this.#call<Transaction>(ref.order.merchantId, creds, 'GET', path)
    // The prepay never reached WeChat: nothing can be paid under this number.
    if (r.status === 404 && isWechatError(r.body) && r.body.code === 'ORDER_NOT_EXIST') return { status: 'closed' }
    if (r.status !== 200 || !r.body) throw this.#fail('order query', r)
    if (r.body.out_trade_no !== ref.paymentId || (r.body.mchid !== undefined && r.body.mchid !== creds.mchid) || (r.body.appid !== undefined && r.body.appid !== creds.appid)) {
      throw new ChannelError('WeChat Pay answered about another order', true, true)
    }
    return paymentStateOf(r.body)
  }

  async closePayment(ref: { paymentId: string; order: Order }): Promise<void> {
    const creds = await this.#creds(ref.order.merchantId)
    const r = await this.#call(ref.order.merchantId, creds, 'POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(ref.paymentId)}/close`, { mchid: creds.mchid })
    if (r.status === 204 || r.status === 200) return
    // Closing what is closed or never existed leaves it closed: done.
    if (isWechatError(r.body) && (r.body.code === 'ORDER_CLOSED' || r.body.code === 'ORDER_NOT_EXIST')) return
    // Paid before the close arrived (ORDERPAID 订单已支付, "请当作已支付的正常交易"): it takes no other payment, so there
    // is nothing to close, and the question that follows a close finds the payment now instead of at the next check.
    if (isWechatError(r.body) && (r.body.code === 'ORDERPAID' || r.body.code === 'ORDER_PAID')) return
    throw this.#fail('close', r)
  }

  async refund(input: ChannelRefundInput): Promise<ChannelRefundState> {
    const creds = await this.#creds(input.order.merchantId)
    let amount
    try {
      amount = toWechatAmount(input.amount, input.currency)
    } catch (err) {
      throw new ChannelError((err as Error).message, false, false)
    }
    const tradeNo = input.payment ? input.payment.channelTradeNo : input.order.channelTradeNo
    const body: RefundRequest = {
      ...(tradeNo ? { transaction_id: tradeNo } : { out_trade_no: input.payment?.id ?? '' }),
      out_refund_no: input.refundId,
      ...(input.reason ? { reason: wechatRefundReason(input.reason) } : {}),
      ...(input.notifyUrl ? { notify_url: input.notifyUrl } : {}),
      amount: { refund: amount.total, total: input.payment?.amount ?? input.order.amount, currency: 'CNY' },
    }
    if (!body.transaction_id && !body.out_trade_no) throw new ChannelError('no WeChat Pay transaction to refund', false, false)
    const r = await this.#call<RefundResponse>(input.order.merchantId, creds, 'POST', '/v3/refund/domestic/refunds', body)
    if (r.status !== 200 || !r.body) throw this.#fail('refund', r)
    return refundStateOf(this.#sameRefund(r.body, input.refundId))
  }

  async queryRefund(ref: ChannelRefundRef): Promise<ChannelRefundState> {
    const creds = await this.#creds(ref.order.merchantId)
    const r = await this.#call<RefundResponse>(ref.order.merchantId, creds, 'GET', `/v3/refund/domestic/refunds/${encodeURIComponent(ref.refundId)}`)
    if (r.status === 404 && isWechatError(r.body) && r.body.code === 'RESOURCE_NOT_EXISTS') {
      return { status: 'failed', reason: 'WeChat Pay has no such refund', notFound: true }
    }
    if (r.status !== 200 || !r.body) throw this.#fail('refund query', r)
    return refundStateOf(this.#sameRefund(r.body, ref.refundId))
  }

  /** A signed answer about another refund settles nothing of ours: ask again. */
  #sameRefund(r: RefundResponse, refundId: string): RefundResponse {
    if (r.out_refund_no !== refundId) throw new ChannelError(`WeChat Pay answered about refund ${r.out_refund_no}, not ${refundId}`, true, true)
    return r
  }

  /**
   * Fetches and parses the trade bill of a Beijing day (`yyyy-MM-dd`) for reconciliation. The file itself
   * is not signed; its SHA-1 from the signed tradebill answer is checked instead.
   */
  async downloadTradeBill(merchantId: string, billDate: string): Promise<TradeBill> {
    const creds = await this.#creds(merchantId)
    const r = await this.#call<{ download_url?: string; hash_type?: string; hash_value?: string }>(
      merchantId,
      creds,
      'GET',
      `/v3/bill/tradebill?bill_date=${encodeURIComponent(billDate)}&bill_type=ALL`,
    )
    // WeChat Pay makes no bill for a day without a payment: that day's bill is empty, not an error.
    if (r.status === 400 && isWechatError(r.body) && r.body.code === 'NO_STATEMENT_EXIST') return { rows: [], summary: { count: 0, settledTotal: 0, refundTotal: 0, feeTotal: 0 } }
    if (r.status !== 200 || typeof r.body?.download_url !== 'string') throw this.#fail('tradebill', r)
    const download = new URL(r.body.download_url)
    const canonical = download.pathname + download.search
    const res = await this.#fetch({
      method: 'GET',
      url: r.body.download_url,
      headers: {
        authorization: signRequest({ mchid: creds.mchid, serialNo: creds.serialNo, privateKey: creds.privateKey, method: 'GET', canonicalUrl: canonical, body: '', timestamp: Math.floor(this.#o.clock.now() / 1000) }),
        accept: '*/*',
      },
      timeoutMs: this.#o.timeoutMs ?? 30_000,
    })
    if (res.status !== 200) throw new ChannelError(`WeChat Pay bill download failed: HTTP ${res.status}`, true, false)
    // The digest is of the file's bytes: the decoded text has lost a leading byte order mark, if the file has one.
    // The file is not signed: its hash from the signed answer is what vouches for it, so a bill without one is
    // not believed (reconciled against it, a forged or cut file would pass for WeChat's word).
    if (r.body.hash_type !== 'SHA1' || !r.body.hash_value) {
      throw new ChannelError(`WeChat Pay's bill came without a SHA-1 to check it by (hash_type ${JSON.stringify(r.body.hash_type ?? null)})`, true, false)
    }
    if (createHash('sha1').update(res.bytes ?? res.text).digest('hex') !== r.body.hash_value.toLowerCase()) {
      throw new ChannelError('WeChat Pay bill download does not match its SHA-1', true, false)
    }
    return parseTradeBill(res.text)
  }

  /** Verify (signature, skew, probe) → decrypt with the APIv3 key → map. Throws NotificationRejected. */
  async parseNotification(req: ChannelNotificationRequest): Promise<ChannelNotification> {
    const candidates = req.merchantId
      ? [{ merchantId: req.merchantId, credentials: await this.#o.credentials(req.merchantId) }]
      : await this.#candidates(req.headers)
    let lastError: NotificationRejected | null = null
    for (const { merchantId, credentials } of candidates) {
      if (!credentials) continue
      try {
        return { ...(await this.#parseFor(merchantId, credentials, req)), merchantId }
      } catch (err) {
        if (!(err instanceof NotificationRejected)) throw err
        lastError = err
        // A bad signature, probe or skew is the same for every candidate: stop at once.
        if (err.reason !== 'decrypt_failed') break
      }
    }
    throw lastError ?? new NotificationRejected('merchant_unknown', 'no merchant with WeChat Pay credentials matches this notification')
  }

  /**
   * For the notify URL without a merchant id (the URLs ScanPay gives WeChat carry one): the merchants whose stored
   * credentials trust the notification's Wechatpay-Serial (ChannelCredentials.wechatpayBySerial). A rotated-in
   * certificate is in nobody's stored credentials, so such a notification finds no merchant and is refused; it
   * never downloads certificates, which would need a merchant to download for.
   */
  async #candidates(headers: ChannelNotificationRequest['headers']) {
    const serial = headers['wechatpay-serial']
    if (typeof serial !== 'string' || !this.#o.credentialsForSerial) return []
    return this.#o.credentialsForSerial(serial)
  }

  async #parseFor(merchantId: string, creds: WechatPayCredentials, req: ChannelNotificationRequest): Promise<ChannelNotification> {
    try {
      await this.#verify(merchantId, creds, req.headers, req.rawBody, req.merchantId !== undefined)
    } catch (err) {
      if (err instanceof WechatSignatureError) throw new NotificationRejected(err.reason, err.message)
      throw err
    }
    let envelope: NotificationEnvelope
    try {
      envelope = JSON.parse(req.rawBody) as NotificationEnvelope
    } catch {
      throw new NotificationRejected('body_invalid', 'the notification body is not JSON')
    }
    if (typeof envelope?.id !== 'string' || !envelope.resource || typeof envelope.resource.ciphertext !== 'string') {
      throw new NotificationRejected('body_invalid', 'the notification lacks id or resource')
    }
    if (envelope.resource.algorithm !== 'AEAD_AES_256_GCM') {
      throw new NotificationRejected('body_invalid', `unsupported resource algorithm ${envelope.resource.algorithm}`)
    }
    let plain: string
    try {
      plain = decryptResource(creds.apiV3Key, envelope.resource)
    } catch {
      throw new NotificationRejected('decrypt_failed', 'the resource does not decrypt with this APIv3 key')
    }
    let resource: unknown
    try {
      resource = JSON.parse(plain)
    } catch {
      throw new NotificationRejected('body_invalid', 'the decrypted resource is not JSON')
    }
    if (typeof envelope.event_type !== 'string' || typeof resource !== 'object' || resource === null) {
      throw new NotificationRejected('body_invalid', 'the notification lacks event_type or a resource object')
    }
    if (envelope.event_type.startsWith('REFUND.')) return { notificationId: envelope.id, ...refundNoticeOf(resource as RefundNotice, creds.mchid) }
    if (!envelope.event_type.startsWith('TRANSACTION.')) {
      // Other events: verified and acknowledged, but they say nothing about a payment or a refund of ours.
      return { notificationId: envelope.id, paymentId: '', state: { status: 'pending' } }
    }
    const tx = resource as Transaction
    if (tx.mchid !== creds.mchid) throw new NotificationRejected('account_mismatch', `the notification is for mchid ${tx.mchid}, not ${creds.mchid}`)
    if (tx.appid !== undefined && tx.appid !== creds.appid) throw new NotificationRejected('account_mismatch', `the notification is for appid ${tx.appid}, not ${creds.appid}`)
    // Every order we open at WeChat Pay is in CNY: a success in another currency is believed by nobody.
    if (tx.trade_state === 'SUCCESS' && (tx.amount?.currency ?? 'CNY') !== 'CNY') throw new NotificationRejected('currency_mismatch', `the notification reports a payment in ${tx.amount?.currency}, not CNY`)
    const state = paymentStateOf(tx)
    // A success WeChat Pay signed but that cannot be read is refused, not recorded: its retry may read.
    if ((tx.trade_state === 'SUCCESS' || tx.trade_state === 'REFUND') && state.status !== 'succeeded') {
      throw new NotificationRejected('body_invalid', 'the notification reports a success without a readable transaction_id and amount.total')
    }
    return { notificationId: envelope.id, paymentId: tx.out_trade_no, state }
  }

  /** 204 (no body needed) for accepted; 500 with WeChat's FAIL body, which makes WeChat retry. */
  acknowledge(outcome: 'ok' | 'error'): ChannelReply {
    if (outcome === 'ok') return { status: 204, body: '' }
    return { status: 500, headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"code":"FAIL","message":"失败"}' }
  }
}
