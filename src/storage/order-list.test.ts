// The list page reads fewer columns, packed into one JSON array a row (order-store.ts): on SQLite and, when
// reachable, PostgreSQL, a listed order must present byte for byte as the whole order read by id does, with
// every optional field present and absent, and keyset pages must walk ties on created_at without a gap.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { anOrder } from '../../test/helpers/orders.ts'
import { databaseKinds } from '../../test/helpers/databases.ts'
import { openFreshDatabase } from '../../test/helpers/fresh-database.ts'
import type { Order } from '../core/order.ts'
import { presentList, presentOrder } from '../http/presenters.ts'
import { olderThan } from './keyset.ts'
import { SqlOrderStore } from './order-store.ts'

const PUBLIC_URL = 'https://pay.example.com'
const TRICKY = 'say "hi" \\ back\nline\ttab \u0001\u001f </script> 中文 ü 😀 \u2028\u2029 \u007f'
const t0 = Date.UTC(2026, 10, 26, 23, 59, 59, 995)

function orders(): Order[] {
  const bare = anOrder('bare-1', { createdAt: t0, expiresAt: t0 + 900_000, updatedAt: t0 })
  const full = anOrder('full.1|*_-', {
    status: 'paid',
    amount: 100_000_000_000,
    amountRefunded: 50,
    currency: 'USD',
    subject: TRICKY,
    description: TRICKY,
    metadata: { table: '7', 中: TRICKY, empty: '', '10': 'numeric key' },
    channels: ['wechatpay', 'alipay'],
    notifyUrl: 'https://shop.example/hooks/scanpay?a=1&b="2"',
    returnUrl: 'https://shop.example/orders/1#done',
    channel: 'wechatpay',
    channelTradeNo: '4200001234567890',
    createdAt: t0 + 5,
    expiresAt: t0 + 86_400_000,
    paidAt: t0 + 30_050,
    closedAt: t0 + 40_000,
    updatedAt: t0 + 40_000,
  })
  // Three orders at one millisecond: only the id orders them, so a cursor must compare (created_at, id).
  const ties = [1, 2, 3].map((i) => anOrder(`tie-${i}`, { createdAt: t0 - 1000, expiresAt: t0, status: 'expired' }))
  const early = anOrder('early-1', { createdAt: 0, expiresAt: 60_000, closedAt: 1, status: 'closed' })
  return [bare, full, ...ties, early]
}

const kinds = await databaseKinds()
for (const kind of kinds) {
  describe(`SqlOrderStore.list [${kind}]`, () => {
    let fresh: Awaited<ReturnType<typeof openFreshDatabase>>
    let store: SqlOrderStore
    const stored = orders()

    before(async () => {
      fresh = await openFreshDatabase(kind)
      store = new SqlOrderStore(fresh.database.db)
      for (const o of stored) assert.ok(await store.insertIfAbsent(o))
    })
    after(async () => {
      await fresh.close()
    })

    const filter = { merchantId: 'mch_storage_test', mode: 'test' as const }

    it('presents a listed order exactly as the whole order read by id', async () => {
      const listed = await store.list({ ...filter, limit: 100 })
      assert.equal(listed.length, stored.length)
      const whole = await Promise.all(listed.map(async (o) => (await store.byId(filter.merchantId, 'test', o.id))!))
      for (const [i, o] of whole.entries()) {
        const { merchantId, channels, requestHash, updatedAt, ...shown } = o
        assert.deepEqual(listed[i], shown)
      }
      for (const limit of [2, 100]) {
        const before = JSON.stringify(await presentList(whole, limit, (o) => presentOrder(PUBLIC_URL, o)))
        const after = JSON.stringify(await presentList(listed, limit, (o) => presentOrder(PUBLIC_URL, o)))
        assert.equal(after, before)
      }
    })

    it('pages newest first through ties on created_at, each order once', async () => {
      const all = (await store.list({ ...filter, limit: 100 })).map((o) => o.id)
      const seen: string[] = []
      let position: { createdAt: number; id: string } | undefined
      for (;;) {
        const page = await store.list({ ...filter, limit: 2, ...(position ? { before: position } : {}) })
        seen.push(...page.map((o) => o.id))
        const last = page.at(-1)
        if (page.length < 2 || !last) break
        position = { createdAt: last.createdAt, id: last.id }
      }
      assert.deepEqual(seen, all)
      const ties = stored.filter((o) => o.outTradeNo.startsWith('tie-')).map((o) => o.id)
      assert.deepEqual(all.filter((id) => ties.includes(id)), [...ties].sort().reverse())
      const expired = await store.list({ ...filter, status: 'expired', before: { createdAt: t0 - 1000, id: ties.sort()[2]! }, limit: 10 })
      assert.deepEqual(expired.map((o) => o.id), ties.slice(0, 2).reverse())
    })

    if (kind === 'sqlite') {
      it('reads a cursor page as a range of the list indexes', async () => {
        const plan = async (status: string | null) =>
          (
            await sql`EXPLAIN QUERY PLAN SELECT id FROM orders WHERE merchant_id = ${'m'} AND mode = ${'test'}
              ${status ? sql`AND status = ${status}` : sql``} AND ${olderThan({ createdAt: 1, id: 'x' })}
              ORDER BY created_at DESC, id DESC LIMIT 51`.execute(fresh.database.db)
          ).rows
            .map((r) => (r as { detail: string }).detail)
            .join('; ')
        assert.match(await plan(null), /orders_list_ix \(merchant_id=\? AND mode=\? AND \(created_at,id\)<\(\?,\?\)\)/)
        assert.match(await plan('paid'), /orders_status_list_ix \(.*\(created_at,id\)<\(\?,\?\)\)/)
      })
    }
  })
}
