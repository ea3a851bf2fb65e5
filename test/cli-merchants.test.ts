// Managing a merchant as an operator does, each command its own process: show, update, roll-key and
// roll-webhook-secret. Apart from test/cli-operations.test.ts so that neither file's processes outlast the
// per-file timeout.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BIN, CLI_ENV, run, tempSqliteUrl } from './helpers/cli.ts'

const env = CLI_ENV
const tempDb = tempSqliteUrl

describe('scanpay merchant management', () => {
  it('merchant list: every merchant, oldest first, with no secret; a database that is not there is refused', async () => {
    const db = tempDb()
    const list = async () => JSON.parse((await run(process.execPath, [BIN, 'merchant', 'list', '--json', '--db', db], { env })).stdout)
    await assert.rejects(run(process.execPath, [BIN, 'merchant', 'list', '--db', db], { env }), (err: { code: number; stderr: string }) => err.code === 2 && /no ScanPay database/.test(err.stderr))
    const cafe = JSON.parse((await run(process.execPath, [BIN, 'merchant', 'create', '--name', 'Cafe', '--json', '--db', db], { env })).stdout)
    const bakery = JSON.parse((await run(process.execPath, [BIN, 'merchant', 'create', '--name', 'Bakery', '--webhook-url', 'https://bakery.example/hooks', '--json', '--db', db], { env })).stdout)
    const listed = await list()
    assert.deepEqual(
      listed.merchants.map((m: { merchant_id: string; name: string; webhook_url: string | null; channels: unknown[] }) => [m.merchant_id, m.name, m.webhook_url, m.channels]),
      [[cafe.merchant_id, 'Cafe', null, []], [bakery.merchant_id, 'Bakery', 'https://bakery.example/hooks', []]],
    )
    assert.ok(!JSON.stringify(listed).includes(cafe.test.secret) && !JSON.stringify(listed).includes(cafe.webhook_secret), 'no secret is shown')
    const text = (await run(process.execPath, [BIN, 'merchant', 'list', '--db', db], { env })).stdout
    assert.match(text, new RegExp(`^${cafe.merchant_id}  Cafe  \\(made .*; webhook none; no live channel\\)\n${bakery.merchant_id}  Bakery  `))
  })

  it('merchant show, update, roll-key and roll-webhook-secret: the webhook URL set and cleared, a key and the webhook secret replaced with and without overlap', async () => {
    const db = tempDb()
    const made = JSON.parse((await run(process.execPath, [BIN, 'merchant', 'create', '--name', 'Cafe', '--json', '--db', db], { env })).stdout)
    const show = async () => JSON.parse((await run(process.execPath, [BIN, 'merchant', 'show', '--merchant', made.merchant_id, '--json', '--db', db], { env })).stdout)
    const first = await show()
    assert.deepEqual([first.name, first.webhook_url], ['Cafe', null])
    assert.deepEqual(first.keys.map((k: { key_id: string; in_force: boolean }) => [k.key_id, k.in_force]).sort(), [[made.live.key_id, true], [made.test.key_id, true]].sort())
    assert.ok(!JSON.stringify(first).includes(made.test.secret), 'no secret is shown')

    await run(process.execPath, [BIN, 'merchant', 'update', '--merchant', made.merchant_id, '--webhook-url', 'https://shop.example/hooks', '--name', 'Cafe Two', '--db', db], { env })
    assert.deepEqual([(await show()).webhook_url, (await show()).name], ['https://shop.example/hooks', 'Cafe Two'])
    await run(process.execPath, [BIN, 'merchant', 'update', '--merchant', made.merchant_id, '--clear-webhook-url', '--db', db], { env })
    assert.equal((await show()).webhook_url, null)

    // A scheduled rotation: the old test key works for another hour; the live key is untouched.
    const rolled = JSON.parse((await run(process.execPath, [BIN, 'merchant', 'roll-key', '--merchant', made.merchant_id, 'test', '--expire-old-in', '3600', '--json', '--db', db], { env })).stdout)
    assert.match(rolled.key_id, /^key_test_/)
    assert.match(rolled.secret, /^sk_test_/)
    assert.deepEqual(rolled.old_keys, [made.test.key_id])
    let keys = new Map((await show()).keys.map((k: { key_id: string }) => [k.key_id, k]))
    assert.equal((keys.get(made.test.key_id) as { in_force: boolean }).in_force, true)
    assert.ok(Date.parse((keys.get(made.test.key_id) as { ends_at: string }).ends_at) > Date.now() + 3_500_000)
    assert.equal((keys.get(made.live.key_id) as { ends_at: null }).ends_at, null)
    // A leak: every other test key ends now.
    const leaked = await run(process.execPath, [BIN, 'merchant', 'roll-key', '--merchant', made.merchant_id, 'test', '--db', db], { env })
    assert.match(leaked.stdout, /stop working now/)
    keys = new Map((await show()).keys.map((k: { key_id: string }) => [k.key_id, k]))
    assert.deepEqual([...keys.values()].filter((k) => (k as { in_force: boolean }).in_force).length, 2, 'the newest test key and the live key')
    assert.equal((keys.get(rolled.key_id) as { in_force: boolean }).in_force, false)

    // The webhook secret: rolled with an overlap (both sign), then again without (the new one alone).
    const secretRoll = JSON.parse((await run(process.execPath, [BIN, 'merchant', 'roll-webhook-secret', '--merchant', made.merchant_id, '--expire-old-in', '600', '--json', '--db', db], { env })).stdout)
    assert.match(secretRoll.webhook_secret, /^whsec_/)
    assert.notEqual(secretRoll.webhook_secret, made.webhook_secret)
    assert.ok(Date.parse((await show()).old_webhook_secret_signs_until) > Date.now() + 590_000)
    // Again during the overlap: refused, since it would drop the secret merchants still verify with; --force does it.
    await assert.rejects(run(process.execPath, [BIN, 'merchant', 'roll-webhook-secret', '--merchant', made.merchant_id, '--db', db], { env }), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1)
      assert.match(err.stderr, /a roll is in progress: the secret before it signs deliveries until 20\d\d-/)
      return true
    })
    const noOverlap = await run(process.execPath, [BIN, 'merchant', 'roll-webhook-secret', '--merchant', made.merchant_id, '--force', '--db', db], { env })
    assert.match(noOverlap.stdout, /^New webhook secret for mch_\S+: whsec_\S+\n[\s\S]*signs no more deliveries/)
    assert.equal((await show()).old_webhook_secret_signs_until, null)

    const usage = async (args: string[], message: RegExp) =>
      assert.rejects(run(process.execPath, [BIN, 'merchant', ...args], { env }), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2, args.join(' '))
        assert.match(err.stderr, message)
        return true
      })
    await usage(['update', '--merchant', made.merchant_id, '--db', db], /nothing to update/)
    await usage(['update', '--merchant', made.merchant_id, '--webhook-url', 'ftp://x', '--db', db], /http\(s\)/)
    await usage(['update', '--merchant', made.merchant_id, '--name', 'Bean\u202Egnp.exe', '--db', db], /without control or bidirectional override/)
    await usage(['update', '--merchant', made.merchant_id, '--webhook-url', 'http://x/a b', '--db', db], /without spaces/)
    await usage(['roll-key', '--merchant', made.merchant_id, 'prod', '--db', db], /test or live/)
    await usage(['roll-key', '--merchant', made.merchant_id, 'test', '--expire-old-in', '1h', '--db', db], /whole seconds/)
    await usage(['show', '--merchant', 'mch_nobody', '--db', db], /no merchant mch_nobody/)
    await usage(['roll-webhook-secret', '--merchant', made.merchant_id, 'test', '--db', db], /unexpected test/)
    await usage(['show', '--merchant', made.merchant_id, '--expire-old-in', '5', '--db', db], /takes no --expire-old-in/)
    await usage(['show', '--merchant', made.merchant_id, '--db', tempDb()], /no ScanPay database at/)
  })
})
