// The channels' wire mappings: statuses, money and Beijing time, whatever the server's time zone.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Order } from '../core/order.ts'
import * as ali from './alipay/transformers.ts'
import { alipayTime, parseAlipayTime, rfc3339Shanghai, shanghaiDate } from './shanghai-time.ts'
import * as wx from './wechat-pay/transformers.ts'

const order = (o: Partial<Order> = {}): Order => ({
  id: 'ord_1', merchantId: 'm', mode: 'live', status: 'pending', outTradeNo: 'A', amount: 1234, amountRefunded: 0, currency: 'CNY', subject: 'Latte',
  description: null, metadata: {}, channels: [], notifyUrl: null, returnUrl: null, payToken: 't', channel: null, channelTradeNo: null, requestHash: 'h',
  createdAt: 0, expiresAt: Date.UTC(2026, 10, 26, 2, 15, 0), paidAt: null, closedAt: null, updatedAt: 0, ...o,
})

describe('Beijing time', () => {
  it('formats in UTC+8 whatever TZ the process runs in', () => {
    const at = Date.UTC(2026, 10, 26, 16, 30, 5) // 00:30:05 the next day in Beijing
    for (const tz of ['UTC', 'America/Los_Angeles', 'Asia/Kolkata']) {
      process.env.TZ = tz
      assert.equal(rfc3339Shanghai(at), '2026-11-27T00:30:05+08:00')
      assert.equal(alipayTime(at), '2026-11-27 00:30:05')
      assert.equal(shanghaiDate(at), '2026-11-27')
      assert.equal(parseAlipayTime('2026-11-27 00:30:05'), at)
    }
    delete process.env.TZ
  })

  it('reads only a time that exists: no 13th month, 45th day or 25th hour', () => {
    for (const text of ['2024-13-01 00:00:00', '2024-02-30 10:00:00', '2024-01-45 00:00:00', '2024-01-01 24:00:00', '2024-01-01 10:60:00', '2024-1-01 10:00:00']) {
      assert.equal(parseAlipayTime(text), null, text)
    }
    assert.notEqual(parseAlipayTime('2024-02-29 23:59:59'), null)
  })
})

