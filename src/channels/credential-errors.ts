// The outcome of checking a merchant's channel credentials: the parsed keys, or every problem found.

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: string[] }

/** Collects problems instead of stopping at the first, so a merchant fixes a credentials file in one go. */
export class Problems {
  readonly list: string[] = []
  add(message: string): void {
    this.list.push(message)
  }
  string(doc: Record<string, unknown>, field: string, rule?: { pattern?: RegExp; hint?: string; optional?: boolean }): string | undefined {
    const v = doc[field]
    if (v === undefined || v === null || v === '') {
      if (!rule?.optional) this.add(`${field} is required`)
      return undefined
    }
    if (typeof v !== 'string') {
      this.add(`${field} must be a string`)
      return undefined
    }
    if (rule?.pattern && !rule.pattern.test(v)) {
      this.add(`${field} ${rule.hint ?? 'is malformed'}`)
      return undefined
    }
    return v
  }
  attempt<T>(field: string, fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      this.add(`${field}: ${(err as Error).message}`)
      return undefined
    }
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** An http(s) base URL without a trailing slash. */
export function baseUrl(problems: Problems, doc: Record<string, unknown>, field: string, fallback: string): string {
  const raw = problems.string(doc, field, { optional: true })
  if (raw === undefined) return fallback
  try {
    const u = new URL(raw)
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)')
    return raw.replace(/\/+$/, '')
  } catch {
    problems.add(`${field} must be an http(s) URL`)
    return fallback
  }
}
