import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, it } from 'node:test'
import type { Order } from '../../core/order.ts'
import { StatusStreams, type StatusStreamDeps } from './status-stream.ts'

const NOW = 1_764_150_000_000

class FakeResponse extends EventEmitter {
  chunks: string[] = []
  head: { status: number; headers: Record<string, string> } | null = null
  writableEnded = false
  writeHead(status: number, headers: Record<string, string>) {
    this.head = { status, headers }
    return this
  }
  write(chunk: string) {
    assert.equal(this.writableEnded, false, 'write after end')
    this.chunks.push(chunk)
    return true
  }
  end() {
    this.writableEnded = true
    this.emit('close')
  }
  get events(): { event: string; data: any }[] {
    return this.chunks
      .filter((c) => c.startsWith('id:'))
      .map((c) => {
        const [, id = '', event = '', data = ''] = /^id: (.*)\nevent: (.*)\ndata: (.*)\n\n$/.exec(c) ?? []
        // The id is the status it carries: what a reconnecting client reports as the last it saw.
        assert.equal(id, JSON.parse(data).status)
        return { event, data: JSON.parse(data) }
      })
  }
}

function order(status: Order['status'], expiresAt = NOW + 60_000): Order {
  return { payToken: 'tok', status, expiresAt, returnUrl: null } as Order
}

/** Waits until the condition holds; timers slip on a busy machine, so no test relies on exact timing. */
async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(5)
  }
}

const opened: StatusStreams[] = []
// A failed assertion must not leave intervals running, or the test process never exits.
afterEach(() => opened.splice(0).forEach((s) => s.closeAll()))

function harness(stored: () => Order | null, now = () => NOW) {
  const listeners = new Set<(o: Order) => void>()
  let reads = 0
  const deps: StatusStreamDeps = {
    now,
    reload: async () => {
      reads++
      return stored()
    },
    onOrder: (_token, fn) => {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    onError: () => {},
  }
  const streams = new StatusStreams(deps, { pollMs: 10, heartbeatMs: 15 }, 2)
  opened.push(streams)
  return { streams, listeners, reads: () => reads, push: (o: Order) => listeners.forEach((fn) => fn(o)) }
}

const open = (streams: StatusStreams, o: Order) => {
  const res = new FakeResponse()
  streams.open(res as unknown as ServerResponse, o, { 'x-request-id': 'req_1' })
  return res
}

describe('StatusStreams', () => {
  it('sends the current status at once, then only changes, and ends after a settled one', async () => {
    let stored = order('pending')
    const h = harness(() => stored)
    const res = open(h.streams, stored)
    assert.equal(res.head?.status, 200)
    assert.match(res.head!.headers['content-type']!, /^text\/event-stream/)
    assert.equal(res.head!.headers['x-request-id'], 'req_1')
    assert.deepEqual(res.events.map((e) => e.data.status), ['pending'])
    await until(() => h.reads() >= 2, 'it reads the order again')
    assert.equal(res.events.length, 1, 'no event without a change')
    stored = order('paid')
    h.push(stored)
    assert.deepEqual(res.events.map((e) => e.data.status), ['pending', 'paid'])
    assert.equal(res.writableEnded, true)
    assert.equal(h.listeners.size, 0, 'unsubscribed')
    assert.equal(h.streams.openCount, 0)
    const reads = h.reads()
    await sleep(30)
    assert.equal(h.reads(), reads, 'stopped polling')
  })

  it('notices a change made by another node on its next read', async () => {
    let stored = order('pending')
    const h = harness(() => stored)
    const res = open(h.streams, stored)
    stored = order('closed')
    await until(() => res.writableEnded, 'the stream ends')
    assert.deepEqual(res.events.map((e) => e.data.status), ['pending', 'closed'])
    assert.equal(res.writableEnded, true)
  })

  it('reports expiry by time, before any job writes it', async () => {
    let now = NOW
    const stored = order('pending', NOW + 15)
    const h = harness(() => stored, () => now)
    const res = open(h.streams, stored)
    now += 20
    await until(() => res.writableEnded, 'the stream ends')
    assert.deepEqual(res.events.map((e) => e.data.status), ['pending', 'expired'])
  })

  it('ends at once for an order already settled', () => {
    const h = harness(() => order('paid'))
    const res = open(h.streams, order('paid'))
    assert.deepEqual(res.events.map((e) => e.data.status), ['paid'])
    assert.equal(res.writableEnded, true)
  })

  it('sends heartbeats and cleans up when the client goes away', async () => {
    const h = harness(() => order('pending'))
    const res = open(h.streams, order('pending'))
    await until(() => res.chunks.includes(': heartbeat\n\n'), 'a heartbeat is sent')
    res.emit('close')
    assert.equal(h.listeners.size, 0)
    assert.equal(h.streams.openCount, 0)
    const count = res.chunks.length
    await sleep(40)
    assert.equal(res.chunks.length, count, 'nothing written after the client left')
  })

  it('counts open streams, says when full, and ends them all on shutdown', () => {
    const h = harness(() => order('pending'))
    const a = open(h.streams, order('pending'))
    assert.equal(h.streams.fullFor('other'), false)
    const b = open(h.streams, order('pending'))
    assert.equal(h.streams.fullFor('other'), true)
    h.streams.closeAll()
    assert.equal(a.writableEnded && b.writableEnded, true)
    assert.equal(h.streams.openCount, 0)
    assert.equal(h.listeners.size, 0)
  })

  it('caps the streams of one order, and frees its places as they close', () => {
    const streams = new StatusStreams({ now: () => NOW, reload: async () => order('pending'), onOrder: () => () => {}, onError: () => {} }, { pollMs: 1000, heartbeatMs: 1000 }, 10, 2)
    opened.push(streams)
    const o = order('pending')
    const a = open(streams, o)
    open(streams, o)
    assert.equal(streams.fullFor(o.payToken), true, 'this order has its two')
    assert.equal(streams.fullFor('another-token'), false, 'other orders are not held up')
    a.emit('close')
    assert.equal(streams.fullFor(o.payToken), false)
    assert.equal(streams.openCount, 1)
  })
})
