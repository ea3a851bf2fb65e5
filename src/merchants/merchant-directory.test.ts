// Key lookups by id: anyone can send any key_id, so one no key could have is neither asked of the database nor
// remembered as missing (a flood of long ones would otherwise fill the cache).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { SecretBox } from '../security/secret-box.ts'
import type { SqlMerchantStore } from '../storage/merchant-store.ts'
import { isPlausibleKeyId, MerchantDirectory } from './merchant-directory.ts'

it('looks up only key ids of the shape ScanPay issues', async () => {
  const asked: string[] = []
  const store = { keyById: async (id: string) => (asked.push(id), null) } as unknown as SqlMerchantStore
  const directory = new MerchantDirectory(store, new SecretBox(randomBytes(32)))
  for (const id of [`key_test_${'x'.repeat(15_000)}`, 'key_test_', 'key_prod_abcdefgh', 'key_test_abc def1', '']) {
    assert.equal(isPlausibleKeyId(id), false, id)
    assert.equal(await directory.keyById(id), null)
  }
  assert.deepEqual(asked, [])
  assert.equal(await directory.keyById('key_live_0123456789abcdef'), null)
  assert.deepEqual(asked, ['key_live_0123456789abcdef'])
})

it('serves a key set to end later until its end, and not from the cache after it; an ended key not at all', async () => {
  const box = new SecretBox(randomBytes(32))
  const secret = `sk_test_${'a'.repeat(40)}`
  const rows: Record<string, { revokedAt: number | null }> = { key_test_ending00: { revokedAt: 10_000 }, key_test_ended000: { revokedAt: 500 } }
  const row = (id: string) => ({ id, merchantId: 'mch_1', mode: 'test' as const, secretHash: 'h', secretEnc: box.encrypt(secret), revokedAt: rows[id]!.revokedAt })
  const store = { keyById: async (id: string) => row(id), keyByHash: async () => row('key_test_ending00') } as unknown as SqlMerchantStore
  const directory = new MerchantDirectory(store, box)
  assert.equal((await directory.keyById('key_test_ending00', 1_000))?.keyId, 'key_test_ending00')
  assert.equal((await directory.keyBySecret(secret, 1_000))?.keyId, 'key_test_ending00')
  // Within the cache's minute, but past the key's end.
  assert.equal(await directory.keyById('key_test_ending00', 10_000), null)
  assert.equal(await directory.keyBySecret(secret, 10_001), null)
  assert.equal(await directory.keyById('key_test_ended000', 1_000), null)
})
