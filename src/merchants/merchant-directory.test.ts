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
