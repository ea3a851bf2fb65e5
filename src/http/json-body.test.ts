// The JSON body rules JSON.parse alone would let through: money with a fraction, however its key is spelled,
// and text that cannot be stored as written.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { AppError } from '../core/errors.ts'
import { MAX_BODY_DEPTH, parseJsonBody } from './json-body.ts'

const refused = (text: string, code: string, param?: string) =>
  assert.throws(() => parseJsonBody(text), (e: unknown) => e instanceof AppError && e.code === code && e.param === param, text)

it('refuses an amount with a fraction or exponent, its key escaped or not, and only an amount', () => {
  for (const text of ['{"amount":12.0}', '{"amount": 1e3}', '{"\\u0061mount":12.0}', '{"amount":12,"\\u0061mount":12.5}', '{"subject":"\\u62ff","amount":1234.00000000000001}']) {
    refused(text, 'amount_invalid', 'amount')
  }
  assert.deepEqual(parseJsonBody('{"\\u0061mount":12,"subject":"\\u62ff\\u94c1 \\"amount\\": 1.5"}'), { amount: 12, subject: '拿铁 "amount": 1.5' })
  assert.deepEqual(parseJsonBody('{"amount":1234,"metadata":{"note":"amount\\": 1.5"}}'), { amount: 1234, metadata: { note: 'amount": 1.5' } })
})

it('refuses NUL and unpaired surrogates in any string or key, naming the field; paired ones are text', () => {
  refused('{"subject":"a\\u0000b"}', 'parameter_invalid', 'subject')
  refused('{"subject":"a\\ud800b"}', 'parameter_invalid', 'subject')
  refused('{"subject":"a\\udc00"}', 'parameter_invalid', 'subject')
  refused('{"metadata":{"k\\u0000":"v"}}', 'parameter_invalid', 'metadata')
  refused('{"channels":["x\\u0000"]}', 'parameter_invalid', 'channels')
  assert.deepEqual(parseJsonBody('{"subject":"\\ud83d\\ude00 \\\\u0000"}'), { subject: '😀 \\u0000' })
})

it('leaves malformed JSON to JSON.parse', () => {
  assert.throws(() => parseJsonBody('{"amount":'), SyntaxError)
})

it('refuses a key written twice in one object, however it is spelled; the same key in two objects is fine', () => {
  for (const text of [
    '{"amount":100,"amount":200}',
    '{"amount":100, "subject":"a", "amount" :100}',
    '{"metadata":{"k":"1","k":"2"},"amount":1}',
    '{"subject":"\\u62ff","subj\\u0065ct":"b"}',
    '{"subject":"holds \\": inside","amount":1,"amount":1}',
    `{"subject":"a\\":b","amount"${' '.repeat(100)}:1,"amount":2}`,
  ]) {
    refused(text, 'body_invalid')
  }
  assert.deepEqual(parseJsonBody('{"subject":"a\\":b","metadata":{"subject":"x"},"amount":1}'), { subject: 'a":b', metadata: { subject: 'x' }, amount: 1 })
  assert.deepEqual(parseJsonBody('{"channels":["a","b"],"metadata":{"amount":"1"}}'), { channels: ['a', 'b'], metadata: { amount: '1' } })
  assert.deepEqual(parseJsonBody('[{"k":1},{"k":2}]'), [{ k: 1 }, { k: 2 }])
})

it('refuses a body nested deeper than any the API takes, before walking it, however deep', () => {
  const nested = (depth: number, leaf: string) => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth)
  assert.deepEqual(parseJsonBody(nested(MAX_BODY_DEPTH, '"\\u0041"')), JSON.parse(nested(MAX_BODY_DEPTH, '"A"')))
  refused(nested(MAX_BODY_DEPTH + 1, '1'), 'body_invalid')
  refused('['.repeat(MAX_BODY_DEPTH + 1) + ']'.repeat(MAX_BODY_DEPTH + 1), 'body_invalid')
  // Thousands of levels with an escape: each walk was quadratic in the depth, and deeper still overflowed the stack.
  refused(nested(3000, '"\\u0041"'), 'body_invalid')
  refused(nested(50_000, '1'), 'body_invalid')
})
