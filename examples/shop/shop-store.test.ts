// The shop's JSON file survives a restart: orders and the webhook ids already handled.
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import { newShopOrder } from './shop-orders.ts'
import { ShopStore } from './shop-store.ts'

it('saves every change to its file and reads it back after a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shop-store-'))
  const file = join(dir, 'shop.json')
  const first = new ShopStore(file)
  first.put(newShopOrder('S-1', 'Mug', 1234, 'CNY', new Date('2026-11-26T10:00:00Z')))
  first.put(newShopOrder('S-2', 'Mug', 1234, 'CNY', new Date('2026-11-26T10:01:00Z')))
  assert.equal(first.handleWebhookOnce('evt_1', () => first.update('S-1', (o) => void (o.status = 'paid'))), true)

  const again = new ShopStore(file)
  assert.equal(again.get('S-1')!.status, 'paid')
  assert.deepEqual(again.list().map((o) => o.id), ['S-2', 'S-1'])
  let applied = 0
  assert.equal(again.handleWebhookOnce('evt_1', () => applied++), false, 'a webhook handled before the restart stays handled')
  assert.equal(applied, 0)
  assert.deepEqual(readdirSync(dir), ['shop.json'], 'no temporary file is left behind')
})
