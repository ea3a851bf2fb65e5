// Money is an integer count of the currency's minor unit, end to end.
import { isCurrencyCode, MAX_AMOUNT } from '../../sdk/src/signing.ts'

export const MIN_AMOUNT = 1
/**
 * The contract's largest amount, and which currencies are real: the SDK's, which checks payment links with them
 * before they are made.
 */
export { isCurrencyCode, MAX_AMOUNT }

/** ISO 4217's minor units where they are not 2. */
const MINOR_DIGITS: Record<string, number> = {
  ...Object.fromEntries(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'].map((c) => [c, 0])),
  ...Object.fromEntries(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'].map((c) => [c, 3])),
  CLF: 4,
  UYW: 4,
}
// ¥ is the yuan's here, the platform's own currency; the yen gets JP¥ so a customer cannot take one for the other.
const SYMBOLS: Record<string, string> = { CNY: '¥', USD: '$', EUR: '€', GBP: '£', JPY: 'JP¥', HKD: 'HK$' }

export function isValidAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= MIN_AMOUNT && value <= MAX_AMOUNT
}


export function minorDigits(currency: string): number {
  return MINOR_DIGITS[currency] ?? 2
}

/** `1234, CNY` → `12.34`, by string arithmetic on the integer: no floats. */
export function formatMinor(amount: number, currency: string): string {
  const digits = minorDigits(currency)
  const negative = amount < 0
  const text = String(Math.abs(amount))
  if (digits === 0) return (negative ? '-' : '') + text
  const padded = text.padStart(digits + 1, '0')
  return `${negative ? '-' : ''}${padded.slice(0, -digits)}.${padded.slice(-digits)}`
}

/** For people, not wire formats: `880000, CNY` → `¥8,800.00`; currencies without a symbol read `12.34 XYZ`. */
export function formatMoney(amount: number, currency: string): string {
  const [whole, fraction] = formatMinor(amount, currency).split('.') as [string, string | undefined]
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, ',') + (fraction === undefined ? '' : `.${fraction}`)
  const symbol = SYMBOLS[currency]
  return symbol ? `${symbol}${grouped}` : `${grouped} ${currency}`
}
