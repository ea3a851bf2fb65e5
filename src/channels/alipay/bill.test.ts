// Alipay bill parsing on a bill shaped like Alipay's own: a deflated zip, GBK file names and content, `#`
// comment lines, tab-suffixed numbers, a summary file beside the detail file. (Fixture made with Python's
// zipfile: see the report of issue 3; not an official file.)
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { writeZip, readZip } from '../zip-file.ts'
import { csvRecords, parseAlipayBill } from './bill.ts'

describe('Alipay bill', () => {
  it('reads a deflated GBK zip and picks the detail CSV, amounts in fen', () => {
    const bill = parseAlipayBill(readFileSync(new URL('./fixtures/alipay-bill-gbk.zip', import.meta.url)))
    assert.equal(bill.file, '20885318916687390156_20261126_业务明细.csv')
    assert.deepEqual(
      bill.rows.map((r) => [r.tradeNo, r.outTradeNo, r.businessType, r.amount, r.received, r.refundRequestNo, r.serviceFee]),
      [
        ['2026112622001468450512505578', 'pay_01m8example0000000000001', '交易', 1234, 1234, '', -7],
        ['2026112622001468450512505578', 'pay_01m8example0000000000001', '退款', -234, -234, 'rfd_01m8example00000000000001', 0],
      ],
    )
  })
  it('reads quoted fields by RFC 4180: a product name with a comma, a quote or a line break stays one field', () => {
    const header = '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,订单金额（元）,商家实收（元）,退款批次号/请求号,服务费（元）'
    const csv = [
      '#支付宝业务明细查询',
      header,
      '2026112622001468450512505578\t,pay_1\t,交易,"Latte, large ""hot""",2026-11-26 10:00:00,2026-11-26 10:00:05,12.34\t,12.34\t,,-0.07\t',
      '2026112622001468450512505579\t,pay_2\t,交易,"two\r\nlines",2026-11-26 10:01:00,2026-11-26 10:01:05,1.00\t,1.00\t,,0.00\t',
      '#交易合计：2笔',
    ].join('\r\n') + '\r\n'
    const bill = parseAlipayBill(Buffer.from(csv, 'utf8'))
    assert.deepEqual(bill.rows.map((r) => [r.outTradeNo, r.subject, r.amount, r.serviceFee]), [
      ['pay_1', 'Latte, large "hot"', 1234, -7],
      ['pay_2', 'two\r\nlines', 100, 0],
    ])
    assert.deepEqual(csvRecords('a,"b,""c"""\n\n"",d\n'), [['a', 'b,"c"'], ['', 'd']])
    assert.throws(() => csvRecords('a,"b\n'), /not closed/)
  })
  it('round-trips stored zips with UTF-8 names, and refuses what is not a zip', () => {
    const zip = writeZip([{ name: '账单.csv', data: Buffer.from('a,b\r\n') }])
    assert.deepEqual(readZip(zip).map((e) => [e.name, e.data.toString()]), [['账单.csv', 'a,b\r\n']])
    assert.throws(() => readZip(Buffer.from('PK not really')), /not a zip/)
  })
})
