// Every string the customer sees, in English and Simplified Chinese, and how a request picks its language.
import type { ChannelName } from '../../core/order.ts'

/** The channels whose own QR the checkout shows. */
export type RealChannel = Exclude<ChannelName, 'sandbox'>

export type Lang = 'en' | 'zh-CN'
export const LANGS: readonly Lang[] = ['en', 'zh-CN']

export interface Messages {
  /** The language's own name, for the switcher on the other language's pages. */
  languageName: string
  testMode: string
  testModeNote: string
  timeLeft: string
  /** The control under a clamped subject and description: shows them whole, then clamps them again. */
  more: string
  less: string
  payWith: string
  channel: Record<ChannelName, string>
  channelUnavailable: string
  /** A live order none of whose channels the merchant has set up: nothing on the page can pay it. */
  noChannel: string
  /** Under the channel's QR: which app scans it. */
  scanWith: Record<RealChannel, string>
  /** On a phone: the QR is on the very screen the app would scan, so it is saved and picked from the album. */
  saveHint: Record<RealChannel, string>
  channelQrAlt: Record<RealChannel, string>
  /** The channel could not open the payment (it refused, or did not answer): trying again may work. */
  channelFailed(channel: string): string
  /** Must begin with "Pay" (English) or contain "支付" (Chinese): the contract names the button so. */
  payButton(amount: string): string
  /** Must not begin with "Pay" nor contain "支付". */
  declineButton: string
  declined: string
  failed: string
  scanOnPhone: string
  qrAlt: string
  paidTitle: string
  paidBody: string
  /** Before the merchant's order number (out_trade_no), which a customer quotes to the merchant or a cashier. */
  orderNumber: string
  returnToMerchant: string
  /** A paid order the merchant refunded in full: the title and what it means for the customer. */
  refundedTitle: string
  /** A paid order the merchant refunded in part: the title says so, not only the body. */
  partlyRefundedTitle: string
  refundedBody(amount: string): string
  /** A paid order the merchant refunded in part. */
  partlyRefundedBody(amount: string): string
  /**
   * A payment that reached a channel after the order stopped taking money (or paid it a second time): the
   * customer's wallet shows it taken, so the page says where it stands. ScanPay gives it back on its own.
   */
  unexpectedRefunding(amount: string, channel: string): string
  unexpectedRefunded(amount: string, channel: string): string
  expiredTitle: string
  expiredBody: string
  closedTitle: string
  closedBody: string
  notFoundTitle: string
  notFoundBody: string
  errorTitle: string
  /** A checkout button posted without script that the server refused or failed. */
  actionFailedTitle: string
  /** Too many taps in a moment (the per-order throttle). */
  tooMany: string
  backToPayment: string
  /** A pending page without script: the link that looks at the order again (it cannot see a payment land). */
  checkAgain: string
  /** On an expired link's page, the way to the order it made while it was valid (paid, perhaps). */
  viewOrder: string
  poweredBy: string
  linkErrors: {
    key: string
    signature: string
    invalid(param: string): string
    /** A parameter no link takes (a merchant's typo, or one added on the way). */
    unknown(param: string): string
    /** Null for a name links do not take: checked before the signature, so it may be anyone's text. */
    repeated(param: string | null): string
    /** Escapes that are not UTF-8, or NUL, in a name links do not take (unverified text, so not repeated). */
    damaged: string
    expired: string
    conflict: string
    notPayable: string
    internal: string
  }
}

/** A link's parameters as a customer reads them, for the page that says which one is wrong. */
const LINK_FIELD_ZH: Record<string, string> = {
  amount: '金额', currency: '币种', out_trade_no: '订单号', subject: '商品名称', expires_at: '有效期',
  description: '商品描述', return_url: '返回地址', notify_url: '通知地址', lang: '语言', sig: '签名',
}
const LINK_FIELD_EN: Record<string, string> = {
  amount: 'amount', currency: 'currency', out_trade_no: 'order number', subject: 'item name', expires_at: 'expiry time',
  description: 'description', return_url: 'return address', notify_url: 'notification address', lang: 'language', sig: 'signature',
}
/** What every refused link tells its customer to do: only the merchant can make a good one. */
const NEW_LINK_EN = 'Ask the merchant for a new link.'
const NEW_LINK_ZH = '请联系商户获取新的链接。'

