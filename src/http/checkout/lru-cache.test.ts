import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LruCache } from './lru-cache.ts'

describe('LruCache', () => {
  it('evicts the least recently used entry past its entry bound', () => {
    const c = new LruCache<string, number>(2)
    c.set('a', 1)
    c.set('b', 2)
    assert.equal(c.get('a'), 1)
    c.set('c', 3)
    assert.equal(c.get('b'), undefined)
    assert.equal(c.get('a'), 1)
    assert.equal(c.get('c'), 3)
    assert.equal(c.size, 2)
  })

  it('evicts by size past its byte bound and keeps the count right on replace', () => {
    const c = new LruCache<string, string>(100, 10, (v) => v.length)
    c.set('a', 'xxxx')
    c.set('b', 'yyyy')
    c.set('a', 'zz')
    assert.equal(c.bytes, 6)
    c.set('c', 'wwwww')
    assert.equal(c.get('b'), undefined)
    assert.equal(c.bytes, 7)
  })

  it('does not take an entry larger than the whole budget', () => {
    const c = new LruCache<string, string>(10, 4, (v) => v.length)
    c.set('a', 'ok')
    c.set('big', 'too large')
    assert.equal(c.get('big'), undefined)
    assert.equal(c.get('a'), 'ok')
  })

  it('refuses a bound below one entry', () => {
    assert.throws(() => new LruCache(0), RangeError)
  })
})

describe('LruCache removal callback', () => {
  it('tells of every value that leaves, but not of a value set again', () => {
    const removed: string[] = []
    const c = new LruCache<string, { n: number }>(2, Number.POSITIVE_INFINITY, () => 0, (k, v) => removed.push(`${k}${v.n}`))
    const a = { n: 1 }
    c.set('a', a)
    c.set('a', a)
    assert.deepEqual(removed, [])
    c.set('a', { n: 2 })
    c.set('b', { n: 3 })
    c.set('c', { n: 4 })
    c.delete('c')
    assert.deepEqual(removed, ['a1', 'a2', 'c4'])
    assert.equal(c.peek('b')?.n, 3)
  })

  it('re-measures a value set again', () => {
    const value = { size: 1 }
    const c = new LruCache<string, { size: number }>(10, 100, (v) => v.size)
    c.set('a', value)
    value.size = 30
    c.set('a', value)
    assert.equal(c.bytes, 30)
  })
})
