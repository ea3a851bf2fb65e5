// Rotating the master key: with the old key among SCANPAY_PREVIOUS_MASTER_KEYS, everything sealed and every
// payment link made before keeps working; `scanpay master-key reseal` then seals every secret under the new key,
// after which only the payment links of orders made before still need the old one.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createCipheriv, randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { loadConfig } from '../src/config/config.ts'
import { createMerchant, type NewMerchantCredentials } from '../src/merchants/create-merchant.ts'
import { SecretBox } from '../src/security/secret-box.ts'
import { startServer, type RunningServer } from '../src/server.ts'
import { openDatabase } from '../src/storage/database.ts'
import { resealSecrets } from '../src/storage/reseal-secrets.ts'
import { SqlMerchantStore } from '../src/storage/merchant-store.ts'
import { newWebhookSecret } from '../src/security/credentials.ts'
import { databaseKinds, dropSchema, freshDatabase, type TestDatabase } from './helpers/databases.ts'
import { api, freePort, ORDER, signedApi } from './helpers/server.ts'

const run = promisify(execFile)
const BIN = new URL('../bin/scanpay.js', import.meta.url).pathname

async function start(db: TestDatabase, current: Buffer, previous: Buffer[] = []): Promise<RunningServer> {
  const env: Record<string, string> = { NODE_ENV: 'test', SCANPAY_MASTER_KEY: current.toString('base64') }
  if (previous.length) env.SCANPAY_PREVIOUS_MASTER_KEYS = previous.map((k) => k.toString('base64')).join(',')
  return startServer(loadConfig({ port: await freePort(), host: '127.0.0.1', db: db.url }, env), { pgSchema: db.pgSchema })
}

