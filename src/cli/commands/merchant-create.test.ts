// A merchant's name and default webhook URL from the command line, held to the API's rules for what customers
// read and where webhooks go.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { merchantNameProblem, webhookUrlProblem } from './merchant-create.ts'

it('takes a name a customer can read, counted in characters, and refuses the rest', () => {
  for (const name of ['Bean There', '  咖啡馆  ', '🍵'.repeat(128), 'Café "Ⅱ" & Co.']) assert.equal(merchantNameProblem(name), null, name)
  assert.match(merchantNameProblem(undefined)!, /--name is required/)
  assert.match(merchantNameProblem('   ')!, /--name is required/)
  assert.match(merchantNameProblem('🍵'.repeat(129))!, /got 129/)
  for (const name of ['Bean\nThere', 'Bean\u202Egnp.exe', 'Bean\x1b[2J', 'Bean\u0085', '\u200B\u200B']) {
    assert.match(merchantNameProblem(name)!, /one line, without control or bidirectional override/, JSON.stringify(name))
  }
})

it('takes an http(s) URL as the API takes notify_url, and refuses one with a space or control character', () => {
  assert.equal(webhookUrlProblem('https://shop.example/hooks?x=1', false), null)
  for (const url of ['http://x/a b', 'http://x/a\nb', 'http://ex\tample.com/', 'http://x/\u0000']) assert.match(webhookUrlProblem(url, false)!, /without spaces or control characters/, JSON.stringify(url))
  assert.match(webhookUrlProblem('ftp://x', false)!, /http\(s\)/)
  assert.match(webhookUrlProblem('http://10.0.0.8/x', true)!, /private/)
  assert.equal(webhookUrlProblem('http://10.0.0.8/x', false), null)
})
