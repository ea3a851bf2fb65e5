// verifyWebhook: accepts exactly what Standard Webhooks accepts (cross-checked with the standardwebhooks
// package), and explains each usual mistake.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { signWebhook } from './signing.ts'
import { verifyWebhook, WebhookVerificationError, type WebhookErrorReason } from './webhooks.ts'

const SECRET = 'whsec_' + randomBytes(32).toString('base64')
const NOW = 1_764_150_000
const BODY = JSON.stringify({ id: 'evt_1', type: 'order.paid', timestamp: '2025-11-26T10:00:00.000Z', data: { id: 'ord_1', amount: 1234 } })

function signed(body = BODY, id = 'evt_1', ts = NOW, secret = SECRET) {
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook(secret, id, ts, body) }
}

function rejects(input: Parameters<typeof verifyWebhook>[0], reason: WebhookErrorReason, message: RegExp) {
  assert.throws(
    () => verifyWebhook(input),
    (err: unknown) => {
      assert.ok(err instanceof WebhookVerificationError, String(err))
      assert.equal(err.reason, reason)
      assert.match(err.message, message)
      return true
    },
  )
}

it('verifies a signed webhook from a string, bytes, a Headers object or Node headers', () => {
  const headers = signed()
  for (const rawBody of [BODY, Buffer.from(BODY), new TextEncoder().encode(BODY)]) {
    const event = verifyWebhook({ rawBody, headers, secret: SECRET, now: NOW })
    assert.equal(event.id, 'evt_1')
    assert.equal(event.data.amount, 1234)
  }
  assert.equal(verifyWebhook({ rawBody: BODY, headers: new Headers(headers), secret: SECRET, now: NOW }).type, 'order.paid')
  const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), [v]]))
  assert.equal(verifyWebhook({ rawBody: BODY, headers: upper, secret: SECRET, now: NOW }).id, 'evt_1')
})