for (const kind of await databaseKinds()) {
  describe(`master-key rotation [${kind}]`, () => {
    const db = freshDatabase(kind)
    after(() => dropSchema(db))

    it('keeps secrets and old payment links working through a rotation, and reseals every secret', async () => {
      const oldKey = randomBytes(32)
      const newKey = randomBytes(32)

      // Before: a merchant, an order, and channel credentials, all under the old key.
      let server = await start(db, oldKey)
      let merchant: NewMerchantCredentials
      let order: { id: string; pay_url: string }
      try {
        merchant = await createMerchant(server.ctx.storage.merchants, server.ctx.box, { name: 'Rotating Shop', webhookUrl: null })
        const created = await api(server.address, merchant.test.secret, 'POST', '/v1/orders', ORDER)
        assert.equal(created.status, 201)
        order = created.body
      } finally {
        await server.stop()
      }
      const database = await openDatabase(db.url, { pgSchema: db.pgSchema })
      try {
        await database.db
          .insertInto('channel_credentials')
          .values({ merchant_id: merchant.merchant_id, channel: 'alipay', account_id: '2021000000000001', credentials_enc: new SecretBox(oldKey).encrypt('{"app_id":"2021000000000001"}'), created_at: 1, updated_at: 1 })
          .execute()

        // Rotated: the new key seals, the old one still opens.
        server = await start(db, newKey, [oldKey])
        try {
          const signed = await signedApi(server.address, merchant.test, 'GET', `/v1/orders/${order.id}`)
          assert.equal(signed.status, 200, 'a signed request is checked with the secret the old key sealed')
          const page = await fetch(order.pay_url.replace(/^https?:\/\/[^/]+/, server.address))
          assert.equal(page.status, 200, 'a payment link made before the rotation still opens')
          const later = await api(server.address, merchant.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'after-rotation' })
          assert.equal(later.status, 201)
        } finally {
          await server.stop()
        }

        // The old key left out before the reseal: the server refuses to start, and says why.
        await assert.rejects(start(db, newKey), /no configured master key opens: 2 api key secrets sealed with master key .+; 1 webhook secrets sealed with master key .+; 1 channel credentials sealed with master key .+SCANPAY_PREVIOUS_MASTER_KEYS/)

        // Resealed: every secret now under the new key; a second run finds nothing to do.
        const box = new SecretBox(newKey, [oldKey])
        const counts = await resealSecrets(database.db, box)
        assert.deepEqual(counts, [
          { what: 'api key secrets', resealed: 2, current: 0 },
          { what: 'webhook secrets', resealed: 1, current: 0 },
          { what: 'retiring webhook secrets', resealed: 0, current: 0 },
          { what: 'channel credentials', resealed: 1, current: 0 },
        ])
        assert.deepEqual((await resealSecrets(database.db, box)).map((c) => [c.resealed, c.current]), [[0, 2], [0, 1], [0, 0], [0, 1]])
        const sealed = await database.db.selectFrom('channel_credentials').select('credentials_enc').executeTakeFirstOrThrow()
        assert.equal(new SecretBox(newKey).decrypt(sealed.credentials_enc), '{"app_id":"2021000000000001"}')

        // The old key forgotten: secrets still open; the old payment link no longer does.
        server = await start(db, newKey)
        try {
          assert.equal((await signedApi(server.address, merchant.test, 'GET', `/v1/orders/${order.id}`)).status, 200)
          const page = await fetch(order.pay_url.replace(/^https?:\/\/[^/]+/, server.address))
          assert.equal(page.status, 404)
        } finally {
          await server.stop()
        }
      } finally {
        await database.close()
      }
    })

    it('reseals a page at a time: every row of tables longer than a page, each once', async () => {
      const paged = freshDatabase(kind)
      const database = await openDatabase(paged.url, { pgSchema: paged.pgSchema })
      try {
        const oldKey = randomBytes(32)
        const server = await start(paged, oldKey)
        try {
          for (let i = 0; i < 5; i++) await createMerchant(server.ctx.storage.merchants, server.ctx.box, { name: `Shop ${i}`, webhookUrl: null })
        } finally {
          await server.stop()
        }
        const merchants = await database.db.selectFrom('merchants').select('id').orderBy('id').execute()
        // Three of them mid-roll of their webhook secret (the column is empty for the other two).
        const store = new SqlMerchantStore(database.db)
        for (const { id } of merchants.slice(1, 4)) await store.rollWebhookSecret(id, new SecretBox(oldKey).encrypt(newWebhookSecret()), Date.now() + 60_000, Date.now())
        // And one whose old secret's time is over: dropped by the reseal, not sealed again.
        await store.rollWebhookSecret(merchants[4]!.id, new SecretBox(oldKey).encrypt(newWebhookSecret()), Date.now() - 1, Date.now())
        for (const { id } of merchants.slice(0, 3)) {
          for (const channel of ['alipay', 'wechatpay']) {
            await database.db
              .insertInto('channel_credentials')
              .values({ merchant_id: id, channel, account_id: `acct-${id}-${channel}`, credentials_enc: new SecretBox(oldKey).encrypt(`{"for":"${id} ${channel}"}`), created_at: 1, updated_at: 1 })
              .execute()
          }
        }
        const newKey = randomBytes(32)
        const counts = await resealSecrets(database.db, new SecretBox(newKey, [oldKey]), 2)
        assert.deepEqual(counts.map((c) => [c.what, c.resealed, c.current]), [
          ['api key secrets', 10, 0],
          ['webhook secrets', 5, 0],
          ['retiring webhook secrets', 3, 0],
          ['channel credentials', 6, 0],
        ])
        const only = new SecretBox(newKey)
        const retiring = await database.db.selectFrom('merchants').select('retiring_webhook_secret_enc').where('retiring_webhook_secret_enc', 'is not', null).execute()
        assert.equal(retiring.length, 3, 'the one past its time is gone')
        for (const row of retiring) assert.match(only.decrypt(row.retiring_webhook_secret_enc!), /^whsec_/)
        for (const row of await database.db.selectFrom('channel_credentials').select(['merchant_id', 'channel', 'credentials_enc']).execute()) {
          assert.equal(only.decrypt(row.credentials_enc), `{"for":"${row.merchant_id} ${row.channel}"}`)
        }
        for (const row of await database.db.selectFrom('api_keys').select('secret_enc').execute()) assert.match(only.decrypt(row.secret_enc), /^sk_(test|live)_/)
      } finally {
        await database.close()
        await dropSchema(paged)
      }
    })

    it('refuses a secret no configured key opens, and reseals nothing more', async () => {
      const stranger = freshDatabase(kind)
      const database = await openDatabase(stranger.url, { pgSchema: stranger.pgSchema })
      try {
        const server = await start(stranger, randomBytes(32))
        await server.stop()
        await database.db
          .insertInto('merchants')
          .values({ id: 'mch_unknownkey000000000000000', name: 'Lost', webhook_url: null, webhook_secret_enc: new SecretBox(randomBytes(32)).encrypt('whsec_x'), created_at: 1 })
          .execute()
        await assert.rejects(resealSecrets(database.db, new SecretBox(randomBytes(32))), /sealed with master key/)
      } finally {
        await database.close()
        await dropSchema(stranger)
      }
    })
  })
}

