// Renders an order's pay_url as a QR code (SVG or PNG), with a strong ETag, cached in a bounded LRU.
import QRCode from 'qrcode'
import { strongEtag } from './etag.ts'
import { LruCache } from './lru-cache.ts'

export type QrFormat = 'svg' | 'png'

export interface RenderedQr {
  body: Buffer
  contentType: string
  etag: string
}

export const QR_CONTENT_TYPES: Record<QrFormat, string> = {
  svg: 'image/svg+xml; charset=utf-8',
  png: 'image/png',
}

// Quartile correction survives a scuffed or partly covered print; a margin of 4 modules is the quiet zone
// the QR specification asks for, which some scanners need to find the code at all.
const OPTIONS = { errorCorrectionLevel: 'Q', margin: 4 } as const

/** The SVG's intrinsic width and height, in CSS pixels: comfortably scanned from a screen or a print. */
export const SVG_SIZE_PX = 256

/** `scale` is pixels per module of a PNG (a channel's code is shown larger, and must stay sharp on a phone). */
export async function renderQr(content: string, format: QrFormat, scale = 8): Promise<RenderedQr> {
  const body =
    format === 'svg'
      ? // A size of its own (it scales all the same): an <img> given no width would otherwise show it at 150 px.
        Buffer.from(await QRCode.toString(content, { ...OPTIONS, type: 'svg', width: SVG_SIZE_PX }), 'utf8')
      : await QRCode.toBuffer(content, { ...OPTIONS, type: 'png', scale })
  return { body, contentType: QR_CONTENT_TYPES[format], etag: strongEtag(body) }
}

/**
 * A QR code never changes for a token, so each is rendered once per process; the bounds keep a flood of
 * distinct tokens from growing memory (about 1000 codes, at most 8 MiB).
 */
export class QrCache {
  readonly #cache: LruCache<string, RenderedQr>

  constructor(maxEntries = 1000, maxBytes = 8 * 1024 * 1024) {
    this.#cache = new LruCache(maxEntries, maxBytes, (q) => q.body.length + 64)
  }

  get(token: string, format: QrFormat): RenderedQr | undefined {
    return this.#cache.get(`${format}:${token}`)
  }

  /** `token` is the cache key: a pay token, or anything else that fixes the content (e.g. `ch:` + a channel's code). */
  async render(token: string, format: QrFormat, content: string, scale?: number): Promise<RenderedQr> {
    const rendered = await renderQr(content, format, scale)
    this.#cache.set(`${format}:${token}`, rendered)
    return rendered
  }
}
