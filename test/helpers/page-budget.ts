// What a checkout page may weigh. Gzipped (as the recommended load balancer sends it, operations.md) it must fit a
// new connection's first round trip with room to spare; uncompressed it stays small too.
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'

export const PAGE_BUDGET = { bytes: 16_000, gzipped: 6_000 } as const

export function assertPageBudget(text: string): void {
  const bytes = Buffer.byteLength(text)
  const gzipped = gzipSync(text).length
  assert.ok(bytes < PAGE_BUDGET.bytes && gzipped < PAGE_BUDGET.gzipped, `page is ${bytes} bytes, ${gzipped} gzipped`)
}