const en: Messages = {
  languageName: 'English',
  testMode: 'Test mode',
  testModeNote: 'No real money moves.',
  timeLeft: 'Time left',
  more: 'More',
  less: 'Less',
  payWith: 'Pay with',
  channel: { sandbox: 'Sandbox wallet', wechatpay: 'WeChat Pay', alipay: 'Alipay' },
  channelUnavailable: 'This channel is not available yet.',
  noChannel: 'This merchant cannot take payments here yet. Please ask them for another way to pay.',
  scanWith: { wechatpay: 'Scan with WeChat to pay', alipay: 'Scan with Alipay to pay' },
  saveHint: {
    wechatpay: 'Paying on this phone? Press and hold the code to save it, then open WeChat’s Scan and choose it from your photos.',
    alipay: 'Paying on this phone? Press and hold the code to save it, then open Alipay’s Scan and choose it from your photos.',
  },
  channelQrAlt: { wechatpay: 'WeChat Pay QR code for this order', alipay: 'Alipay QR code for this order' },
  channelFailed: (channel) => `${channel} could not open the payment just now. Please try again.`,
  payButton: (amount) => `Pay ${amount}`,
  declineButton: 'Decline',
  declined: 'Payment declined. You can try again.',
  failed: 'Something went wrong. Please try again.',
  scanOnPhone: 'Or scan with your phone',
  qrAlt: 'QR code of this payment page',
  paidTitle: 'Payment successful',
  paidBody: 'Thank you. Your payment has been received.',
  orderNumber: 'Order number',
  returnToMerchant: 'Return to merchant',
  refundedTitle: 'Payment refunded',
  partlyRefundedTitle: 'Payment partly refunded',
  refundedBody: (amount) => `The merchant refunded the full ${amount}. It goes back to the account you paid with.`,
  partlyRefundedBody: (amount) => `Your payment was received. The merchant refunded ${amount} of it to the account you paid with.`,
  unexpectedRefunding: (amount, channel) => `Your payment of ${amount} through ${channel} arrived after this order stopped taking payments. It is being refunded to the account you paid with.`,
  unexpectedRefunded: (amount, channel) => `Your payment of ${amount} through ${channel} arrived after this order stopped taking payments. It has been refunded to the account you paid with.`,
  expiredTitle: 'Order expired',
  expiredBody: 'The time to pay this order has run out. Ask the merchant for a new one.',
  closedTitle: 'Order closed',
  closedBody: 'The merchant closed this order. It can no longer be paid.',
  notFoundTitle: 'Payment page not found',
  notFoundBody: 'This payment link is not valid. Check the link or ask the merchant for a new one.',
  errorTitle: 'This payment link cannot be used',
  actionFailedTitle: 'That did not go through',
  tooMany: 'Too many tries in a moment. Please wait a few seconds and try again.',
  backToPayment: 'Back to the payment page',
  viewOrder: 'View the order this link made',
  checkAgain: 'Paid already? Check again',
  poweredBy: 'Secured by ScanPay',
  linkErrors: {
    key: `This link was made with a key the merchant no longer uses. ${NEW_LINK_EN}`,
    signature: `This link is not valid: it may have been changed after the merchant made it. ${NEW_LINK_EN}`,
    invalid: (param) => `This link’s ${LINK_FIELD_EN[param] ?? `“${param}”`} is missing or not valid. ${NEW_LINK_EN}`,
    unknown: (param) => `This link carries something payment links do not take (“${param}”). ${NEW_LINK_EN}`,
    repeated: (param) => `This link gives ${param ? `its ${LINK_FIELD_EN[param] ?? `“${param}”`}` : 'a detail'} more than once. ${NEW_LINK_EN}`,
    damaged: `Part of this link cannot be read: it was damaged on the way. ${NEW_LINK_EN}`,
    expired: `This payment link has expired. ${NEW_LINK_EN}`,
    conflict: `The order this link is for was already made with other details. ${NEW_LINK_EN}`,
    notPayable: 'The merchant cannot take this payment.',
    internal: 'Something went wrong on our side. Nothing was charged. Please try again.',
  },
}


