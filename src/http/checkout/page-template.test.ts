import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CHECKOUT_SCRIPT } from './checkout-script.min.ts'
import { html, unsafeRaw } from './html.ts'
import { CSS } from './layout.ts'
import { hole, PageTemplate } from './page-template.ts'

describe('PageTemplate', () => {
  it('fills each hole with its value, escaped', () => {
    const t = new PageTemplate(html`<p data-n="${hole('n')}">${'a & b'} ${hole('text')}</p>`)
    assert.equal(t.fill({ n: '42', text: '<b>' }).toString(), '<p data-n="42">a &amp; b &lt;b&gt;</p>')
    assert.equal(t.fill({ n: '7', text: 'x' }).toString(), '<p data-n="7">a &amp; b x</p>')
  })

  it('fills once for the same values', () => {
    const t = new PageTemplate(html`<p>${hole('n')}</p>`)
    assert.equal(t.fill({ n: '1' }), t.fill({ n: '1' }))
    assert.equal(t.fill({ n: '2' }).toString(), '<p>2</p>')
  })

  it('refuses to answer with a hole left empty', () => {
    assert.throws(() => new PageTemplate(html`<p>${hole('n')}</p>`).fill({}), /no value/)
  })

  it('does not count the shared stylesheet and script as its own bytes', () => {
    const t = new PageTemplate(html`<style>${unsafeRaw(CSS)}</style><p>é</p><script>${unsafeRaw(CHECKOUT_SCRIPT)}</script>`)
    assert.equal(t.ownBytes, Buffer.byteLength('<style></style><p>é</p><script></script>'))
    assert.equal(t.fill().toString(), `<style>${CSS}</style><p>é</p><script>${CHECKOUT_SCRIPT}</script>`)
  })

  it('takes no text that merely looks like a hole', () => {
    const t = new PageTemplate(html`<p>${'\u0000n\u0000'}</p>`)
    assert.equal(t.fill().toString(), '<p>\u0000n\u0000</p>')
  })
})