describe('start-up with secrets of the first format', () => {
  it('refuses to start when no configured key opens them, and starts when one does', async () => {
    const db = freshDatabase('sqlite')
    const oldKey = randomBytes(32)
    const server = await start(db, oldKey)
    await server.stop()
    const database = await openDatabase(db.url)
    try {
      // As the first format sealed it, naming no key: v1.<iv>.<tag>.<ciphertext>.
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', oldKey, iv)
      const body = Buffer.concat([cipher.update('whsec_first', 'utf8'), cipher.final()])
      const v1 = ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.')
      await database.db.insertInto('merchants').values({ id: 'mch_firstformat00000000000000', name: 'First', webhook_url: null, webhook_secret_enc: v1, created_at: 1 }).execute()
    } finally {
      await database.close()
    }
    const newKey = randomBytes(32)
    await assert.rejects(start(db, newKey), /webhook secrets sealed before key ids were recorded, by a master key not configured/)
    const rotated = await start(db, newKey, [oldKey])
    await rotated.stop()
  })
})

describe('scanpay master-key reseal', () => {
  it('prints what it sealed again, and a bad previous key is refused before anything runs', async () => {
    const db = freshDatabase('sqlite')
    const oldKey = randomBytes(32).toString('base64')
    const newKey = randomBytes(32).toString('base64')
    const env = { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn' }
    await run(process.execPath, [BIN, 'merchant', 'create', '--name', 'CLI Shop', '--json', '--db', db.url], { env: { ...env, SCANPAY_MASTER_KEY: oldKey } })
    const { stdout } = await run(process.execPath, [BIN, 'master-key', 'reseal', '--db', db.url], {
      env: { ...env, SCANPAY_MASTER_KEY: newKey, SCANPAY_PREVIOUS_MASTER_KEYS: oldKey },
    })
    assert.match(stdout, /api key secrets: 2 sealed again, 0 already sealed with it/)
    assert.match(stdout, /webhook secrets: 1 sealed again/)
    await assert.rejects(
      run(process.execPath, [BIN, 'master-key', 'reseal', '--db', db.url], { env: { ...env, SCANPAY_MASTER_KEY: newKey, SCANPAY_PREVIOUS_MASTER_KEYS: 'c2hvcnQ=' } }),
      /SCANPAY_PREVIOUS_MASTER_KEYS: key 1 must be base64 of 32 bytes/,
    )
    await assert.rejects(
      run(process.execPath, [BIN, 'master-key', 'reseal', '--db', db.url], { env: { ...env, SCANPAY_MASTER_KEY: newKey, SCANPAY_PREVIOUS_MASTER_KEYS: newKey } }),
      /is SCANPAY_MASTER_KEY itself/,
    )
  })
})