const zhCN: Messages = {
  languageName: '中文',
  testMode: '测试模式',
  testModeNote: '测试用，不会产生真实扣款。',
  timeLeft: '剩余时间',
  more: '展开',
  less: '收起',
  payWith: '支付方式',
  channel: { sandbox: '沙箱钱包', wechatpay: '微信支付', alipay: '支付宝' },
  channelUnavailable: '该支付方式暂未开通。',
  noChannel: '该商户暂未开通在线收款，请联系商户选择其他支付方式。',
  scanWith: { wechatpay: '请使用微信扫一扫', alipay: '请使用支付宝扫一扫' },
  saveHint: {
    wechatpay: '在本机付款：长按二维码保存到相册，再打开微信“扫一扫”，从相册中选择该图片。',
    alipay: '在本机付款：长按二维码保存到相册，再打开支付宝“扫一扫”，从相册中选择该图片。',
  },
  channelQrAlt: { wechatpay: '本订单的微信支付二维码', alipay: '本订单的支付宝二维码' },
  channelFailed: (channel) => `${channel}暂时无法发起付款，请重试。`,
  payButton: (amount) => `确认支付 ${amount}`,
  declineButton: '拒绝付款',
  declined: '已拒绝付款，您可以重新尝试。',
  failed: '出错了，请重试。',
  scanOnPhone: '或用手机扫码',
  qrAlt: '本支付页面的二维码',
  paidTitle: '支付成功',
  paidBody: '感谢您的付款，商户已收到。',
  orderNumber: '订单号',
  returnToMerchant: '返回商户',
  refundedTitle: '已退款',
  partlyRefundedTitle: '已部分退款',
  refundedBody: (amount) => `商户已全额退款 ${amount}，款项将原路退回您的付款账户。`,
  partlyRefundedBody: (amount) => `您的付款已收到，其中 ${amount} 已由商户原路退回您的付款账户。`,
  unexpectedRefunding: (amount, channel) => `您在${channel}完成的 ${amount} 付款到账时，本订单已无法支付，款项正在原路退回您的付款账户。`,
  unexpectedRefunded: (amount, channel) => `您在${channel}完成的 ${amount} 付款到账时，本订单已无法支付，款项已原路退回您的付款账户。`,
  expiredTitle: '订单已过期',
  expiredBody: '本订单的付款时间已过，请联系商户重新下单。',
  closedTitle: '订单已关闭',
  closedBody: '商户已关闭本订单，无法再付款。',
  notFoundTitle: '找不到支付页面',
  notFoundBody: '此支付链接无效，请检查链接或联系商户获取新的链接。',
  errorTitle: '此支付链接无法使用',
  actionFailedTitle: '操作未完成',
  tooMany: '操作过于频繁，请稍候几秒再试。',
  backToPayment: '返回支付页面',
  viewOrder: '查看此链接创建的订单',
  checkAgain: '已付款？点此刷新',
  poweredBy: 'ScanPay 安全支付',
  linkErrors: {
    key: `生成此链接的商户密钥已停用，${NEW_LINK_ZH}`,
    signature: `链接内容有误或已被修改，无法使用，${NEW_LINK_ZH}`,
    invalid: (param) => `链接中的${LINK_FIELD_ZH[param] ?? `“${param}”`}缺失或有误，${NEW_LINK_ZH}`,
    unknown: (param) => `链接中含有支付链接不支持的内容（“${param}”），${NEW_LINK_ZH}`,
    repeated: (param) => `链接中的${param ? (LINK_FIELD_ZH[param] ?? `“${param}”`) : '内容'}重复出现，${NEW_LINK_ZH}`,
    damaged: `链接的部分内容无法读取，可能在传递中被损坏，${NEW_LINK_ZH}`,
    expired: `此支付链接已过期，${NEW_LINK_ZH}`,
    conflict: `此订单号已用于另一笔内容不同的订单，${NEW_LINK_ZH}`,
    notPayable: '商户暂时无法收取此笔付款。',
    internal: '服务出现问题，未发生扣款，请稍后重试。',
  },
}

const MESSAGES: Record<Lang, Messages> = { en, 'zh-CN': zhCN }

export function messages(lang: Lang): Messages {
  return MESSAGES[lang]
}

/** `?lang=` when it names a language we have; null otherwise (an unknown value falls back, it is not an error). */
export function parseLangParam(value: unknown): Lang | null {
  if (typeof value !== 'string') return null
  const v = value.trim().toLowerCase()
  if (v === 'en' || v.startsWith('en-')) return 'en'
  // Any Chinese reads Simplified Chinese, the only Chinese there is, as it does from Accept-Language.
  if (v === 'zh' || v.startsWith('zh-')) return 'zh-CN'
  return null
}

/**
 * The customer's choice from Accept-Language: the most preferred tag we can serve, any Chinese (zh, zh-TW,
 * zh-Hant…) reading Simplified Chinese since it is the only Chinese we have; English otherwise.
 */
export function languageFromAcceptLanguage(header: string | undefined): Lang {
  if (!header) return 'en'
  const ranges = header
    .slice(0, 1000)
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';')
      const qParam = params.map((p) => p.trim()).find((p) => /^q=/i.test(p))
      const q = qParam === undefined ? 1 : Number(qParam.slice(2))
      return { tag: tag.trim().toLowerCase(), q: Number.isFinite(q) ? q : 0, index }
    })
    .filter((r) => r.tag !== '' && r.q > 0)
    // Stable by position among equal weights, as RFC 9110 leaves ties to the order given.
    .sort((a, b) => b.q - a.q || a.index - b.index)
  for (const r of ranges) {
    if (r.tag === 'zh' || r.tag.startsWith('zh-')) return 'zh-CN'
    if (r.tag === 'en' || r.tag.startsWith('en-')) return 'en'
  }
  return 'en'
}

export function negotiateLanguage(langParam: unknown, acceptLanguage: string | undefined): Lang {
  return parseLangParam(langParam) ?? languageFromAcceptLanguage(acceptLanguage)
}
