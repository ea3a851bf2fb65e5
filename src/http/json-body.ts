// Reads a JSON request body the way the contract wants money and text: an `amount` written with a fraction or
// an exponent is refused even though JSON.parse would read 12.0 as 12, and a string holding NUL or half of a
// surrogate pair is refused (PostgreSQL cannot store NUL; a lone surrogate would be stored as something else).
import { AppError } from '../core/errors.ts'
import { FIELD_RULES } from './schemas.ts'

/** An `amount` member whose number has a fraction or an exponent (not inside a string: no escaped quote). */
const FRACTIONAL_AMOUNT = /(?<!\\)"amount"\s*:\s*-?\d+(?:\.\d*|[eE])/
/** A JSON string token. */
const STRING_TOKEN = /"(?:[^"\\]|\\.)*"/g

/** The parsed body; throws AppError for what JSON.parse accepts but the contract does not. */
export function parseJsonBody(text: string): unknown {
  const parsed: unknown = JSON.parse(text)
  // Without an escape, every key is written as it reads and no string can hide NUL or a lone surrogate: the
  // common case, one scan. With escapes ("\u0061mount", or a client that escapes all non-ASCII text), the
  // strings are written out plainly first, and the parsed value is checked.
  if (!text.includes('\\u')) {
    if (FRACTIONAL_AMOUNT.test(text)) throw amountInvalid()
    return parsed
  }
  if (FRACTIONAL_AMOUNT.test(text.replace(STRING_TOKEN, (s) => JSON.stringify(JSON.parse(s))))) throw amountInvalid()
  const bad = unstorableText(parsed, [])
  if (bad) {
    const param = bad.join('.') || undefined
    throw new AppError('parameter_invalid', `${param ?? 'the body'} must not contain NUL or an unpaired surrogate (\\ud800-\\udfff)`, param)
  }
  return parsed
}

function amountInvalid(): AppError {
  return new AppError('amount_invalid', FIELD_RULES.amount!, 'amount')
}

/** The path to the first string (value or key) that cannot be stored as written, or null. */
function unstorableText(value: unknown, path: string[]): string[] | null {
  if (typeof value === 'string') return storable(value) ? null : path
  if (typeof value !== 'object' || value === null) return null
  for (const [key, member] of Object.entries(value)) {
    // A bad key is named by the object holding it: the key itself is what cannot be shown.
    if (!storable(key)) return path
    const found = unstorableText(member, Array.isArray(value) ? path : [...path, key])
    if (found) return found
  }
  return null
}

/** NUL, or a high surrogate not followed by a low one, or a low one not preceded by a high one. */
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function storable(s: string): boolean {
  return !UNSTORABLE.test(s)
}
