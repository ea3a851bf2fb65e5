// Which Alipay answers are a refusal for good, and which leave the outcome open.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isDefiniteRefusal } from './transformers.ts'

describe('Alipay isDefiniteRefusal', () => {
  it('a system error is never a refusal, whatever its prefix; other business failures are', () => {
    const failed = (sub_code: string) => ({ code: '40004', msg: 'Business Failed', sub_code })
    for (const sub of ['ACQ.SYSTEM_ERROR', 'aop.ACQ.SYSTEM_ERROR']) assert.equal(isDefiniteRefusal(failed(sub)), false, sub)
    for (const sub of ['ACQ.TRADE_NOT_EXIST', 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', 'ACQ.SELLER_BALANCE_NOT_ENOUGH']) assert.equal(isDefiniteRefusal(failed(sub)), true, sub)
    assert.equal(isDefiniteRefusal({ code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error' }), false)
    assert.equal(isDefiniteRefusal({ code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature' }), true)
  })
})
