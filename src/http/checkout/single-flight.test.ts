import assert from 'node:assert/strict'
import { it } from 'node:test'
import { SingleFlight } from './single-flight.ts'

it('callers of one key under way share its outcome; other keys and later callers run their own', async () => {
  const flights = new SingleFlight<number>()
  let calls = 0
  let finish!: (n: number) => void
  const slow = () => {
    calls++
    return new Promise<number>((r) => (finish = r))
  }
  const a = flights.run('order-1:wechatpay', slow)
  const b = flights.run('order-1:wechatpay', slow)
  assert.equal(calls, 1)
  const other = flights.run('order-2:wechatpay', async () => 7)
  assert.equal(calls, 1)
  finish(42)
  assert.deepEqual(await Promise.all([a, b, other]), [42, 42, 7])
  assert.equal(flights.size, 0, 'nothing kept once settled')
  assert.equal(await flights.run('order-1:wechatpay', async () => 43), 43, 'a later caller runs anew')
})

it('a failure is shared too, and the key is free again after it', async () => {
  const flights = new SingleFlight<number>()
  let fail!: (e: Error) => void
  const first = flights.run('k', () => new Promise<number>((_, reject) => (fail = reject)))
  const second = flights.run('k', async () => 1)
  fail(new Error('channel timed out'))
  await assert.rejects(first, /channel timed out/)
  await assert.rejects(second, /channel timed out/)
  assert.equal(await flights.run('k', async () => 2), 2)
})
