import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import jsqr from 'jsqr'
import { PNG } from 'pngjs'
import { etagMatches } from './etag.ts'
import { QrCache, renderQr } from './qr-codes.ts'

// jsqr is CommonJS whose types declare a default export: under NodeNext that is the `default` property.
const jsQR = jsqr.default

describe('renderQr', () => {
  const content = 'https://pay.example/pay/Gk1JKmwAD1ARuZDoQw3uFHVVQB6kdBZ9'

  it('renders a PNG that decodes back to the content', async () => {
    const qr = await renderQr(content, 'png')
    assert.equal(qr.contentType, 'image/png')
    const png = PNG.sync.read(qr.body)
    assert.equal(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data, content)
  })

  it('renders an SVG document', async () => {
    const qr = await renderQr(content, 'svg')
    assert.match(qr.contentType, /^image\/svg\+xml/)
    assert.match(qr.body.toString('utf8'), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    assert.match(qr.body.toString('utf8'), / width="256" height="256" viewBox=/, 'an intrinsic size: an <img> without width would show it small')
  })

  it('gives the same bytes the same strong ETag', async () => {
    const [a, b, c] = await Promise.all([renderQr(content, 'png'), renderQr(content, 'png'), renderQr(content + 'x', 'png')])
    assert.match(a.etag, /^"[A-Za-z0-9_-]+"$/)
    assert.equal(a.etag, b.etag)
    assert.notEqual(a.etag, c.etag)
  })
})

describe('QrCache', () => {
  it('keeps what it rendered, per token and format', async () => {
    const cache = new QrCache(2)
    const svg = await cache.render('t1', 'svg', 'https://pay.example/pay/t1')
    assert.equal(cache.get('t1', 'svg'), svg)
    assert.equal(cache.get('t1', 'png'), undefined)
  })
})

describe('etagMatches', () => {
  it('compares weakly against a list, and takes *', () => {
    assert.equal(etagMatches('"abc"', '"abc"'), true)
    assert.equal(etagMatches('W/"abc"', '"abc"'), true)
    assert.equal(etagMatches('"x", "abc"', '"abc"'), true)
    assert.equal(etagMatches('*', '"abc"'), true)
    assert.equal(etagMatches('"abd"', '"abc"'), false)
    assert.equal(etagMatches(undefined, '"abc"'), false)
  })
})
