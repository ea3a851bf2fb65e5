// FastPaths: the first path that answers wins, a miss goes on, and from shutdown on nothing is answered early.
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, it } from 'node:test'
import { FastPaths } from './fast-path.ts'

function fakeResponse() {
  const sent: { status?: number; headers?: Record<string, string>; body?: Buffer } = {}
  const res = {
    writeHead(status: number, headers: Record<string, string>) {
      sent.status = status
      sent.headers = headers
    },
    end(body: Buffer) {
      sent.body = body
    },
  } as unknown as ServerResponse
  return { res, sent }
}

describe('FastPaths', () => {
  const req = { method: 'GET', url: '/x' } as IncomingMessage

  it('answers through the first path that takes the request, counting it as its route', () => {
    const counted: string[] = []
    const paths = new FastPaths((route, status) => counted.push(`${route} ${status}`))
    paths.add(() => false)
    paths.add((_req, res) => paths.send(res, '/x', { 'content-type': 'text/plain' }, Buffer.from('hi')))
    const { res, sent } = fakeResponse()
    assert.equal(paths.handle(req, res, () => {}), true)
    assert.equal(sent.status, 200)
    assert.equal(sent.headers!['content-type'], 'text/plain')
    assert.equal(sent.headers!['content-length'], '2')
    assert.match(sent.headers!['x-request-id']!, /^req_/)
    assert.equal(sent.body!.toString(), 'hi')
    assert.deepEqual(counted, ['/x 200'])
  })

  it('lets a path that took the request hand it on to Fastify later', async () => {
    const paths = new FastPaths(() => {})
    paths.add((_req, _res, next) => {
      setImmediate(next)
      return true
    })
    let handedOn = 0
    assert.equal(paths.handle(req, fakeResponse().res, () => handedOn++), true)
    await new Promise((r) => setImmediate(r))
    assert.equal(handedOn, 1)
  })

  it('passes everything on once closed', () => {
    const paths = new FastPaths(() => {})
    let asked = 0
    paths.add(() => ++asked > 0)
    paths.close()
    assert.equal(paths.handle(req, fakeResponse().res, () => {}), false)
    assert.equal(asked, 0)
  })
})
