// The channel commands as a merchant's operator runs them: `scanpay simulate` writes keys and a credentials
// file, `scanpay channel set` checks credentials on the spot (offline and with --check against the gateway).
import assert from 'node:assert/strict'
import { shanghaiDate } from '../src/channels/shanghai-time.ts'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AlipaySimulator } from '../src/channels/alipay/simulator.ts'
import { WechatPaySimulator } from '../src/channels/wechat-pay/simulator.ts'
import { SqlBillCheckStore } from '../src/storage/bill-check-store.ts'
import { openDatabase, type OpenDatabase } from '../src/storage/database.ts'

const BIN = new URL('../bin/scanpay.js', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'scanpay-cli-'))
const env = { ...process.env, NODE_ENV: 'test', SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'), DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` }

/** Like run, without blocking this process's event loop (an in-process simulator must answer meanwhile). */
function runAsync(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c))
    child.stderr.on('data', (c: Buffer) => (stderr += c))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('scanpay simulate and scanpay channel set', () => {
  const keysDir = join(dir, 'wx-keys')
  let sim: ReturnType<typeof spawn> | null = null
  let simUrl = ''
  let merchantId = ''

  /** A live order of 15.00 recorded as paid through WeChat Pay at paidAt, with the payment that paid it. */
  async function storePaidOrder(db: OpenDatabase, o: { id: string; payment: string; outTradeNo: string; channelTradeNo: string; paidAt: number }): Promise<void> {
    await db.db.insertInto('orders').values({
      id: o.id, merchant_id: merchantId, mode: 'live', status: 'paid', out_trade_no: o.outTradeNo, amount: 1500, amount_refunded: 0,
      currency: 'CNY', subject: 'Flat white', description: null, metadata: '{}', channels: '["wechatpay"]', notify_url: null, return_url: null,
      pay_token: randomBytes(24).toString('base64url'), channel: 'wechatpay', channel_trade_no: o.channelTradeNo, request_hash: '',
      created_at: o.paidAt - 60_000, expires_at: o.paidAt + 3_600_000, paid_at: o.paidAt, closed_at: null, updated_at: o.paidAt,
    }).execute()
    await db.db.insertInto('payments').values({
      id: o.payment, merchant_id: merchantId, order_id: o.id, channel: 'wechatpay', status: 'succeeded', amount: 1500, currency: 'CNY',
      channel_trade_no: o.channelTradeNo, unexpected: 0, created_at: o.paidAt - 30_000, updated_at: o.paidAt, qr_content: null, next_check_at: null,
    }).execute()
  }

  before(async () => {
    sim = spawn(process.execPath, [BIN, 'simulate', 'wechatpay', '--port', '0', '--keys-dir', keysDir], { env, stdio: ['ignore', 'pipe', 'inherit'] })
    simUrl = await new Promise<string>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`simulator did not start: ${out}`)), 60_000)
      sim!.stdout!.on('data', (c: Buffer) => {
        out += c.toString()
        const m = /listening on (http:\/\/\S+)/.exec(out)
        if (m) {
          clearTimeout(timer)
          resolve(m[1]!)
        }
      })
    })
    const created = run('merchant', 'create', '--name', 'CLI Shop', '--json')
    assert.equal(created.code, 0, created.stderr)
    merchantId = JSON.parse(created.stdout).merchant_id
  })
  after(() => {
    sim?.kill('SIGTERM')
  })

  it('the simulator writes its keys, certificates and a credentials file that points at it', () => {
    for (const f of ['apiclient_key.pem', 'apiclient_cert.pem', 'wechatpay_public_key.pem', 'wechatpay_platform_cert.pem', 'wechatpay-credentials.json']) {
      assert.ok(existsSync(join(keysDir, f)), f)
    }
    const doc = JSON.parse(readFileSync(join(keysDir, 'wechatpay-credentials.json'), 'utf8'))
    assert.equal(doc.api_base_url, simUrl)
  })

  it('sets credentials checked against the gateway, sealed at rest', async () => {
    const r = run('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', join(keysDir, 'wechatpay-credentials.json'), '--check')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /wechatpay credentials for mch_\w+ saved \(account \d+, checked against the gateway\)/)
    const db = await openDatabase(env.DATABASE_URL)
    try {
      const row = await db.db.selectFrom('channel_credentials').selectAll().where('merchant_id', '=', merchantId).executeTakeFirstOrThrow()
      const doc = JSON.parse(readFileSync(join(keysDir, 'wechatpay-credentials.json'), 'utf8'))
      assert.equal(row.account_id, doc.mchid)
      assert.ok(!row.credentials_enc.includes('PRIVATE KEY') && !row.credentials_enc.includes(doc.apiv3_key), 'nothing readable at rest')
      // The operator's list names the channel and its account.
      const listed = JSON.parse(run('merchant', 'list', '--json').stdout)
      assert.deepEqual(listed.merchants.find((m: { merchant_id: string }) => m.merchant_id === merchantId).channels, [{ channel: 'wechatpay', account_id: doc.mchid }])
    } finally {
      await db.close()
    }
  })

  it('downloads and reconciles a day\'s bill from the gateway', () => {
    const r = run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', '2026-01-01', '--json')
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), { lines: 0, discrepancies: [] })
    assert.equal(run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', 'yesterday').code, 2)
    // A day that does not exist is refused, not read as a day without payments, and the refusal says why.
    for (const date of ['2026-13-01', '2026-02-30', '20261128']) {
      const r = run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', date)
      assert.equal(r.code, 2, date)
      assert.match(r.stderr, new RegExp(`^--date ${date} is not a day: give a Beijing calendar date as yyyy-MM-dd`), date)
    }
    // So is a merchant that does not exist, for this command and the list of checks alike.
    for (const args of [['bill', '--merchant', 'mch_nope', 'wechatpay', '--date', '2026-01-01'], ['bill-checks', '--merchant', 'mch_nope']]) {
      const r = run('channel', ...args)
      assert.deepEqual([r.code, r.stderr.trim()], [2, 'no merchant mch_nope'], args.join(' '))
    }
    // Nor is a day whose bill is not out yet (today in Beijing, or later) read as one without payments.
    const today = run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', shanghaiDate(Date.now()))
    assert.equal(today.code, 2)
    assert.match(today.stderr, /is not out yet: a day's bill comes the next morning, Beijing time/)
  })

  it('flags an order recorded as paid that day that the bill does not list, saying what WeChat Pay answers of it', async () => {
    // Recorded as paid through WeChat Pay at noon of 2026-01-02 (Beijing), never paid there.
    const paidAt = Date.parse('2026-01-02T12:00:00+08:00')
    const order = { id: 'ord_01kdzzzzzzzzzzzzzzzzzzzzzz', payment: 'pay_01kdzzzzzzzzzzzzzzzzzzzzzz' }
    const db = await openDatabase(env.DATABASE_URL)
    try {
      await storePaidOrder(db, { ...order, outTradeNo: 'never-paid-1', channelTradeNo: '4200000000000000000000000042', paidAt })
    } finally {
      await db.close()
    }
    const r = run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', '2026-01-02')
    assert.equal(r.code, 3, r.stderr)
    assert.equal(r.stdout, [
      `wechatpay bill of 2026-01-02 for ${merchantId}: 0 payments, 0 refunds, 1 discrepancy`,
      `  missing_from_bill: ${order.payment} of order ${order.id} (4200000000000000000000000042, 1500 fen, paid 2026-01-02T04:00:00.000Z); the channel says closed`,
      '',
    ].join('\n'))
    // The day before and after know nothing of it.
    assert.equal(run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', '2026-01-01').code, 0)
    assert.equal(run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', '2026-01-03').code, 0)
  })

  it('flags a refund recorded as succeeded that day that the bill does not list, saying what WeChat Pay answers of it', async () => {
    // An order paid through WeChat Pay on 2026-01-04 (Beijing), and a refund of it recorded as succeeded at noon of
    // 2026-01-05 that WeChat Pay never made.
    const paidAt = Date.parse('2026-01-04T12:00:00+08:00')
    const refundedAt = Date.parse('2026-01-05T12:00:00+08:00')
    const order = { id: 'ord_01ke0000000000000000000000', payment: 'pay_01ke0000000000000000000000', refund: 'rfd_01ke0000000000000000000000' }
    const db = await openDatabase(env.DATABASE_URL)
    try {
      await storePaidOrder(db, { ...order, outTradeNo: 'never-refunded-1', channelTradeNo: '4200000000000000000000000043', paidAt })
      await db.db.updateTable('orders').set({ status: 'partially_refunded', amount_refunded: 500, updated_at: refundedAt }).where('id', '=', order.id).execute()
      await db.db.insertInto('refunds').values({
        merchant_id: merchantId, id: order.refund, mode: 'live', order_id: order.id, amount: 500, currency: 'CNY', status: 'succeeded', out_refund_no: 'R-1',
        reason: null, failure_reason: null, channel: 'wechatpay', channel_refund_no: '50300000000000000000000000', request_hash: '', created_at: refundedAt - 5000,
        succeeded_at: refundedAt, failed_at: null, updated_at: refundedAt, next_check_at: refundedAt, check_count: 1,
      }).execute()
    } finally {
      await db.close()
    }
    const r = run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', '2026-01-05')
    assert.equal(r.code, 3, r.stderr)
    // --json in the API's shapes (GET /v1/bill_checks).
    const json = run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', '2026-01-05', '--json')
    assert.deepEqual(JSON.parse(json.stdout).discrepancies.map((d: any) => [d.kind, d.refund_id, d.payment_id, d.order_id, d.amount, d.refund_succeeded_at, d.channel_status]), [
      ['refund_missing_from_bill', order.refund, order.payment, order.id, 500, '2026-01-05T04:00:00.000Z', 'failed'],
    ])
    assert.equal(r.stdout, [
      `wechatpay bill of 2026-01-05 for ${merchantId}: 0 payments, 0 refunds, 1 discrepancy`,
      `  refund_missing_from_bill: refund ${order.refund} of ${order.payment}, order ${order.id} (4200000000000000000000000043, 500 fen, succeeded 2026-01-05T04:00:00.000Z); the channel says failed`,
      '',
    ].join('\n'))
    assert.equal(run('channel', 'bill', '--merchant', merchantId, 'wechatpay', '--date', '2026-01-06').code, 0, 'the day after knows nothing of it')
  })

  it('lists the daily checks the server has made: none yet, then what they found (exit 3)', async () => {
    const r = run('channel', 'bill-checks', '--merchant', merchantId, '--json')
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), { checks: [] })
    assert.match(run('channel', 'bill-checks').stdout, /no daily bill has been checked yet/)
    // Two checks as the job leaves them: one found a discrepancy, one failed and is retried.
    const db = await openDatabase(env.DATABASE_URL)
    try {
      const checks = new SqlBillCheckStore(db.db)
      const t0 = Date.UTC(2026, 10, 28, 3)
      await checks.claim(merchantId, 'wechatpay', '2026-11-27', t0, t0 + 60_000)
      const line = { outTradeNo: 'pay_x', channelTradeNo: '4200x', amount: 1234 }
      await checks.finish(merchantId, 'wechatpay', '2026-11-27', 1, { lines: 3, discrepancies: 1, details: [{ kind: 'unknown_payment', line }] }, t0)
      await checks.claim(merchantId, 'wechatpay', '2026-11-26', t0, t0 + 60_000)
      await checks.fail(merchantId, 'wechatpay', '2026-11-26', 1, 'WeChat Pay tradebill failed: HTTP 502', t0 + 600_000, t0)
    } finally {
      await db.close()
    }
    const listed = run('channel', 'bill-checks', '--merchant', merchantId)
    assert.equal(listed.code, 3, listed.stderr)
    const json = JSON.parse(run('channel', 'bill-checks', '--merchant', merchantId, '--json').stdout)
    assert.deepEqual(json.checks.map((c: any) => [c.merchant_id, c.bill_date, c.status, c.next_attempt_at, c.discrepancy_details.map((d: any) => [d.kind, d.payment_id])]), [
      [merchantId, '2026-11-27', 'discrepancies', null, [['unknown_payment', 'pay_x']]],
      [merchantId, '2026-11-26', 'failed', '2026-11-28T03:10:00.000Z', []],
    ])
    assert.match(listed.stdout, /^2026-11-27 wechatpay mch_\w+: 3 lines, 1 discrepancy\n  unknown_payment: pay_x \(4200x, 1234 fen\)\n/)
    assert.match(listed.stdout, /\n2026-11-26 wechatpay mch_\w+: failed after 1 attempt\(s\): WeChat Pay tradebill failed: HTTP 502; next attempt 2026-11-28T03:10:00\.000Z\n$/)
  })

  it('reads keys from files named by *_file fields, relative to the credentials file', () => {
    const doc = JSON.parse(readFileSync(join(keysDir, 'wechatpay-credentials.json'), 'utf8'))
    delete doc.merchant_private_key
    delete doc.merchant_certificate
    const file = join(keysDir, 'by-files.json')
    writeFileSync(file, JSON.stringify({ ...doc, merchant_private_key_file: 'apiclient_key.pem', merchant_certificate_file: 'apiclient_cert.pem' }))
    const r = run('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', file)
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stdout, /note:/, 'set again for the same merchant: nothing shared')
  })

  it('notes another merchant on the same channel account, whose bill checks will list each other\'s payments', async () => {
    const other = JSON.parse(run('merchant', 'create', '--name', 'Second Shop', '--json').stdout).merchant_id
    const r = run('channel', 'set', '--merchant', other, 'wechatpay', '--from-file', join(keysDir, 'wechatpay-credentials.json'))
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`\\nnote: ${merchantId} uses the same wechatpay account \\d+: each merchant's daily bill check will list the others' payments and refunds as unknown\\n$`))
    const db = await openDatabase(env.DATABASE_URL)
    try {
      await db.db.deleteFrom('channel_credentials').where('merchant_id', '=', other).execute()
    } finally {
      await db.close()
    }
  })

  it('refuses to seal credentials under a master key that opens none of the stored secrets', async () => {
    const stored = async () => {
      const db = await openDatabase(env.DATABASE_URL)
      try {
        return await db.db.selectFrom('channel_credentials').selectAll().execute()
      } finally {
        await db.close()
      }
    }
    const before = await stored()
    // Another directory's master.key, say: the servers could not open what it sealed, and would not start.
    const r = spawnSync(process.execPath, [BIN, 'channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', join(keysDir, 'wechatpay-credentials.json')], {
      env: { ...env, SCANPAY_MASTER_KEY: randomBytes(32).toString('base64') },
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stderr, /stored secrets that no configured master key opens/)
    assert.deepEqual(await stored(), before)
  })

  it('names a key file that cannot be read among the other problems, not as a missing field', () => {
    const doc = JSON.parse(readFileSync(join(keysDir, 'wechatpay-credentials.json'), 'utf8'))
    delete doc.merchant_private_key
    const file = join(keysDir, 'missing-file.json')
    writeFileSync(file, JSON.stringify({ ...doc, apiv3_key: 'short', merchant_private_key_file: 'nope.pem' }))
    const r = run('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', file)
    assert.equal(r.code, 2)
    assert.match(r.stderr, new RegExp(`merchant_private_key_file: cannot read ${join(keysDir, 'nope.pem')} \\(no such file\\)`))
    assert.match(r.stderr, /apiv3_key must be exactly 32 bytes/)
    assert.doesNotMatch(r.stderr, /merchant_private_key is required/)
  })

  it('refuses unusable credentials, naming every problem, and stores nothing', () => {
    const doc = JSON.parse(readFileSync(join(keysDir, 'wechatpay-credentials.json'), 'utf8'))
    const file = join(keysDir, 'broken.json')
    writeFileSync(file, JSON.stringify({ ...doc, apiv3_key: 'short', merchant_serial_no: 'ABCDEF0123456789', merchant_private_key: 'not a key' }))
    const r = run('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', file)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /apiv3_key must be exactly 32 bytes/)
    assert.match(r.stderr, /merchant_private_key/)
    assert.match(r.stderr, /merchant_serial_no ABCDEF0123456789 is not the serial of merchant_certificate/)
  })

  it('--check refuses credentials the gateway rejects', () => {
    const doc = JSON.parse(readFileSync(join(keysDir, 'wechatpay-credentials.json'), 'utf8'))
    const file = join(keysDir, 'other-key.json')
    // A valid key that is not the one the simulator knows for this merchant: the gateway answers SIGN_ERROR.
    writeFileSync(file, JSON.stringify({ ...doc, merchant_certificate: undefined, merchant_private_key: readFileSync(new URL('../src/channels/wechat-pay/fixtures/wxjava_merchant_private_key.pem', import.meta.url), 'utf8') }))
    const r = run('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', file, '--check')
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^the wechatpay gateway did not accept these credentials: .*SIGN_ERROR/)
    assert.equal(run('channel', 'set', '--merchant', 'mch_nope', 'wechatpay', '--from-file', file).code, 2)
    // A gateway that does not answer says nothing of the credentials, and the message does not blame them.
    const down = join(keysDir, 'gateway-down.json')
    writeFileSync(down, JSON.stringify({ ...doc, api_base_url: 'http://127.0.0.1:9' }))
    const d = run('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', down, '--check')
    assert.equal(d.code, 1, 'not reached: no mistake in the command line')
    assert.match(d.stderr, /^could not check these credentials: the wechatpay gateway did not answer \(.*\); nothing was saved/)
    // The right merchant key but the wrong WeChat public key: the gateway's signed answer does not verify.
    const wrongWechatKey = join(keysDir, 'wrong-wechat-key.json')
    writeFileSync(wrongWechatKey, JSON.stringify({ ...doc, wechatpay_public_key: readFileSync(new URL('../src/channels/wechat-pay/fixtures/wxjava_wechat_pay_public_key.pem', import.meta.url), 'utf8') }))
    const w = run('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', wrongWechatKey, '--check')
    assert.equal(w.code, 2)
    assert.match(w.stderr, /does not verify with the WeChat Pay key given/)
  })

  it('wechatpay certificate mode: --check downloads the platform certificates, names one WeChat rotated in, and refuses a wrong APIv3 key', async () => {
    const keys = join(dir, 'wx-cert-keys')
    const wx = await new WechatPaySimulator({ keysDir: keys, serialMode: 'certificate' }).start()
    try {
      const file = join(keys, 'wechatpay-credentials.json')
      const ok = await runAsync('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', file, '--check')
      assert.equal(ok.code, 0, ok.stderr)
      assert.doesNotMatch(ok.stdout, /note:/)
      assert.equal(wx.certificateDownloads, 1)
      // Another 32-byte APIv3 key: nothing WeChat lists decrypts with it, so its notifications would not either.
      const wrong = join(keys, 'wrong-apiv3.json')
      writeFileSync(wrong, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), apiv3_key: 'A'.repeat(32) }))
      const refused = await runAsync('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', wrong, '--check')
      assert.equal(refused.code, 2)
      assert.match(refused.stderr, /no platform certificate WeChat Pay lists decrypts with the APIv3 key \(apiv3_key\)/)
      // WeChat signs with a new certificate the file does not hold yet: still accepted, and the operator told.
      const serial = wx.rotatePlatformCertificate()
      const rotated = await runAsync('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', file, '--check')
      assert.equal(rotated.code, 0, rotated.stderr)
      assert.match(rotated.stdout, new RegExp(`note: WeChat Pay also uses platform certificate ${serial}, which wechatpay_certificates does not hold`))
      assert.match(rotated.stdout, /checked against the gateway/)
      // The wrong key again, the answer now signed with a certificate the file lacks: still named as the suspect.
      const bad = await runAsync('channel', 'set', '--merchant', merchantId, 'wechatpay', '--from-file', wrong, '--check')
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /decrypts with the APIv3 key \(apiv3_key\)/)
    } finally {
      await wx.stop()
    }
  })

  it('alipay: --check accepts the simulator\'s credentials and refuses a wrong Alipay public key', async () => {
    const ali = await new AlipaySimulator({ keysDir: join(dir, 'ali-keys') }).start()
    try {
      const file = join(dir, 'ali-keys', 'alipay-credentials.json')
      const ok = await runAsync('channel', 'set', '--merchant', merchantId, 'alipay', '--from-file', file, '--check')
      assert.equal(ok.code, 0, ok.stderr)
      assert.match(ok.stdout, /alipay credentials for mch_\w+ saved \(account \d{16}, checked against the gateway\)/)
      const wrong = join(dir, 'ali-keys', 'wrong.json')
      writeFileSync(wrong, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), alipay_public_key: readFileSync(new URL('../src/channels/alipay/fixtures/alipaysdk_alipay-public-key.pem', import.meta.url), 'utf8') }))
      const bad = await runAsync('channel', 'set', '--merchant', merchantId, 'alipay', '--from-file', wrong, '--check')
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /response signature rejected/)
    } finally {
      await ali.stop()
    }
  })
})
