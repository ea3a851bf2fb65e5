// The configuration read from the environment: every value a server cannot run with is refused at start with a
// message naming the variable, rather than accepted and failing later (a timeout Node's timers cannot hold fires
// at once, so every webhook would time out).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import { loadConfig } from './config.ts'

const env = (extra: Record<string, string> = {}) => ({ SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'), DATABASE_URL: 'sqlite::memory:', ...extra })

it('prepares PostgreSQL statements unless SCANPAY_PG_PREPARED_STATEMENTS=off', () => {
  assert.equal(loadConfig({}, env()).pgPreparedStatements, true)
  assert.equal(loadConfig({}, env({ SCANPAY_PG_PREPARED_STATEMENTS: 'on' })).pgPreparedStatements, true)
  assert.equal(loadConfig({}, env({ SCANPAY_PG_PREPARED_STATEMENTS: 'off' })).pgPreparedStatements, false)
  assert.throws(() => loadConfig({}, env({ SCANPAY_PG_PREPARED_STATEMENTS: 'no' })), /SCANPAY_PG_PREPARED_STATEMENTS must be on or off/)
})

it('refuses a port, a timer, a log level or a database URL the server cannot run with, naming the variable', () => {
  assert.equal(loadConfig({}, env({ PORT: '65535' })).port, 65_535)
  assert.throws(() => loadConfig({}, env({ PORT: '70000' })), /PORT must be at most 65535, got "70000"/)
  assert.throws(() => loadConfig({}, env({ PORT: 'http' })), /PORT must be a positive integer/)
  assert.throws(() => loadConfig({ port: 'abc' }, env({ PORT: '8080' })), { message: '--port must be a positive integer, got "abc"' })
  assert.equal(loadConfig({}, env({ SCANPAY_WEBHOOK_TIMEOUT_MS: '2147483647' })).webhookTimeoutMs, 2_147_483_647)
  assert.throws(() => loadConfig({}, env({ SCANPAY_WEBHOOK_TIMEOUT_MS: '99999999999' })), /SCANPAY_WEBHOOK_TIMEOUT_MS must be at most 2147483647/)
  assert.throws(() => loadConfig({}, env({ SCANPAY_JOB_INTERVAL_MS: '2147483648' })), /SCANPAY_JOB_INTERVAL_MS must be at most/)
  assert.equal(loadConfig({}, env({ LOG_LEVEL: 'debug' })).logLevel, 'debug')
  assert.throws(() => loadConfig({}, env({ LOG_LEVEL: 'verbose' })), /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/)
  assert.throws(() => loadConfig({}, env({ DATABASE_URL: 'sqlite:' })), /DATABASE_URL sqlite: names no file/)
  assert.equal(loadConfig({}, env({ DATABASE_URL: 'sqlite::memory:' })).databaseUrl, 'sqlite::memory:')
})

it('a DATABASE_URL of another kind is refused without repeating its password', () => {
  assert.throws(
    () => loadConfig({ db: 'mysql://shop:topsecret@db.example/x' }, { NODE_ENV: 'test', SCANPAY_MASTER_KEY: randomBytes(32).toString('base64') }),
    (err: Error) => /must start with sqlite: or postgres:\/\/, got "mysql:\/\/shop@db\.example\/x"/.test(err.message) && !err.message.includes('topsecret'),
  )
})

it('in development keeps the master key beside the SQLite file itself, whatever name it is opened by', () => {
  const root = mkdtempSync(join(tmpdir(), 'scanpay-key-'))
  try {
    const data = join(root, 'data')
    const elsewhere = join(root, 'elsewhere')
    mkdirSync(data)
    mkdirSync(elsewhere)
    writeFileSync(join(data, 'scanpay.db'), '')
    symlinkSync(join(data, 'scanpay.db'), join(elsewhere, 'scanpay.db'))
    const dev = { NODE_ENV: 'development' }
    const byLink = loadConfig({ db: `sqlite:${join(elsewhere, 'scanpay.db')}` }, dev).masterKey
    assert.ok(existsSync(join(data, 'master.key')), 'made beside the file')
    assert.ok(!existsSync(join(elsewhere, 'master.key')), 'not beside the link')
    assert.deepEqual(loadConfig({ db: `sqlite:${join(data, 'scanpay.db')}` }, dev).masterKey, byLink, 'the same key by either name')

    // A key an earlier version made beside the link is still the one used.
    const older = join(root, 'older')
    mkdirSync(older)
    symlinkSync(join(data, 'scanpay.db'), join(older, 'scanpay.db'))
    rmSync(join(data, 'master.key'))
    const key = randomBytes(32)
    writeFileSync(join(older, 'master.key'), key.toString('base64') + '\n')
    assert.deepEqual(loadConfig({ db: `sqlite:${join(older, 'scanpay.db')}` }, dev).masterKey, key)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
