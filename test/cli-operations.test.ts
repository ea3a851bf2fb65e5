// The operator's commands as an operator runs them, each its own process: backup and the master
// key check of admin commands. Apart from test/cli.test.ts so that neither file's processes outlast its timeout.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { BIN, CLI_ENV, run, tempSqliteUrl } from './helpers/cli.ts'
import SQLite from 'better-sqlite3'

const env = CLI_ENV
const tempDb = tempSqliteUrl

describe('scanpay operator commands', () => {
  it('merchant create refuses a master key that opens none of the secrets already stored, and seals nothing with it', async () => {
    const db = tempDb()
    const keyA = { ...env, SCANPAY_MASTER_KEY: randomBytes(32).toString('base64') }
    await run(process.execPath, [BIN, 'merchant', 'create', '--name', 'First', '--json', '--db', db], { env: keyA })
    // Another key: as a development command run from another directory, whose master.key is another one.
    const keyB = { ...env, SCANPAY_MASTER_KEY: randomBytes(32).toString('base64') }
    await assert.rejects(run(process.execPath, [BIN, 'merchant', 'create', '--name', 'Second', '--json', '--db', db], { env: keyB }), /stored secrets that no configured master key opens: 2 api key secrets .*run every command from the same one/s)
    const again = await run(process.execPath, [BIN, 'merchant', 'create', '--name', 'Second', '--json', '--db', db], { env: keyA })
    assert.match(JSON.parse(again.stdout).merchant_id, /^mch_/)
  })

  it('backup copies the SQLite database whole while another connection writes it, WAL included', async () => {
    const db = tempDb()
    const file = db.slice('sqlite:'.length)
    await run(process.execPath, [BIN, 'migrate', '--db', db], { env })
    // As the server keeps it: WAL mode, the newest commits still in the log (no checkpoint yet).
    const writer = new SQLite(file)
    try {
      writer.pragma('journal_mode = WAL')
      writer.pragma('wal_autocheckpoint = 0')
      writer.exec('CREATE TABLE probe (n INTEGER)')
      const insert = writer.prepare('INSERT INTO probe (n) VALUES (?)')
      for (let n = 0; n < 100; n++) insert.run(n)
      const target = join(dirname(file), 'copy.db')
      const done = await run(process.execPath, [BIN, 'backup', '--to', target, '--db', db], { env })
      assert.match(done.stdout, /^backed up .* to .*copy\.db\nthe master key is not in it/)
      const copy = new SQLite(target, { readonly: true })
      try {
        assert.equal((copy.prepare('SELECT count(*) AS n FROM probe').get() as { n: number }).n, 100)
        assert.ok((copy.prepare('SELECT count(*) AS n FROM kysely_migration').get() as { n: number }).n > 0)
      } finally {
        copy.close()
      }
      await assert.rejects(run(process.execPath, [BIN, 'backup', '--to', target, '--db', db], { env }), /copy\.db exists: name a new file/)
      await assert.rejects(run(process.execPath, [BIN, 'backup', '--to', join(target, 'no-such-folder', 'x.db'), '--db', db], { env }), /no folder \S+no-such-folder to write x\.db in/)
      await assert.rejects(run(process.execPath, [BIN, 'backup', '--to', target, '--db', 'postgres://127.0.0.1:1/x'], { env }), /pg_dump/)
    } finally {
      writer.close()
    }
  })
})
