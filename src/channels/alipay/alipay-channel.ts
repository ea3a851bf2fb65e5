// The Alipay OpenAPI adapter (当面付: alipay.trade.precreate gives the qr_code the customer scans). Stateless:
// each call loads the order's merchant's credentials, signs by the RSA2 rules, and verifies the answer over
// its raw text before believing it.
import type { Clock } from '../../core/ports.ts'
import type { Order } from '../../core/order.ts'
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
import { channelFetch, type ChannelFetch } from '../channel-http.ts'
import { firstCharacters } from '../characters.ts'
import { alipayTime, parseAlipayTime } from '../shanghai-time.ts'
import { NotificationRejected } from '../notification-rejected.ts'
import { parseAlipayBill, type AlipayBill } from './bill.ts'
import type { AlipayCredentials } from './credentials.ts'
import { extractSignedResponse, notifySignContent, requestSignContent, responseKeyOf, rsa2Sign, rsa2Verify } from './signing.ts'
import {
  isDefiniteRefusal,
  paymentStateOf,
  precreateBiz,
  toAlipayAmount,
  type AlipayResult,
  type PrecreateResult,
  type QueryResult,
  type RefundQueryResult,
  type RefundResult,
} from './transformers.ts'

/** How long a refund Alipay lists without refund_status may still be under way (the SDK asks to wait 10 s). */
export const ALIPAY_REFUND_SETTLE_MS = 10 * 60_000
/** How long it may stay so before a person is told. */
export const ALIPAY_REFUND_STUCK_MS = 24 * 3_600_000

export interface AlipayChannelOptions {
  credentials(merchantId: string): Promise<AlipayCredentials | null>
  /** Finds the merchant of a notification that arrived without one in its URL, by its app_id. */
  credentialsForAppId?(appId: string): Promise<{ merchantId: string; credentials: AlipayCredentials }[]>
  clock: Clock
  fetch?: ChannelFetch
  timeoutMs?: number
}

export class AlipayChannel implements PaymentChannel {
  readonly name = 'alipay' as const
  readonly #o: AlipayChannelOptions
  readonly #fetch: ChannelFetch
  /** The answers whose signature verified: only such an answer may say that a day has no bill. */
  readonly #signed = new WeakSet<object>()

  constructor(options: AlipayChannelOptions) {
    this.#o = options
    this.#fetch = options.fetch ?? channelFetch
  }

  async availableFor(merchantId: string): Promise<boolean> {
    return (await this.#o.credentials(merchantId)) !== null
  }

  async #creds(merchantId: string): Promise<AlipayCredentials> {
    const c = await this.#o.credentials(merchantId)
    if (!c) throw new ChannelError('the merchant has no Alipay credentials (scanpay channel set … alipay)', false, false)
    return c
  }

