// Signed payment links (/l/{key_id}): reading, verifying and validating one. Its order is made by the
// orderForLink use case (core/use-cases/order-for-link.ts).
import { DESCRIPTION_PATTERN, safeEqual, signPaymentLink, SUBJECT_PATTERN } from '../../../sdk/src/signing.ts'
import { isCurrencyCode, MAX_AMOUNT } from '../../core/money.ts'
import type { LinkOrder } from '../../core/use-cases/order-for-link.ts'
import { isObviouslyInternal } from '../../webhooks/endpoint-guard.ts'
import { parseLangParam, type Lang } from './i18n.ts'

const SUBJECT = new RegExp(SUBJECT_PATTERN, 'u')
const DESCRIPTION = new RegExp(DESCRIPTION_PATTERN, 'u')
const KNOWN = new Set(['amount', 'currency', 'out_trade_no', 'subject', 'expires_at', 'description', 'return_url', 'notify_url', 'lang', 'sig'])

/** Whether links take a parameter of this name (the rest are refused, and not repeated back unsigned). */
export function isLinkParameter(name: string): boolean {
  return KNOWN.has(name)
}

/** A link's order as its parameters describe it, and the language its page is shown in. */
export interface PaymentLink extends LinkOrder {
  lang: Lang | null
}

export type LinkFailure = { kind: 'malformed' | 'unknown' | 'url_not_allowed'; param: string }

/**
 * What chat apps append to a link shared in them: WeChat adds `from` (singlemessage, groupmessage, timeline) and
 * `isappinstalled`, some of its versions `scene`, `clicktime` and `enterid`. None of them is ever a link's own
 * (validateLinkParams refuses them) and none changes what a link describes, so they are set aside before the
 * signature is checked: a signed link a customer shares with a friend in WeChat still opens, instead of 403.
 */
const SHARE_PARAMETERS = new Set(['from', 'isappinstalled', 'scene', 'clicktime', 'enterid'])

/**
 * The query as name → value, without what a chat app appended (SHARE_PARAMETERS). A repeated name is malformed:
 * the signature covers one value per name, and which of two a reader would take is exactly the ambiguity an
 * attacker looks for. So is a value whose escapes are not UTF-8 (`%C3%28`), which a lenient reader would turn
 * into U+FFFD (so two different links would carry one signature), or one holding NUL, which no field takes.
 */
export function readLinkQuery(rawQuery: string): { params: Record<string, string> } | { repeated: string } | { malformed: string } {
  const params: Record<string, string> = Object.create(null)
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = strictDecode(eq < 0 ? pair : pair.slice(0, eq))
    const value = strictDecode(eq < 0 ? '' : pair.slice(eq + 1))
    if (name === null || name.includes('\u0000')) return { malformed: '' }
    if (SHARE_PARAMETERS.has(name)) continue
    if (value === null || value.includes('\u0000')) return { malformed: name }
    if (Object.hasOwn(params, name)) return { repeated: name }
    params[name] = value
  }
  return { params }
}

/** A form's escapes (`+` a space) read as UTF-8, or null where they are not. */
function strictDecode(s: string): string | null {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '))
  } catch {
    return null
  }
}

/** True when `sig` is the HMAC of every other parameter under the key's secret. */
export function verifyLinkSignature(secret: string, params: Record<string, string>): boolean {
  const sig = params.sig
  if (!sig) return false
  return safeEqual(signPaymentLink(secret, params), sig)
}

const codePoints = (s: string) => Array.from(s).length
const URL_PATTERN = /^[Hh][Tt][Tt][Pp][Ss]?:\/\/[^\s]+$/

function urlParam(params: Record<string, string>, name: string, production: boolean): string | null | LinkFailure {
  const value = params[name]
  if (value === undefined) return null
  if (value.length > 1024 || !URL_PATTERN.test(value) || !URL.canParse(value)) return { kind: 'malformed', param: name }
  const url = new URL(value)
  if (production && isObviouslyInternal(url)) return { kind: 'url_not_allowed', param: name }
  // As the API: the customer is sent to return_url, which must not carry a user name or password.
  if (name === 'return_url' && (url.username || url.password)) return { kind: 'malformed', param: name }
  return value
}

const isFailure = (v: unknown): v is LinkFailure => typeof v === 'object' && v !== null && 'kind' in v

/** The same field rules as POST /v1/orders, applied to the link's text values. */
export function validateLinkParams(params: Record<string, string>, production: boolean): PaymentLink | LinkFailure {
  for (const name of Object.keys(params)) {
    if (!KNOWN.has(name)) return { kind: 'unknown', param: name }
  }
  const { amount, currency = 'CNY', out_trade_no, subject, expires_at, description, lang } = params
  // A plain decimal: no sign, dot, exponent or leading zero, so one amount has exactly one spelling.
  if (amount === undefined || !/^[1-9][0-9]{0,11}$/.test(amount) || Number(amount) > MAX_AMOUNT) return { kind: 'malformed', param: 'amount' }
  if (!isCurrencyCode(currency)) return { kind: 'malformed', param: 'currency' }
  if (out_trade_no === undefined || !/^[A-Za-z0-9_\-.|*]{1,64}$/.test(out_trade_no)) return { kind: 'malformed', param: 'out_trade_no' }
  if (subject === undefined || codePoints(subject) < 1 || codePoints(subject) > 128 || !SUBJECT.test(subject)) return { kind: 'malformed', param: 'subject' }
  if (description !== undefined && (codePoints(description) > 512 || !DESCRIPTION.test(description))) return { kind: 'malformed', param: 'description' }
  if (expires_at === undefined || !/^[1-9][0-9]{0,11}$/.test(expires_at)) return { kind: 'malformed', param: 'expires_at' }
  const parsedLang = lang === undefined ? null : parseLangParam(lang)
  if (lang !== undefined && parsedLang === null) return { kind: 'malformed', param: 'lang' }
  const returnUrl = urlParam(params, 'return_url', production)
  if (isFailure(returnUrl)) return returnUrl
  const notifyUrl = urlParam(params, 'notify_url', production)
  if (isFailure(notifyUrl)) return notifyUrl
  return {
    amount: Number(amount),
    currency,
    outTradeNo: out_trade_no,
    subject,
    expiresAt: Number(expires_at),
    description: description ?? null,
    returnUrl,
    notifyUrl,
    lang: parsedLang,
  }
}
