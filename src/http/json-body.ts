// Reads a JSON request body the way the contract wants money and text: an `amount` written with a fraction or
// an exponent is refused even though JSON.parse would read 12.0 as 12, a string holding NUL or half of a
// surrogate pair is refused (PostgreSQL cannot store NUL; a lone surrogate would be stored as something else),
// and so is a key written twice in one object: JSON.parse keeps the last, other parsers (a proxy's, a
// merchant's log) the first, and a body two readers read differently must not move money. No body the API
// takes nests deeper than a few levels, so a deeper one is refused before any walk over it: the walks below
// would otherwise cost an unauthenticated sender's few kilobytes of nesting a stalled event loop.
import { AppError } from '../core/errors.ts'
import { FIELD_RULES } from './schemas.ts'

/** An `amount` member whose number has a fraction or an exponent (not inside a string: no escaped quote). */
const FRACTIONAL_AMOUNT = /(?<!\\)"amount"\s*:\s*-?\d+(?:\.\d*|[eE])/
/** A JSON string token. */
const STRING_TOKEN = /"(?:[^"\\]|\\.)*"/g

/** Deeper than any body of the API (an order's metadata is an object in the body: two levels). */
export const MAX_BODY_DEPTH = 16

/** The parsed body; throws AppError for what JSON.parse accepts but the contract does not. */
export function parseJsonBody(text: string): unknown {
  const parsed: unknown = JSON.parse(text)
  // First, and the one walk over the whole value: it refuses a body nested too deep before any other walk.
  const keys = keyCount(parsed, MAX_BODY_DEPTH)
  checkText(text, parsed)
  if (hasDuplicateKey(text, keys)) throw new AppError('body_invalid', 'the body names a key twice in one object')
  return parsed
}

/** The amount's form and the strings' contents, as written. */
function checkText(text: string, parsed: unknown): void {
  // Without an escape, every key is written as it reads and no string can hide NUL or a lone surrogate: the
  // common case, one scan. With escapes ("\u0061mount", or a client that escapes all non-ASCII text), the
  // strings are written out plainly first, and the parsed value is checked.
  if (!text.includes('\\u')) {
    if (FRACTIONAL_AMOUNT.test(text)) throw amountInvalid()
    return
  }
  if (FRACTIONAL_AMOUNT.test(text.replace(STRING_TOKEN, (s) => JSON.stringify(JSON.parse(s))))) throw amountInvalid()
  const bad = unstorableText(parsed, [])
  if (bad) {
    const param = bad.join('.') || undefined
    throw new AppError('parameter_invalid', `${param ?? 'the body'} must not contain NUL or an unpaired surrogate (\\ud800-\\udfff)`, param)
  }
}

/** A quote closing a string, then a colon: every key ends so, and a string value only when it holds `":`. */
const KEY_END = /"\s*:/g
/** Whitespace then a colon, right where lastIndex points (sticky): what follows a key. */
const COLON_AFTER = /\s*:/y

/**
 * Whether some object in the body names a key twice: the text then holds more keys than the parsed value. The
 * first count is a bound (a string value may hold `":`); only when it is over are the keys counted exactly.
 */
function hasDuplicateKey(text: string, keys: number): boolean {
  if ((text.match(KEY_END)?.length ?? 0) === keys) return false
  // Exactly: each string token in turn (JSON.parse accepted the text, so tokens align), a key when a colon follows.
  let written = 0
  for (const token of text.matchAll(STRING_TOKEN)) {
    COLON_AFTER.lastIndex = token.index! + token[0].length
    if (COLON_AFTER.test(text)) written++
  }
  return written > keys
}

/** The keys of every object in the value; throws body_invalid where objects and arrays nest more than `levels` deep. */
function keyCount(value: unknown, levels: number): number {
  if (typeof value !== 'object' || value === null) return 0
  if (levels === 0) throw new AppError('body_invalid', `the body nests objects and arrays deeper than ${MAX_BODY_DEPTH} levels`)
  let n = 0
  if (Array.isArray(value)) for (const item of value) n += keyCount(item, levels - 1)
  else for (const key in value) n += 1 + keyCount((value as Record<string, unknown>)[key], levels - 1)
  return n
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
