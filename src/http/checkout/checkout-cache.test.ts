import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Order } from '../../core/order.ts'
import { CheckoutCache, type CheckoutCacheOptions, type CheckoutState } from './checkout-cache.ts'

const ORDER = { payToken: 'tok_a', status: 'pending', updatedAt: 1 } as Order

/** A database of states by token, a clock and a change notifier, all in memory. */
function world(options: Partial<CheckoutCacheOptions> = {}) {
  let now = 1_000
  const db = new Map<string, CheckoutState>([['tok_a', { order: ORDER, merchantName: 'Shop', available: new Set(['sandbox']), unexpected: [] }]])
  const listeners = new Map<string, Set<(o: Order) => void>>()
  let reads = 0
  let gate: Promise<void> | null = null
  const cache = new CheckoutCache(
    {
      now: () => now,
      async load(token) {
        reads++
        const state = db.get(token) ?? null
        if (gate) await gate
        return state
      },
      onOrder(token, fn) {
        const set = listeners.get(token) ?? new Set()
        listeners.set(token, set.add(fn))
        return () => set.delete(fn)
      },
    },
    { ttlMs: 1000, maxEntries: 100, maxBytes: 1 << 20, ...options },
  )
  const change = (token: string, order: Partial<Order>) => {
    const state = db.get(token)!
    const next = { ...state, order: { ...state.order, ...order } }
    db.set(token, next)
    for (const fn of listeners.get(token) ?? []) fn(next.order)
  }
  return {
    cache,
    db,
    change,
    listeners: (token: string) => listeners.get(token)?.size ?? 0,
    reads: () => reads,
    tick: (ms: number) => (now += ms),
    hold() {
      let open!: () => void
      gate = new Promise((r) => (open = r))
      return () => {
        gate = null
        open()
      }
    },
  }
}

describe('CheckoutCache', () => {
  it('answers from one read until the TTL, then reads again, keeping renders of an unchanged state', async () => {
    const w = world()
    const first = await w.cache.get('tok_a')
    assert.equal(first?.render('k', () => 'page', () => 4), 'page')
    await w.cache.get('tok_a')
    w.tick(999)
    await w.cache.get('tok_a')
    assert.equal(w.reads(), 1)
    w.tick(1)
    const again = await w.cache.get('tok_a')
    assert.equal(w.reads(), 2)
    assert.equal(again?.render('k', () => 'rendered again', () => 4), 'page')
  })

  it('shows a change made on another node once the TTL has passed, rendering anew', async () => {
    const w = world()
    ;(await w.cache.get('tok_a'))!.render('k', () => 'pending page', () => 4)
    w.db.set('tok_a', { ...w.db.get('tok_a')!, order: { ...ORDER, status: 'paid', updatedAt: 2 } })
    assert.equal((await w.cache.get('tok_a'))!.state.order.status, 'pending')
    w.tick(1000)
    const fresh = await w.cache.get('tok_a')
    assert.equal(fresh!.state.order.status, 'paid')
    assert.equal(fresh!.render('k', () => 'paid page', () => 4), 'paid page')
  })

  it('drops a token the moment this process changes its order', async () => {
    const w = world()
    await w.cache.get('tok_a')
    w.change('tok_a', { status: 'closed', updatedAt: 2 })
    assert.equal((await w.cache.get('tok_a'))!.state.order.status, 'closed')
    assert.equal(w.reads(), 2)
  })

  it('does not keep a read that a change overtook', async () => {
    const w = world()
    const release = w.hold()
    const pending = w.cache.get('tok_a')
    w.change('tok_a', { status: 'paid', updatedAt: 2 })
    release()
    // The read began before the change: it may answer the request already waiting, nothing later.
    await pending
    assert.equal((await w.cache.get('tok_a'))!.state.order.status, 'paid')
    assert.equal(w.reads(), 2)
  })

  it('reads once for many requests arriving together', async () => {
    const w = world()
    const release = w.hold()
    const all = Promise.all([w.cache.get('tok_a'), w.cache.get('tok_a'), w.cache.get('tok_a')])
    release()
    const [a, b, c] = await all
    assert.equal(w.reads(), 1)
    assert.ok(a === b && b === c)
  })

  it('keeps no entry nor subscription for an unknown token, or for one evicted', async () => {
    const w = world({ maxEntries: 1 })
    assert.equal(await w.cache.get('tok_missing'), null)
    assert.equal(w.listeners('tok_missing'), 0)
    w.db.set('tok_b', { ...w.db.get('tok_a')!, order: { ...ORDER, payToken: 'tok_b' } })
    await w.cache.get('tok_a')
    await w.cache.get('tok_b')
    assert.equal(w.cache.size, 1)
    assert.equal(w.listeners('tok_a'), 0)
    assert.equal(w.listeners('tok_b'), 1)
  })

  it('knows a token read before, fresh or stale, until it is dropped', async () => {
    const w = world()
    assert.equal(w.cache.known('tok_a'), false)
    await w.cache.get('tok_a')
    w.tick(5000)
    assert.equal(w.cache.fresh('tok_a'), null)
    assert.equal(w.cache.known('tok_a'), true)
    w.change('tok_a', { status: 'paid', updatedAt: 2 })
    assert.equal(w.cache.known('tok_a'), false)
    assert.equal(await w.cache.get('tok_missing'), null)
    assert.equal(w.cache.known('tok_missing'), false)
  })

  it('counts rendered bytes against its budget', async () => {
    const w = world({ maxBytes: 10_000 })
    const entry = (await w.cache.get('tok_a'))!
    entry.render('big', () => 'x', () => 20_000)
    assert.equal(w.cache.size, 0)
    assert.equal(w.listeners('tok_a'), 0)
  })
})
