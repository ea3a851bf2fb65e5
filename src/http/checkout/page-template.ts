// A page rendered once and answered many times. Its bytes are kept split at the holes where a per-response
// value goes (the time left), and around the fixed stylesheet and script, which every kept page shares
// instead of holding its own copy.
import { randomBytes } from 'node:crypto'
import { CHECKOUT_SCRIPT } from './checkout-script.min.ts'
import { escapeHtml, unsafeRaw, type SafeHtml } from './html.ts'
import { CSS } from './layout.ts'

// Process-random, so no text a merchant or customer writes into a page can pose as a hole.
const MARK = `\u0000${randomBytes(12).toString('hex')}\u0000`

const SHARED = [CSS, CHECKOUT_SCRIPT].map((text) => ({ text, bytes: Buffer.from(text, 'utf8') }))

/** Where the value named `name` goes; filled (escaped) per response by PageTemplate.fill. */
export function hole(name: string): SafeHtml {
  return unsafeRaw(`${MARK}${name}${MARK}`)
}

/** A piece of the page: its bytes, or the name of a hole. */
type Piece = Buffer | string

function splitShared(text: string): Buffer[] {
  for (const shared of SHARED) {
    const at = text.indexOf(shared.text)
    if (at >= 0) return [...splitShared(text.slice(0, at)), shared.bytes, ...splitShared(text.slice(at + shared.text.length))]
  }
  return text === '' ? [] : [Buffer.from(text, 'utf8')]
}

export class PageTemplate {
  readonly #pieces: Piece[]
  /** The holes' names in page order. */
  readonly #holes: string[]
  /** The bytes this page holds of its own (the shared texts not counted), for a cache's budget. */
  readonly ownBytes: number

  constructor(page: SafeHtml) {
    // Split on the mark: text, hole name, text, hole name, …, text.
    this.#pieces = page
      .toString()
      .split(MARK)
      .flatMap((part, i): Piece[] => (i % 2 === 1 ? [part] : splitShared(part)))
    this.#holes = this.#pieces.filter((p): p is string => typeof p === 'string')
    this.ownBytes = this.#pieces.reduce((n, p) => n + (typeof p === 'string' || SHARED.some((s) => s.bytes === p) ? 0 : p.length), 0)
  }

  // The last page filled: pages asked for in the same second get the same time left, so the same bytes.
  #last: { values: readonly string[]; page: Buffer } | null = null

  /** The page with each hole filled by its value, escaped. */
  fill(values: Readonly<Record<string, string>> = {}): Buffer {
    // Checked without allocating: every response of a kept page comes through here.
    const last = this.#last
    if (last && this.#holes.every((name, i) => values[name] === last.values[i])) return last.page
    const filled = this.#holes.map((name) => {
      const value = values[name]
      if (value === undefined) throw new Error(`no value for the page's hole ${name}`)
      return value
    })
    let hole = 0
    const page = Buffer.concat(this.#pieces.map((p) => (typeof p === 'string' ? Buffer.from(escapeHtml(filled[hole++]!), 'utf8') : p)))
    this.#last = { values: filled, page }
    return page
  }
}
