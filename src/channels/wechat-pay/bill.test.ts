// The tradebill's CSV as WeChat Pay writes it: fields prefixed with a backtick, which is what tells a field's
// commas from the separators.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { parseTradeBill } from './bill.ts'

const HEADER = '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注'
const row = (description: string) =>
  ['2026-11-26 10:00:05', 'wx1', '1900000001', '0', '', '4200000001', 'pay_1', 'oUser', 'NATIVE', 'SUCCESS', 'OTHERS', 'CNY', '12.34', '0.00', '0', '0', '0.00', '0.00', '', '', description, '', '0.07', '0.60%', '12.34', '0.00', '']
    .map((c) => '`' + c)
    .join(',')
const bill = (description: string) =>
  [HEADER, row(description), '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额', '`1,`12.34,`0.00,`0.00,`0.07,`12.34,`0.00'].join('\r\n') + '\r\n'

it('reads a row whose product description holds commas, field by field', () => {
  for (const description of ['Latte', 'Latte, large, oat milk', '拿铁，大杯,加浓']) {
    const parsed = parseTradeBill(bill(description))
    assert.equal(parsed.rows.length, 1, description)
    assert.deepEqual(
      { out: parsed.rows[0]!.outTradeNo, amount: parsed.rows[0]!.amount, fee: parsed.rows[0]!.fee, state: parsed.rows[0]!.tradeState },
      { out: 'pay_1', amount: 1234, fee: 7, state: 'SUCCESS' },
      description,
    )
    assert.deepEqual(parsed.summary, { count: 1, settledTotal: 1234, refundTotal: 0, feeTotal: 7 })
  }
  assert.throws(() => parseTradeBill(bill('Latte,`large')), /line 2 has 28 fields, the header 27/)
})

it('reads a refund line as WeChat writes it: 0.00 to settle, the refund as asked for in 申请退款金额', () => {
  const refund = ['2026-11-26 11:00:00', 'wx1', '1900000001', '0', '', '4200000001', 'pay_1', 'oUser', 'NATIVE', 'REFUND', 'OTHERS', 'CNY', '0.00', '0.00', '50300000001', 'rfd_1', '4.00', '0.00', 'ORIGINAL', 'SUCCESS', 'Latte', '', '-0.02', '0.60%', '0.00', '4.00', '']
    .map((c) => '`' + c)
    .join(',')
  const text = [HEADER, row('Latte'), refund, '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额', '`2,`12.34,`4.00,`0.00,`0.05,`12.34,`4.00'].join('\r\n')
  const parsed = parseTradeBill(text)
  assert.deepEqual(
    parsed.rows.map((r) => [r.tradeState, r.outTradeNo, r.amount, r.orderAmount, r.outRefundNo, r.refundAmount, r.requestedRefundAmount, r.refundState]),
    [
      ['SUCCESS', 'pay_1', 1234, 1234, '', 0, 0, ''],
      ['REFUND', 'pay_1', 0, 0, 'rfd_1', 400, 400, 'SUCCESS'],
    ],
  )
  assert.deepEqual(parsed.summary, { count: 2, settledTotal: 1234, refundTotal: 400, feeTotal: 5 })
})