describe('WeChat Pay transformers', () => {
  it('builds the Native body: fen unchanged, expiry in Beijing time, description within 127 bytes', () => {
    const body = wx.nativePrepayRequest({ appid: 'wx1', mchid: '1900000001', paymentId: 'pay_1', order: order({ subject: '咖'.repeat(60) }), notifyUrl: 'https://x/n' })
    assert.deepEqual(body.amount, { total: 1234, currency: 'CNY' })
    // 30 s before the order's own expiry, so a last-moment payment is notified while the order is pending.
    assert.equal(body.time_expire, '2026-11-26T10:14:30+08:00')
    assert.equal(Buffer.byteLength(body.description), 126)
    assert.throws(() => wx.toWechatAmount(100, 'USD'))
  })
  it('maps trade_state; only documented finals are believed', () => {
    const paid = { out_trade_no: 'p', transaction_id: '42', trade_state: 'SUCCESS', success_time: '2026-11-26T10:00:00+08:00', amount: { total: 1234, currency: 'CNY' } }
    assert.deepEqual(wx.paymentStateOf(paid), { status: 'succeeded', channelTradeNo: '42', amount: 1234, paidAt: Date.UTC(2026, 10, 26, 2) })
    // Paid, and refunded since (in part or whole): still a success, which says so.
    assert.deepEqual(wx.paymentStateOf({ ...paid, trade_state: 'REFUND' }), { status: 'succeeded', channelTradeNo: '42', amount: 1234, paidAt: Date.UTC(2026, 10, 26, 2), refunded: true })
    assert.equal(wx.paymentStateOf({ ...paid, transaction_id: undefined }).status, 'pending')
    assert.equal(wx.paymentStateOf({ out_trade_no: 'p', trade_state: 'NOTPAY' }).status, 'pending')
    assert.equal(wx.paymentStateOf({ out_trade_no: 'p', trade_state: 'USERPAYING' }).status, 'pending')
    assert.equal(wx.paymentStateOf({ out_trade_no: 'p', trade_state: 'CLOSED' }).status, 'closed')
    assert.equal(wx.paymentStateOf({ out_trade_no: 'p', trade_state: 'PAYERROR' }).status, 'failed')
    assert.equal(wx.paymentStateOf({ out_trade_no: 'p', trade_state: 'SOMETHING_NEW' }).status, 'pending')
    assert.deepEqual(wx.refundStateOf({ refund_id: 'r', out_refund_no: 'o', status: 'SUCCESS' }), { status: 'succeeded', channelRefundNo: 'r' })
    // create_time dates the refund's bill line: kept for a refund that succeeded, never read from a malformed time.
    assert.deepEqual(wx.refundStateOf({ refund_id: 'r', out_refund_no: 'o', status: 'SUCCESS', create_time: '2026-11-26T23:59:58+08:00', success_time: '2026-11-27T00:00:03+08:00' }), {
      status: 'succeeded',
      channelRefundNo: 'r',
      datedAt: Date.parse('2026-11-26T15:59:58Z'),
    })
    assert.deepEqual(wx.refundStateOf({ refund_id: 'r', out_refund_no: 'o', status: 'SUCCESS', create_time: '2026-11-26 23:59:58' }), { status: 'succeeded', channelRefundNo: 'r' })
    assert.equal(wx.refundStateOf({ refund_id: 'r', out_refund_no: 'o', status: 'PROCESSING' }).status, 'pending')
    // ABNORMAL waits for the merchant at WeChat Pay and then ends SUCCESS or CLOSED: freeing the amount now could
    // refund it twice.
    assert.equal(wx.refundStateOf({ refund_id: 'r', out_refund_no: 'o', status: 'ABNORMAL' }).status, 'pending')
    assert.equal(wx.refundStateOf({ refund_id: 'r', out_refund_no: 'o', status: 'CLOSED' }).status, 'failed')
  })

  it("reads a refund notification's resource as a refund of ours, never as a payment, and refuses one for another mchid", () => {
    const notice = { mchid: '1900000001', out_trade_no: 'pay_1', transaction_id: '42', refund_id: '503', out_refund_no: 'rfd_1', refund_status: 'SUCCESS', amount: { total: 1234, refund: 1000, payer_total: 1234, payer_refund: 1000 } }
    assert.deepEqual(wx.refundNoticeOf(notice, '1900000001'), {
      paymentId: '',
      state: { status: 'pending' },
      refund: { refundId: 'rfd_1', amount: 1000, channelTradeNo: '42', state: { status: 'succeeded', channelRefundNo: '503' } },
    })
    assert.equal(wx.refundNoticeOf({ ...notice, refund_status: 'CLOSED' }, '1900000001').refund?.state.status, 'failed')
    assert.match(JSON.stringify(wx.refundNoticeOf({ ...notice, refund_status: 'ABNORMAL' }, '1900000001').refund?.state), /"status":"pending","attention":".*merchant platform/)
    assert.throws(() => wx.refundNoticeOf(notice, '1900000002'), { reason: 'account_mismatch' })
    assert.throws(() => wx.refundNoticeOf({ ...notice, amount: { refund: 10.5 } }, '1900000001'), { reason: 'body_invalid' })
    assert.throws(() => wx.refundNoticeOf({ ...notice, out_refund_no: undefined }, '1900000001'), { reason: 'body_invalid' })
    assert.throws(() => wx.refundNoticeOf({ ...notice, transaction_id: undefined }, '1900000001'), { reason: 'body_invalid' })
    // Signed, yet ids no column holds (PostgreSQL refuses NUL and an over-long varchar): refused, not looked up.
    for (const bad of [{ out_refund_no: 'rfd_1\u0000' }, { out_refund_no: 'r'.repeat(41) }, { refund_id: '5'.repeat(65) }, { transaction_id: '4'.repeat(65) }, { refund_id: '' }]) {
      assert.throws(() => wx.refundNoticeOf({ ...notice, ...bad }, '1900000001'), { reason: 'body_invalid' }, JSON.stringify(bad))
    }
  })
})

describe('Alipay transformers', () => {
  it('converts fen to yuan strings and whole minutes of timeout', () => {
    const biz = ali.precreateBiz('pay_1', order({ amount: 29, createdAt: 0 }), Date.UTC(2026, 10, 26, 2, 0, 30))
    assert.equal(biz.total_amount, '0.29')
    // From the attempt's opening, 14m30s before the order's end, less the 30 s margin.
    assert.equal(biz.timeout_express, '14m')
    assert.equal(biz.qr_code_timeout_express, '14m', 'from the code, since timeout_express counts from the scan')
    assert.equal(ali.toAlipayAmount(100_000_000_00, 'CNY'), '100000000.00')
    assert.throws(() => ali.toAlipayAmount(100_000_000_01, 'CNY'))
    assert.throws(() => ali.toAlipayAmount(1, 'HKD'))
    assert.equal(ali.timeoutExpress(order(), order().expiresAt - 60_000), '1m')
    assert.equal(ali.timeoutExpress(order(), order().expiresAt - 10_000), '1m', 'at least a minute, even when opened at the end')
    assert.equal(ali.timeoutExpress(order(), 0), '21600m', 'Alipay takes at most 15 days')
  })
  it('maps trade_status; a trade not scanned yet is pending', () => {
    const paid = { trade_status: 'TRADE_SUCCESS', trade_no: '2026', total_amount: '12.34', send_pay_date: '2026-11-26 10:00:00' }
    assert.deepEqual(ali.paymentStateOf(paid), { status: 'succeeded', channelTradeNo: '2026', amount: 1234, paidAt: Date.UTC(2026, 10, 26, 2) })
    assert.equal(ali.paymentStateOf({ ...paid, trade_status: 'TRADE_FINISHED' }).status, 'succeeded')
    assert.equal(ali.paymentStateOf({ ...paid, total_amount: '12.345' }).status, 'pending')
    assert.equal(ali.paymentStateOf({ trade_status: 'WAIT_BUYER_PAY' }).status, 'pending')
    assert.equal(ali.paymentStateOf({ trade_status: 'TRADE_CLOSED' }).status, 'closed')
    assert.equal(ali.paymentStateOf({ ...paid, trade_status: 'TRADE_CLOSED' }).status, 'closed', 'paid, then refunded in full: the money went back')
    assert.equal(ali.isDefiniteRefusal({ code: '40004', msg: '', sub_code: 'ACQ.TRADE_STATUS_ERROR' }), true)
    assert.equal(ali.isDefiniteRefusal({ code: '40004', msg: '', sub_code: 'ACQ.SYSTEM_ERROR' }), false)
    assert.equal(ali.isDefiniteRefusal({ code: '20000', msg: '' }), false)
  })
})
