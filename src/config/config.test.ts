// The configuration read from the environment: SCANPAY_PG_PREPARED_STATEMENTS is on unless turned off, and
// anything but on or off is refused at start.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { loadConfig } from './config.ts'

const env = (extra: Record<string, string> = {}) => ({ SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'), DATABASE_URL: 'sqlite::memory:', ...extra })

it('prepares PostgreSQL statements unless SCANPAY_PG_PREPARED_STATEMENTS=off', () => {
  assert.equal(loadConfig({}, env()).pgPreparedStatements, true)
  assert.equal(loadConfig({}, env({ SCANPAY_PG_PREPARED_STATEMENTS: 'on' })).pgPreparedStatements, true)
  assert.equal(loadConfig({}, env({ SCANPAY_PG_PREPARED_STATEMENTS: 'off' })).pgPreparedStatements, false)
  assert.throws(() => loadConfig({}, env({ SCANPAY_PG_PREPARED_STATEMENTS: 'no' })), /SCANPAY_PG_PREPARED_STATEMENTS must be on or off/)
})