it('agrees with the standardwebhooks package, both ways', () => {
  const lib = new Webhook(SECRET)
  const ts = new Date()
  const sig = lib.sign('msg_lib', ts, BODY)
  const headers = { 'webhook-id': 'msg_lib', 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': sig }
  assert.deepEqual(verifyWebhook({ rawBody: BODY, headers, secret: SECRET }), JSON.parse(BODY))
  const ours = signed(BODY, 'evt_1', Math.floor(Date.now() / 1000))
  assert.deepEqual(lib.verify(BODY, ours), JSON.parse(BODY))
  // And both refuse the same tampering.
  const tampered = BODY.replace('1234', '1')
  assert.throws(() => lib.verify(tampered, ours))
  assert.throws(() => verifyWebhook({ rawBody: tampered, headers: ours, secret: SECRET }), WebhookVerificationError)
})

it('reads a signature only as standard base64, as the standardwebhooks package does', () => {
  const h = signed()
  const sig = h['webhook-signature'].slice(3)
  const spellings = [`${sig}!!`, sig.replace(/=+$/, ''), sig.replaceAll('+', '-').replaceAll('/', '_')].filter((s) => s !== sig)
  assert.ok(spellings.length >= 2)
  for (const spelling of spellings) {
    const headers = { ...h, 'webhook-signature': `v1,${spelling}` }
    assert.throws(() => new Webhook(SECRET).verify(BODY, headers), spelling)
    assert.throws(() => verifyWebhook({ rawBody: BODY, headers, secret: SECRET, now: NOW }), WebhookVerificationError, spelling)
  }
})

it('accepts any matching v1 signature among several (secret rotation)', () => {
  const other = 'whsec_' + randomBytes(32).toString('base64')
  const h = signed()
  const both = { ...h, 'webhook-signature': `${signWebhook(other, 'evt_1', NOW, BODY)} v2,ignored ${h['webhook-signature']}` }
  assert.equal(verifyWebhook({ rawBody: BODY, headers: both, secret: SECRET, now: NOW }).id, 'evt_1')
})

it('says the body was re-serialized when it was pretty-printed or its keys reordered', () => {
  const h = signed()
  const parsed = JSON.parse(BODY)
  rejects({ rawBody: JSON.stringify(parsed, null, 2), headers: h, secret: SECRET, now: NOW }, 'signature_mismatch', /re-serialized/)
  const { id, ...rest } = parsed
  rejects({ rawBody: JSON.stringify({ ...rest, id }), headers: h, secret: SECRET, now: NOW }, 'signature_mismatch', /re-serialized/)
  rejects({ rawBody: '[object Object]', headers: h, secret: SECRET, now: NOW }, 'signature_mismatch', /parsed object/)
  rejects({ rawBody: parsed, headers: h, secret: SECRET, now: NOW }, 'body_not_raw', /raw body/)
  rejects({ rawBody: undefined as unknown as string, headers: h, secret: SECRET, now: NOW }, 'body_not_raw', /missing/)
})

it('says when headers and body belong to different events, and when the secret is simply wrong', () => {
  const otherBody = BODY.replace('evt_1', 'evt_2')
  rejects({ rawBody: otherBody, headers: signed(), secret: SECRET, now: NOW }, 'signature_mismatch', /different requests/)
  const wrong = 'whsec_' + randomBytes(32).toString('base64')
  rejects({ rawBody: BODY, headers: signed(), secret: wrong, now: NOW }, 'signature_mismatch', /whsec_ secret/)
  rejects({ rawBody: BODY, headers: { ...signed(), 'webhook-signature': 'v0,abc' }, secret: SECRET, now: NOW }, 'signature_mismatch', /no v1/)
})

it('refuses stale and future timestamps, within a tolerance that can be set', () => {
  const old = signed(BODY, 'evt_1', NOW - 301)
  rejects({ rawBody: BODY, headers: old, secret: SECRET, now: NOW }, 'timestamp_too_old', /301 s old, more than the 300 s/)
  assert.equal(verifyWebhook({ rawBody: BODY, headers: old, secret: SECRET, now: NOW, toleranceSeconds: 600 }).id, 'evt_1')
  rejects({ rawBody: BODY, headers: signed(BODY, 'evt_1', NOW + 400), secret: SECRET, now: NOW }, 'timestamp_too_new', /in the future/)
  rejects({ rawBody: BODY, headers: { ...signed(), 'webhook-timestamp': '2025-11-26T10:00:00Z' }, secret: SECRET, now: NOW }, 'timestamp_invalid', /unix seconds/)
  assert.equal(verifyWebhook({ rawBody: BODY, headers: signed(BODY, 'evt_1', NOW - 300), secret: SECRET, now: NOW }).id, 'evt_1')
})

it('explains a secret without the whsec_ prefix, an API secret, and missing headers', () => {
  const h = signed()
  rejects({ rawBody: BODY, headers: h, secret: SECRET.slice('whsec_'.length), now: NOW }, 'secret_invalid', /must start with whsec_/)
  assert.throws(
    () => verifyWebhook({ rawBody: BODY, headers: h, secret: SECRET.slice('whsec_'.length), now: NOW }),
    (err: Error) => !err.message.includes(SECRET.slice('whsec_'.length, 'whsec_'.length + 4)),
    'the message quotes none of the secret',
  )
  rejects({ rawBody: BODY, headers: h, secret: 'sk_test_' + 'a'.repeat(30), now: NOW }, 'secret_invalid', /API secret/)
  rejects({ rawBody: BODY, headers: h, secret: 'whsec_not base64!', now: NOW }, 'secret_invalid', /base64/)
  const { 'webhook-signature': _s, 'webhook-id': _i, ...partial } = h
  rejects({ rawBody: BODY, headers: partial, secret: SECRET, now: NOW }, 'missing_header', /webhook-id, webhook-signature/)
})