  /** System parameters in the query string and biz_content in the form body, as the official SDK sends them. */
  async #call<T extends AlipayResult>(creds: AlipayCredentials, method: string, biz: Record<string, unknown>, extra: Record<string, string> = {}): Promise<T> {
    const system: Record<string, string> = {
      app_id: creds.appId,
      method,
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      // Alipay reads timestamps as Beijing time, whatever the server's time zone.
      timestamp: alipayTime(this.#o.clock.now()),
      version: '1.0',
      ...extra,
    }
    const bizContent = JSON.stringify(biz)
    const sign = rsa2Sign(requestSignContent({ ...system, biz_content: bizContent }), creds.privateKey)
    const query = new URLSearchParams({ ...system, sign }).toString()
    const separator = creds.gatewayUrl.includes('?') ? '&' : '?'
    const res = await this.#fetch({
      method: 'POST',
      url: `${creds.gatewayUrl}${separator}${query}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8', accept: 'application/json', 'user-agent': 'scanpay-alipay/1' },
      body: new URLSearchParams({ biz_content: bizContent }).toString(),
      timeoutMs: this.#o.timeoutMs ?? 10_000,
    })
    if (res.status !== 200) {
      throw new ChannelError(`Alipay ${method}: HTTP ${res.status}`, true, res.status >= 500 || res.status === 429)
    }
    const extracted = extractSignedResponse(res.text, responseKeyOf(method))
    if (!extracted) throw new ChannelError(`Alipay ${method}: the response has no ${responseKeyOf(method)}`, true, true)
    let result: T
    try {
      result = JSON.parse(extracted.signedText) as T
    } catch {
      throw new ChannelError(`Alipay ${method}: the response is not JSON`, true, true)
    }
    const signed = extracted.sign !== null && rsa2Verify(extracted.signedText, extracted.sign, creds.alipayPublicKey)
    // A success must carry a valid signature. An unsigned gateway error is read, but only as a reason to try again
    // (#fail, #refusedBySigned): taken as a refusal, it could free a refund's amount to be refunded twice.
    if (!signed && (result.code === '10000' || extracted.sign !== null)) {
      throw new ChannelError(`Alipay ${method}: response signature rejected`, true, true)
    }
    if (signed) this.#signed.add(result)
    return result
  }

  /** A business refusal Alipay signed: it did nothing, and will not (Alipay signs its failures too). */
  #refusedBySigned(r: AlipayResult): boolean {
    return isDefiniteRefusal(r) && this.#signed.has(r)
  }

  #fail(method: string, r: AlipayResult): ChannelError {
    const definite = this.#refusedBySigned(r)
    return new ChannelError(`Alipay ${method} failed: ${r.code} ${r.msg}${r.sub_code ? ` ${r.sub_code}: ${r.sub_msg ?? ''}` : ''}`, !definite, !definite)
  }

  async createPayment(input: CreatePaymentInput): Promise<CreatedPayment> {
    const creds = await this.#creds(input.order.merchantId)
    let biz
    try {
      biz = precreateBiz(input.paymentId, input.order, input.openedAt)
    } catch (err) {
      throw new ChannelError((err as Error).message, false, false)
    }
    const r = await this.#call<PrecreateResult>(creds, 'alipay.trade.precreate', biz, { notify_url: input.notifyUrl })
    if (r.code !== '10000' || typeof r.qr_code !== 'string') throw this.#fail('alipay.trade.precreate', r)
    // A signed code for another trade would take the customer's money for it.
    if (r.out_trade_no !== undefined && r.out_trade_no !== input.paymentId) throw new ChannelError('Alipay answered about another trade', true, true)
    return { qrContent: r.qr_code, channelPaymentId: input.paymentId }
  }

  async queryPayment(ref: { paymentId: string; order: Order }): Promise<ChannelPaymentState> {
    const creds = await this.#creds(ref.order.merchantId)
    const r = await this.#call<QueryResult>(creds, 'alipay.trade.query', { out_trade_no: ref.paymentId })
    // Alipay creates the trade only when the buyer scans: until then it "does not exist", and may still. Only
    // Alipay's signed word for it (it signs failures): an unsigned one would let a wrong public key pass the check.
    if (r.code === '40004' && r.sub_code === 'ACQ.TRADE_NOT_EXIST' && this.#signed.has(r)) return { status: 'pending' }
    if (r.code !== '10000') throw this.#fail('alipay.trade.query', r)
    if (r.out_trade_no !== ref.paymentId) throw new ChannelError('Alipay answered about another trade', true, true)
    return paymentStateOf(r)
  }

  async closePayment(ref: { paymentId: string; order: Order }): Promise<void> {
    const creds = await this.#creds(ref.order.merchantId)
    const r = await this.#call<AlipayResult>(creds, 'alipay.trade.close', { out_trade_no: ref.paymentId })
    // Closing before the scan answers TRADE_NOT_EXIST but still stops a later payment (only Alipay's own word for it).
    if (r.code === '10000' || (r.code === '40004' && r.sub_code === 'ACQ.TRADE_NOT_EXIST' && this.#signed.has(r))) return
    throw this.#fail('alipay.trade.close', r)
  }

  async refund(input: ChannelRefundInput): Promise<ChannelRefundState> {
    const creds = await this.#creds(input.order.merchantId)
    let amount
    try {
      amount = toAlipayAmount(input.amount, input.currency)
    } catch (err) {
      throw new ChannelError((err as Error).message, false, false)
    }
    const tradeNo = input.payment ? input.payment.channelTradeNo : input.order.channelTradeNo
    const biz = {
      ...(tradeNo ? { trade_no: tradeNo } : { out_trade_no: input.payment?.id }),
      refund_amount: amount,
      // The idempotency key: the same out_request_no refunds once, however often it is sent.
      out_request_no: input.refundId,
      ...(input.reason ? { refund_reason: firstCharacters(input.reason, 256) } : {}),
    }
    const r = await this.#call<RefundResult>(creds, 'alipay.trade.refund', biz)
    // 10000 says the call went through; fund_change Y that this call moved the money. Anything else (N: a repeat
    // of a refund already made, or one still being processed) is settled by the refund query.
    if (r.code === '10000') return r.fund_change === 'Y' ? { status: 'succeeded', channelRefundNo: input.refundId } : { status: 'pending' }
    if (this.#refusedBySigned(r)) return { status: 'failed', reason: `${r.sub_code ?? r.code}: ${r.sub_msg ?? r.msg}` }
    throw this.#fail('alipay.trade.refund', r)
  }

  async queryRefund(ref: ChannelRefundRef): Promise<ChannelRefundState> {
    const creds = await this.#creds(ref.order.merchantId)
    const tradeNo = ref.payment ? ref.payment.channelTradeNo : ref.order.channelTradeNo
    const r = await this.#call<RefundQueryResult>(creds, 'alipay.trade.fastpay.refund.query', {
      ...(tradeNo ? { trade_no: tradeNo } : { out_trade_no: ref.payment?.id }),
      out_request_no: ref.refundId,
      // The time it was made, which dates its line in the day's bill, is answered only when asked for.
      query_options: ['gmt_refund_pay'],
    })
    if (r.code !== '10000') throw this.#fail('alipay.trade.fastpay.refund.query', r)
    if (r.refund_status === 'REFUND_SUCCESS') {
      const datedAt = r.gmt_refund_pay ? parseAlipayTime(r.gmt_refund_pay) : null
      return { status: 'succeeded', channelRefundNo: ref.refundId, ...(datedAt !== null ? { datedAt } : {}) }
    }
    // refund_status absent means "the refund request was not received, or the refund failed" (Java SDK,
    // AlipayTradeFastpayRefundQueryResponse), though it also reads so while Alipay is still at it. After a while
    // it is taken as not received and sent again with the same out_request_no, which refunds once (at each of the
    // reconciler's checks, hourly once its backoff is spent: some twenty sends in the day); and if that goes on for
    // a day, a person is told at each check rather than the reconciler asking forever.
    if (r.refund_amount) {
      const age = this.#o.clock.now() - ref.requestedAt
      if (age < ALIPAY_REFUND_SETTLE_MS) return { status: 'pending' }
      if (age >= ALIPAY_REFUND_STUCK_MS) {
        return { status: 'pending', attention: 'Alipay has held this refund unmade for over a day (no refund_status): check it in the Alipay merchant console' }
      }
      return { status: 'failed', reason: 'Alipay has not made this refund (no refund_status)', notFound: true, recorded: true }
    }
    // Alipay's word for it: no record means not refunded, and the refund may be sent again with the same number.
    return { status: 'failed', reason: 'Alipay has no such refund', notFound: true }
  }

  /** Fetches and parses the trade bill of a Beijing day (`yyyy-MM-dd`) for reconciliation. */
  async downloadBill(merchantId: string, billDate: string): Promise<AlipayBill> {
    const creds = await this.#creds(merchantId)
    const r = await this.#call<AlipayResult & { bill_download_url?: string }>(creds, 'alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: billDate })
    // Alipay makes no bill for a day without a payment or a refund: that day's bill is empty, not an error. Only a
    // signed answer says so: an unsigned one could hide a day's discrepancies, so it fails the check instead.
    if (r.code !== '10000' && /bill_not_exist$/i.test(r.sub_code ?? '') && this.#signed.has(r)) return { file: '', rows: [] }
    if (r.code !== '10000' || !r.bill_download_url) throw this.#fail('alipay.data.dataservice.bill.downloadurl.query', r)
    // Through the same client as every call (its timeout, and a stand-in in tests); the zip is read as bytes.
    // The URL is Alipay's signed word and may send on to where the file is stored, as the global fetch followed.
    const res = await this.#fetch({ method: 'GET', url: r.bill_download_url, headers: { accept: '*/*', 'user-agent': 'scanpay-alipay/1' }, timeoutMs: this.#o.timeoutMs ?? 30_000, followRedirects: true })
    if (res.status !== 200) throw new ChannelError(`Alipay bill download: HTTP ${res.status}`, true, false)
    if (!res.bytes) throw new ChannelError('Alipay bill download: the client gave no bytes of the file', true, false)
    return parseAlipayBill(res.bytes)
  }

  /** Form-decode once → verify RSA2 without sign and sign_type → check the app and seller → map. */
  async parseNotification(req: ChannelNotificationRequest): Promise<ChannelNotification> {
    const params = Object.fromEntries(new URLSearchParams(req.rawBody))
    if (!params.sign || !params.notify_id || !params.out_trade_no) {
      throw new NotificationRejected('body_invalid', 'the notification lacks sign, notify_id or out_trade_no')
    }
    if (params.sign_type !== undefined && params.sign_type !== 'RSA2') throw new NotificationRejected('signature_invalid', `unsupported sign_type ${params.sign_type}`)
    const candidates = req.merchantId
      ? [{ merchantId: req.merchantId, credentials: await this.#o.credentials(req.merchantId) }]
      : ((await this.#o.credentialsForAppId?.(params.app_id ?? '')) ?? [])
    const content = notifySignContent(params)
    for (const { merchantId, credentials } of candidates) {
      if (!credentials || !rsa2Verify(content, params.sign, credentials.alipayPublicKey)) continue
      if (params.app_id !== credentials.appId) throw new NotificationRejected('account_mismatch', `the notification is for app ${params.app_id}`)
      // Trade status notifications only: another kind's fields mean something else.
      if (params.notify_type !== 'trade_status_sync') throw new NotificationRejected('body_invalid', `unsupported notify_type ${params.notify_type}`)
      if (credentials.sellerId && params.seller_id !== credentials.sellerId) throw new NotificationRejected('account_mismatch', `the notification is for seller ${params.seller_id}`)
      // A refund's notification (B.7) also names the refund made, by its request number: ours is our refund id.
      const refundToAsk = params.out_biz_no && params.gmt_refund ? { refundToAsk: params.out_biz_no } : {}
      const state = paymentStateOf(params)
      // A success Alipay signed but that cannot be read is refused, not recorded: its retry may read.
      if (['TRADE_SUCCESS', 'TRADE_FINISHED'].includes(params.trade_status ?? '') && state.status !== 'succeeded') {
        throw new NotificationRejected('body_invalid', 'the notification reports a success without a readable trade_no and total_amount')
      }
      return { notificationId: params.notify_id, paymentId: params.out_trade_no, state, merchantId, ...refundToAsk }
    }
    throw new NotificationRejected('signature_invalid', 'the notification signature does not verify')
  }

  /** Alipay counts a delivery as received only when the body is exactly `success`. */
  acknowledge(outcome: 'ok' | 'error'): ChannelReply {
    const headers = { 'content-type': 'text/plain; charset=utf-8' }
    return outcome === 'ok' ? { status: 200, headers, body: 'success' } : { status: 400, headers, body: 'fail' }
  }
}
