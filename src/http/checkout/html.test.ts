import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { escapeHtml, html, SafeHtml, unsafeRaw } from './html.ts'

describe('escapeHtml', () => {
  it('escapes every character that can leave text or an attribute value', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&\`</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;')
  })

  it('leaves other text, including non-ASCII, as it is', () => {
    assert.equal(escapeHtml('确认支付 ¥12.34 — ok'), '确认支付 ¥12.34 — ok')
  })
})

describe('html``', () => {
  it('escapes interpolated strings', () => {
    const payload = '<script>alert(1)</script>'
    assert.equal(html`<p>${payload}</p>`.toString(), '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>')
  })

  it('escapes quotes so a value cannot break out of an attribute', () => {
    const payload = '"><img src=x onerror=alert(1)>'
    assert.equal(html`<a title="${payload}">x</a>`.toString(), '<a title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">x</a>')
  })

  it('passes nested fragments through unescaped, once', () => {
    const inner = html`<b>${'<i>'}</b>`
    assert.equal(html`<p>${inner}</p>`.toString(), '<p><b>&lt;i&gt;</b></p>')
  })

  it('renders lists item by item, escaping strings and keeping fragments', () => {
    const items = ['<x>', html`<li>ok</li>`, 3]
    assert.equal(html`<ul>${items}</ul>`.toString(), '<ul>&lt;x&gt;<li>ok</li>3</ul>')
  })

  it('renders nothing for null, undefined and booleans, so `cond && html`…`` reads naturally', () => {
    assert.equal(html`[${null}${undefined}${false}${true}]`.toString(), '[]')
  })

  it('renders numbers as text', () => {
    assert.equal(html`${0}/${1234}`.toString(), '0/1234')
  })

  it('does not trust an object that only looks like a fragment', () => {
    const impostor = { toString: () => '<script>alert(1)</script>' } as unknown as string
    assert.equal(html`${impostor}`.toString(), '&lt;script&gt;alert(1)&lt;/script&gt;')
  })

  it('trusts only explicitly marked raw text', () => {
    assert.equal(html`<style>${unsafeRaw('a>b{}')}</style>`.toString(), '<style>a>b{}</style>')
  })

  it('cannot be forged with the constructor', () => {
    assert.throws(() => new SafeHtml('<b>', Symbol('SafeHtml') as never), TypeError)
  })
})
