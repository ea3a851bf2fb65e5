// The scanpay command as a user runs it: migrate, merchant create --json, and start with its demo merchant.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { describe, it } from 'node:test'
import { signWebhook } from '../sdk/src/signing.ts'
import { BIN, CLI_ENV, run, tempSqliteUrl } from './helpers/cli.ts'
import { freePort } from './helpers/server.ts'
import { eventually } from './helpers/webhook-receiver.ts'

const env = CLI_ENV
const tempDb = tempSqliteUrl

describe('scanpay CLI', () => {
  it('migrate brings a new database up to date, then reports it is, and needs no master key nor makes one', async () => {
    const db = tempDb()
    const first = await run(process.execPath, [BIN, 'migrate', '--db', db], { env })
    assert.match(first.stdout, /applied 0001-initial/)
    const second = await run(process.execPath, [BIN, 'migrate', '--db', db], { env: { ...env, NODE_ENV: 'production' } })
    assert.match(second.stdout, /up to date/)
    assert.ok(!existsSync(join(dirname(db.slice('sqlite:'.length)), 'master.key')), 'no master key written beside the database')
  })

  it('merchant create --json prints exactly one JSON object with the credentials', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'merchant', 'create', '--name', 'CLI Shop', '--webhook-url', 'http://127.0.0.1:9/h', '--json', '--db', tempDb()], { env })
    const lines = stdout.trim().split('\n')
    assert.equal(lines.length, 1)
    const m = JSON.parse(lines[0]!)
    assert.deepEqual(Object.keys(m).sort(), ['live', 'merchant_id', 'test', 'webhook_secret'])
    assert.match(m.merchant_id, /^mch_/)
    assert.match(m.test.key_id, /^key_test_/)
    assert.match(m.test.secret, /^sk_test_/)
    assert.match(m.live.key_id, /^key_live_/)
    assert.match(m.live.secret, /^sk_live_/)
    assert.equal(Buffer.from(m.webhook_secret.slice('whsec_'.length), 'base64').length, 32)
  })

  it('merchant create refuses a missing name or a bad URL', async () => {
    await assert.rejects(run(process.execPath, [BIN, 'merchant', 'create', '--json', '--db', tempDb()], { env }), /--name is required/)
    await assert.rejects(run(process.execPath, [BIN, 'merchant', 'create', '--name', 'x', '--webhook-url', 'ftp://x', '--db', tempDb()], { env }), /http\(s\)/)
  })

  it('a command line it cannot run exits 2 and says why: an unknown option, an unknown command, none, a bad port', async () => {
    const usage = async (args: string[], message: RegExp) => {
      const err = await run(process.execPath, [BIN, ...args], { env }).then(() => null, (e: { code: number; stderr: string }) => e)
      assert.ok(err, `${args.join(' ')} should fail`)
      assert.equal(err.code, 2, args.join(' '))
      assert.match(err.stderr, message)
    }
    await usage(['migrate', '--dbb', tempDb()], /Unknown option '--dbb'[\s\S]*Usage:/)
    await usage(['merchant', 'create', '--name'], /argument missing/)
    await usage(['frobnicate'], /unknown command: frobnicate[\s\S]*Usage:/)
    await usage([], /Usage:/)
    await usage(['listen', '--port', '80a'], /--port must be a port number from 1 to 65535, got "80a"/)
    await usage(['listen', '--port', '70000'], /--port must be/)
    await usage(['listen', '--secret', 'sk_test_abc'], /the merchant's webhook secret \(whsec_…, from merchant create\), not an API key/)
    await usage(['merchant', 'create', '--name', 'N'.repeat(300), '--db', tempDb()], /--name must be 1-128 characters, got 300/)
    // Settings that cannot be used, from flags or the environment: the same.
    await usage(['start', '--workers', 'abc'], /--workers must be an integer from 1 to 256/)
    await usage(['start', '--port', '99999'], /^--port must be at most 65535/)
    await usage(['migrate', '--db', 'mysql://x'], /must start with sqlite: or postgres:\/\//)
    // No stray argument is taken for nothing, and a missing database is not made (nor a master key beside it).
    const missing = join(tempDb().slice('sqlite:'.length), '..', 'absent', 'x.db')
    await usage(['merchant', 'show', '--merchant', 'mch_x', '--db', `sqlite:${missing}`], /no ScanPay database at/)
    // Nor would a key's reseal or the channels' commands report on a new, empty one as if it were the server's.
    for (const args of [['master-key', 'reseal'], ['channel', 'bill-checks'], ['channel', 'bill', '--merchant', 'mch_x', 'wechatpay', '--date', '2026-11-26']]) {
      await usage([...args, '--db', `sqlite:${missing}`], /no ScanPay database at/)
    }
    assert.equal(existsSync(missing), false, 'no database made')
    // A start its flags refuse reads no configuration: no master key made.
    await usage(['start', '--workers', '2', '--db', `sqlite:${missing}`], /--workers above 1 needs PostgreSQL/)
    assert.equal(existsSync(join(dirname(missing), 'master.key')), false, 'no master key made for a database not there')
    // sqlite://data/x.db would be /data/x.db: refused rather than guessed.
    await usage(['migrate', '--db', 'sqlite://rel/x.db'], /sqlite:\/\/rel\/x\.db is ambiguous: write sqlite:\.\/relative\/path\.db or sqlite:\/\/\/absolute/)
    await usage(['merchant', 'roll-key', '--merchant', 'mch_x', 'test', 'extra', '--db', tempDb()], /unexpected extra/)
  })

  it('start exits 1 when its port is taken, rather than living on serving nothing', async () => {
    const port = await freePort()
    const taken = createServer().listen(port, '127.0.0.1')
    await once(taken, 'listening')
    try {
      const started = Date.now()
      await assert.rejects(run(process.execPath, [BIN, 'start', '--port', String(port), '--db', tempDb()], { env, timeout: 30_000 }), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1)
        assert.match(err.stderr, /EADDRINUSE/)
        return true
      })
      assert.ok(Date.now() - started < 20_000)
    } finally {
      taken.close()
    }
  })

  it('production mode needs a master key', async () => {
    await assert.rejects(run(process.execPath, [BIN, 'merchant', 'create', '--name', 'x', '--db', tempDb()], { env: { ...env, NODE_ENV: 'production' } }), /SCANPAY_MASTER_KEY is required/)
  })

  it('production mode will not start on a database that keeps nothing past the process', async () => {
    const production = { ...env, NODE_ENV: 'production', SCANPAY_MASTER_KEY: randomBytes(32).toString('base64') }
    await assert.rejects(run(process.execPath, [BIN, 'start', '--db', 'sqlite::memory:'], { env: production }), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2, 'a configuration that cannot be served, as any other')
      assert.match(err.stderr, /sqlite::memory: keeps nothing past the process/)
      return true
    })
  })

  it('listen verifies with the secret from SCANPAY_WEBHOOK_SECRET, refusing a delivery signed with another', async () => {
    const port = await freePort()
    const secret = 'whsec_' + randomBytes(32).toString('base64')
    const child = spawn(process.execPath, [BIN, 'listen', '--port', String(port)], { env: { ...env, SCANPAY_WEBHOOK_SECRET: secret } })
    let stdout = ''
    child.stdout.on('data', (c) => (stdout += c))
    try {
      await eventually(async () => /Listening for webhooks/.test(stdout), 60_000, 'listening')
      const body = JSON.stringify({ id: 'evt_1', type: 'order.paid', timestamp: new Date().toISOString(), data: { id: 'ord_1', status: 'paid' } })
      const send = (key: string) => {
        const ts = Math.floor(Date.now() / 1000)
        return fetch(`http://127.0.0.1:${port}/hooks`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'webhook-id': 'evt_1', 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook(key, 'evt_1', ts, body) } })
      }
      assert.equal((await send(secret)).status, 200)
      assert.equal((await send('whsec_' + randomBytes(32).toString('base64'))).status, 400)
    } finally {
      child.kill('SIGTERM')
    }
    await new Promise((r) => child.on('exit', r))
    assert.match(stdout, /signature: verified/)
  })

  it('production mode writes its log to stdout as JSON lines only, for a log shipper to read', async () => {
    const port = await freePort()
    const production = { ...env, NODE_ENV: 'production', LOG_LEVEL: 'info', SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'), PUBLIC_URL: 'https://pay.example' }
    const child = spawn(process.execPath, [BIN, 'start', '--port', String(port), '--db', tempDb()], { env: production })
    let stdout = ''
    child.stdout.on('data', (c) => (stdout += c))
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok, 60_000, 'ready')
      await eventually(async () => /ScanPay is running/.test(stdout), 5_000, 'the start-up line')
    } finally {
      child.kill('SIGTERM')
    }
    await new Promise((r) => child.on('exit', r))
    const lines = stdout.split('\n').filter((l) => l !== '')
    assert.ok(lines.length > 0)
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line)
  })

  it('start serves the API with a demo merchant printed once, refuses a second server on its file, and stops cleanly on SIGTERM', async () => {
    const port = await freePort()
    const db = tempDb()
    const child = spawn(process.execPath, [BIN, 'start', '--port', String(port), '--db', db], { env })
    let out = ''
    child.stdout.on('data', (c) => (out += c))
    child.stderr.on('data', (c) => (out += c))
    try {
      const secret = await eventually(async () => /test secret:\s+(sk_test_\S+)/.exec(out)?.[1], 60_000, 'the demo merchant')
      const res = await fetch(`http://127.0.0.1:${port}/v1/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ out_trade_no: 'cli-1', amount: 100, subject: 'Tea' }),
      })
      assert.equal(res.status, 201)
      const order = (await res.json()) as any
      assert.equal(order.pay_url.startsWith(`http://127.0.0.1:${port}/pay/`), true)
      // A second server on the same file is refused before it touches the database; an admin command is not.
      const otherPort = await freePort()
      await assert.rejects(run(process.execPath, [BIN, 'start', '--port', String(otherPort), '--db', db], { env, timeout: 30_000 }), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1)
        assert.match(err.stderr, /another ScanPay server is running on \S+scanpay\.db/)
        return true
      })
      assert.equal(await fetch(`http://127.0.0.1:${otherPort}/readyz`).catch(() => null), null, 'nothing listens for the second')
      assert.match((await run(process.execPath, [BIN, 'merchant', 'list', '--db', db], { env })).stdout, /Demo Shop/)
    } finally {
      child.kill('SIGTERM')
    }
    const code = await new Promise((r) => child.on('exit', r))
    assert.equal(code, 0)
    // A second start finds a merchant and makes no demo one.
    const port2 = await freePort()
    const again = spawn(process.execPath, [BIN, 'start', '--port', String(port2), '--db', db], { env })
    let out2 = ''
    again.stdout.on('data', (c) => (out2 += c))
    await eventually(async () => out2.includes('listening'), 60_000, 'second start')
    again.kill('SIGTERM')
    await new Promise((r) => again.on('exit', r))
    assert.ok(!out2.includes('demo merchant'))
  })
})
