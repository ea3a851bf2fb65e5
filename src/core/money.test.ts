// Money formatting by integer arithmetic only.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatMinor, formatMoney, isCurrencyCode, isValidAmount } from './money.ts'

describe('money', () => {
  it('formats minor units without floats', () => {
    assert.equal(formatMinor(1234, 'CNY'), '12.34')
    assert.equal(formatMinor(5, 'CNY'), '0.05')
    assert.equal(formatMinor(100_000_000_000, 'CNY'), '1000000000.00')
    assert.equal(formatMinor(1234, 'JPY'), '1234')
    assert.equal(formatMinor(1234, 'KWD'), '1.234')
    assert.equal(formatMinor(-5, 'CNY'), '-0.05')
  })

  it('adds the currency symbol', () => {
    assert.equal(formatMoney(1234, 'CNY'), '¥12.34')
    assert.equal(formatMoney(1999, 'USD'), '$19.99')
    assert.equal(formatMoney(1999, 'XYZ'), '19.99 XYZ')
    assert.equal(formatMoney(880000, 'CNY'), '¥8,800.00')
    assert.equal(formatMoney(100_000_000_000, 'CNY'), '¥1,000,000,000.00')
    assert.equal(formatMoney(1234567, 'JPY'), 'JP¥1,234,567', 'never the yuan\'s ¥')
    assert.equal(formatMoney(-123456, 'CNY'), '¥-1,234.56')
  })

  it('knows the ISO 4217 codes and their minor units', () => {
    for (const code of ['CNY', 'USD', 'HKD', 'JPY', 'EUR', 'CLP']) assert.ok(isCurrencyCode(code), code)
    for (const code of ['ABC', 'RMB', 'BTC', 'cny', 'CN', 'CNYY', '']) assert.ok(!isCurrencyCode(code), code)
    assert.equal(formatMinor(1234, 'CLP'), '1234')
    assert.equal(formatMinor(1234, 'BHD'), '1.234')
  })

  it('accepts only integers from 1 to 10^11', () => {
    for (const ok of [1, 1234, 100_000_000_000]) assert.ok(isValidAmount(ok), String(ok))
    for (const bad of [0, -1, 12.5, 100_000_000_001, Number.NaN, '12', null]) assert.ok(!isValidAmount(bad), String(bad))
  })
})
