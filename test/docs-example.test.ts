// The worked examples in docs/integration.md and docs/integration.zh-CN.md: every value is recomputed with
// the shared signing code, and their openssl and Python snippets are run and must print the same values.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { authorizationHeader, canonicalRequest, signRequest, signWebhook, verifyWebhook } from '../sdk/src/index.ts'

const DOCS = ['integration.md', 'integration.zh-CN.md']

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
}
const tools = { openssl: has('openssl'), python3: has('python3') }
const mustRunSnippets = process.env.CI === 'true'

/** The content of the fenced block right after `<!-- name -->` (ending with its last newline). */
function block(doc: string, name: string): string {
  const at = doc.indexOf(`<!-- ${name} -->`)
  assert.ok(at >= 0, `the doc has a <!-- ${name} --> block`)
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(doc.slice(at))
  assert.ok(m, `a fenced block follows <!-- ${name} -->`)
  return m[1]!
}

/** `name   value` lines of an example block; the value is the rest of the line, verbatim. */
function fields(text: string): Record<string, string> {
  return Object.fromEntries(text.trimEnd().split('\n').map((line) => {
    const m = /^(\S+)\s+(.*)$/.exec(line)
    assert.ok(m, `a "name value" line: ${line}`)
    return [m[1]!, m[2]!]
  }))
}

function run(command: string, args: string[], input: string): string {
  const r = spawnSync(command, args, { input, encoding: 'utf8' })
  assert.equal(r.status, 0, `${command} failed: ${r.stderr}`)
  return r.stdout.trim()
}

for (const name of DOCS) {
  describe(`docs/${name} worked examples`, () => {
    const doc = readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8')

    const req = fields(block(doc, 'example:request'))
    const request = { method: req.method!, pathAndQuery: req.path!, timestamp: req.timestamp!, nonce: req.nonce!, body: req.body! }
    const signature = signRequest(req.secret!, request)

    it('request signing: the message, signature and header are what the shared code computes', () => {
      assert.deepEqual(Object.keys(req), ['secret', 'key_id', 'method', 'path', 'timestamp', 'nonce', 'body'])
      assert.equal(block(doc, 'example:canonical'), canonicalRequest(request).toString('utf8'))
      assert.equal(block(doc, 'example:signature').trim(), signature)
      assert.equal(block(doc, 'example:authorization').trim(), authorizationHeader(req.key_id!, req.secret!, request))
      // The prose quotes the same value wherever it repeats it.
      for (const quoted of doc.matchAll(/`([A-Za-z0-9+/]{43}=)`/g)) assert.equal(quoted[1], signature)
    })

    it('request signing: the openssl snippet prints the signature', { skip: !tools.openssl && !mustRunSnippets && 'no openssl' }, () => {
      assert.equal(run('bash', ['-s'], block(doc, 'check:request-openssl')), signature)
    })

    it('request signing: the Python snippet prints the signature', { skip: !tools.python3 && !mustRunSnippets && 'no python3' }, () => {
      assert.equal(run('python3', ['-'], block(doc, 'check:request-python')), signature)
    })

    const wh = fields(block(doc, 'example:webhook'))
    const whSignature = signWebhook(wh.secret!, wh['webhook-id']!, Number(wh['webhook-timestamp']), wh.body!)

    it('webhook signing: the signature is the Standard Webhooks one, and verifies', () => {
      assert.deepEqual(Object.keys(wh), ['secret', 'webhook-id', 'webhook-timestamp', 'body'])
      assert.equal(block(doc, 'example:webhook-signature').trim(), `webhook-signature: ${whSignature}`)
      const headers = { 'webhook-id': wh['webhook-id']!, 'webhook-timestamp': wh['webhook-timestamp']!, 'webhook-signature': whSignature }
      const lib = new Webhook(wh.secret!)
      assert.equal(lib.sign(wh['webhook-id']!, new Date(Number(wh['webhook-timestamp']) * 1000), wh.body!), whSignature)
      const event = verifyWebhook({ rawBody: wh.body!, headers, secret: wh.secret!, now: Number(wh['webhook-timestamp']) })
      assert.equal(event.id, wh['webhook-id'])
    })

    it('webhook signing: the openssl snippet prints the signature', { skip: !tools.openssl && !mustRunSnippets && 'no openssl' }, () => {
      assert.equal(run('bash', ['-s'], block(doc, 'check:webhook-openssl')), whSignature)
    })

    it('webhook signing: the Python verifier accepts the example and refuses a changed body', { skip: !tools.python3 && !mustRunSnippets && 'no python3' }, () => {
      const snippet = block(doc, 'check:webhook-python')
      assert.equal(run('python3', ['-'], snippet), 'True')
      const tampered = snippet.replace('"status":"paid"}}\'', '"status":"paid" }}\'')
      assert.notEqual(tampered, snippet)
      assert.equal(run('python3', ['-'], tampered), 'False')
    })
  })
}

it('both languages show the same worked examples', () => {
  const [en, zh] = DOCS.map((n) => readFileSync(new URL(`../docs/${n}`, import.meta.url), 'utf8'))
  for (const name of ['example:request', 'example:canonical', 'example:signature', 'example:authorization', 'example:webhook', 'example:webhook-signature',
    'check:request-openssl', 'check:request-python', 'check:webhook-openssl', 'check:webhook-python']) {
    assert.equal(block(zh!, name), block(en!, name), name)
  }
})
