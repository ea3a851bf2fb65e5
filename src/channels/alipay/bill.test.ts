// Alipay bill parsing on a bill shaped like Alipay's own: a deflated zip, GBK file names and content, `#`
// comment lines, tab-suffixed numbers, a summary file beside the detail file. (Fixture made with Python's
// zipfile: see the report of issue 3; not an official file.)
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { writeZip, readZip } from '../zip-file.ts'
import { parseAlipayBill } from './bill.ts'

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
  it('round-trips stored zips with UTF-8 names, and refuses what is not a zip', () => {
    const zip = writeZip([{ name: '账单.csv', data: Buffer.from('a,b\r\n') }])
    assert.deepEqual(readZip(zip).map((e) => [e.name, e.data.toString()]), [['账单.csv', 'a,b\r\n']])
    assert.throws(() => readZip(Buffer.from('PK not really')), /not a zip/)
  })
})
