// Yuan ↔ fen conversion, by string arithmetic, at the edges floats get wrong.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fenToYuan, yuanToFen } from './yuan.ts'

describe('yuan and fen', () => {
  it('formats fen as yuan strings', () => {
    assert.equal(fenToYuan(1234), '12.34')
    assert.equal(fenToYuan(1), '0.01')
    assert.equal(fenToYuan(10), '0.10')
    assert.equal(fenToYuan(100_000_000_000), '1000000000.00')
    assert.equal(fenToYuan(-50), '-0.50')
    assert.throws(() => fenToYuan(1.5))
  })
  it('parses yuan strings exactly, including the ones floats round wrongly', () => {
    assert.equal(yuanToFen('12.34'), 1234)
    assert.equal(yuanToFen('0.29'), 29) // 0.29 * 100 = 28.999999999999996 in floating point
    assert.equal(yuanToFen('1.005'), null)
    assert.equal(yuanToFen('19.9'), 1990)
    assert.equal(yuanToFen('7'), 700)
    assert.equal(yuanToFen('-0.50'), -50)
    assert.equal(yuanToFen('1e3'), null)
    assert.equal(yuanToFen(''), null)
    assert.equal(yuanToFen('.5'), null)
    assert.equal(yuanToFen('1000000000.00'), 100_000_000_000)
  })
})
