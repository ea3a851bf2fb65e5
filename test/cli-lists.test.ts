// The operator's lists of money still owed to customers, as an operator runs them, each its own process:
// unexpected payments and pending refunds. Apart from test/cli-operations.test.ts so that neither file's
// processes outlast its timeout.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BIN, CLI_ENV, run, tempSqliteUrl } from './helpers/cli.ts'

const env = CLI_ENV
const tempDb = tempSqliteUrl

describe('scanpay operator lists', () => {
  it('unexpected list, retry and resolve: an empty list, a payment it does not know, and its usage', async () => {
    const db = tempDb()
    // No database there yet: not an empty list, which would read as "nothing waiting".
    await assert.rejects(run(process.execPath, [BIN, 'unexpected', 'list', '--db', db], { env }), (err: { code: number; stderr: string }) => {
      assert.deepEqual([err.code, err.stderr], [2, `no ScanPay database at ${db} (set DATABASE_URL or --db to the one the server uses)\n`])
      return true
    })
    await run(process.execPath, [BIN, 'migrate', '--db', db], { env })
    const list = await run(process.execPath, [BIN, 'unexpected', 'list', '--db', db], { env })
    assert.equal(list.stdout, 'no unexpected payment is waiting for its refund\n')
    const json = await run(process.execPath, [BIN, 'unexpected', 'list', '--json', '--db', db], { env })
    assert.deepEqual(JSON.parse(json.stdout), { payments: [] })
    await assert.rejects(run(process.execPath, [BIN, 'unexpected', 'resolve', 'pay_unknown', '--db', db], { env }), (err: { code: number; stderr: string }) => {
      assert.deepEqual([err.code, err.stderr], [1, 'no payment pay_unknown\n'])
      return true
    })
    await assert.rejects(run(process.execPath, [BIN, 'unexpected', 'retry', '--db', db], { env }), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2)
      assert.match(err.stderr, /scanpay unexpected retry pay_…/)
      return true
    })
    // --force is resolve's alone (record a refund made outside the channel).
    await assert.rejects(run(process.execPath, [BIN, 'unexpected', 'retry', 'pay_unknown', '--force', '--db', db], { env }), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2)
      assert.match(err.stderr, /resolve pay_… \[--force\]/)
      return true
    })
  })

  it('order show: no database, an order it does not know, and its usage', async () => {
    const db = tempDb()
    await assert.rejects(run(process.execPath, [BIN, 'order', 'show', 'ord_x', '--db', db], { env }), { code: 2 })
    await run(process.execPath, [BIN, 'migrate', '--db', db], { env })
    await assert.rejects(run(process.execPath, [BIN, 'order', 'show', 'ord_unknown', '--db', db], { env }), (err: { code: number; stderr: string }) => {
      assert.deepEqual([err.code, err.stderr], [1, 'no order ord_unknown\n'])
      return true
    })
    for (const args of [['order'], ['order', 'list'], ['order', 'show'], ['order', 'show', 'ord_x', 'extra'], ['order', 'show', '--out-trade-no', 'A-1']]) {
      await assert.rejects(run(process.execPath, [BIN, ...args, '--db', db], { env }), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2, args.join(' '))
        assert.match(err.stderr, /scanpay order show/)
        return true
      })
    }
  })

  it('refunds pending: an empty list, as text and JSON, and its usage', async () => {
    const db = tempDb()
    await assert.rejects(run(process.execPath, [BIN, 'refunds', 'pending', '--db', db], { env }), { code: 2 })
    await run(process.execPath, [BIN, 'migrate', '--db', db], { env })
    assert.equal((await run(process.execPath, [BIN, 'refunds', 'pending', '--db', db], { env })).stdout, 'no live refund is waiting for its channel\n')
    assert.deepEqual(JSON.parse((await run(process.execPath, [BIN, 'refunds', 'pending', '--json', '--db', db], { env })).stdout), { refunds: [], has_more: false })
    for (const args of [['refunds'], ['refunds', 'list'], ['refunds', 'pending', 'rfd_x']]) {
      await assert.rejects(run(process.execPath, [BIN, ...args, '--db', db], { env }), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2)
        assert.match(err.stderr, /scanpay refunds pending \[--merchant mch_…\] \[--json\]/)
        return true
      })
    }
  })
})
