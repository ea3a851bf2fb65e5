// Yuan strings ("12.34", as Alipay and the bills write money) to and from integer fen, by string
// arithmetic only: a float never touches an amount.
import { formatMinor } from '../core/money.ts'

/** 1234 → "12.34"; 5 → "0.05". */
export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError(`fen must be an integer, got ${fen}`)
  return formatMinor(fen, 'CNY')
}

/** "12.34" → 1234, "12.3" → 1230, "12" → 1200, "-0.50" → -50; null for anything else (no exponents, no third decimal). */
export function yuanToFen(text: string): number | null {
  const m = /^(-?)(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text.trim())
  if (!m) return null
  const fen = Number(m[2]!) * 100 + Number((m[3] ?? '').padEnd(2, '0'))
  return m[1] === '-' ? -fen : fen
}
