import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InFlightCap } from './in-flight-cap.ts'

/** A call that ends when the test says. */
function held() {
  let end!: (v: string) => void
  let fail!: (e: Error) => void
  const promise = new Promise<string>((resolve, reject) => ((end = resolve), (fail = reject)))
  return { call: () => promise, end, fail }
}

describe('InFlightCap', () => {
  it('refuses a call beyond the limit for its key, without making it, and takes calls again as they end', async () => {
    const cap = new InFlightCap(2)
    const a = held()
    const b = held()
    const pa = cap.run('m1', a.call)
    const pb = cap.run('m1', b.call)
    assert.ok(pa && pb)
    let made = false
    assert.equal(cap.run('m1', async () => ((made = true), 'x')), null)
    assert.equal(made, false, 'the refused call is not made')
    // Another key has its own count.
    assert.equal(await cap.run('m2', async () => 'other'), 'other')
    a.end('a')
    assert.equal(await pa, 'a')
    assert.equal(cap.running('m1'), 1)
    const pc = cap.run('m1', async () => 'c')
    assert.ok(pc)
    assert.equal(await pc, 'c')
    b.fail(new Error('channel down'))
    await assert.rejects(pb!, /channel down/)
    assert.equal(cap.running('m1'), 0, 'a failed call is counted out too')
  })

  it('counts out a call that throws before it returns a promise', () => {
    const cap = new InFlightCap(1)
    assert.throws(() => cap.run('m', () => { throw new Error('sync') }), /sync/)
    assert.equal(cap.running('m'), 0)
  })
})
