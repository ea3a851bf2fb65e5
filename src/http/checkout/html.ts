// Escape-by-default HTML templating: every interpolation is escaped unless it is an explicitly safe fragment.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' }

/** Escapes text for element content and for double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!)
}

/** A fragment already known to be safe HTML. Only `html` and `unsafeRaw` make one. */
export class SafeHtml {
  readonly #value: string
  constructor(value: string, brand: typeof BRAND) {
    // The brand keeps `new SafeHtml(userText)` from compiling anywhere else: trust is never casual.
    if (brand !== BRAND) throw new TypeError('SafeHtml is made by html`` or unsafeRaw()')
    this.#value = value
  }
  toString(): string {
    return this.#value
  }
}

const BRAND: unique symbol = Symbol('SafeHtml')

/** What may be interpolated: text (escaped), numbers, safe fragments, lists of those; nullish and false render nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[]

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false || value === true) return ''
  if (value instanceof SafeHtml) return value.toString()
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}

/** `html\`<p>${userText}</p>\`` escapes userText; nested html`` fragments pass through as they are. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!
  return new SafeHtml(out, BRAND)
}

/**
 * Marks a string as safe HTML without escaping. Only for text the program itself wrote (a stylesheet, a
 * script, markup from a library we trust), never for anything a merchant or customer can influence.
 */
export function unsafeRaw(trusted: string): SafeHtml {
  return new SafeHtml(trusted, BRAND)
}
