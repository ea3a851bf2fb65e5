// The sender thread against local endpoints: answers, timeouts, refused connections, pools per merchant, the
// SSRF guard at connect time, and a thread that dies under way.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { WebhookSender, type WebhookRequest } from './sender.ts'

describe('WebhookSender', { timeout: 20_000 }, () => {
  let server: Server
  let origin: string
  const received: { path: string; headers: Record<string, unknown>; body: string }[] = []

  before(async () => {
    server = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        received.push({ path: req.url!, headers: req.headers, body })
        if (req.url === '/hang') return
        res.statusCode = req.url === '/teapot' ? 418 : 200
        res.end('ok')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => {
    server.closeAllConnections()
    server.close()
  })

  const request = (path: string, at = origin, poolKey = 'mch_1'): WebhookRequest => ({
    poolKey,
    origin: at,
    path,
    headers: { 'content-type': 'application/json', 'webhook-id': `evt_${path}` },
    body: JSON.stringify({ path }),
  })

  it('sends each request as given and answers its status code, many at once', async () => {
    const sender = new WebhookSender({ timeoutMs: 2_000, connectionsPerOrigin: 4, guardEndpoints: false })
    try {
      const paths = Array.from({ length: 20 }, (_, i) => `/ok/${i}?n=${i}`)
      const answers = await Promise.all([...paths.map((p) => sender.send(request(p))), sender.send(request('/teapot'))])
      assert.deepEqual(answers.slice(0, 20), paths.map(() => ({ statusCode: 200, error: null })))
      assert.deepEqual(answers[20], { statusCode: 418, error: null })
      const got = received.find((r) => r.path === '/ok/3?n=3')!
      assert.equal(got.body, JSON.stringify({ path: '/ok/3?n=3' }))
      assert.equal(got.headers['webhook-id'], 'evt_/ok/3?n=3')
      assert.equal(got.headers['content-type'], 'application/json')
    } finally {
      await sender.close()
    }
  })

  it('ends an attempt at its deadline, and reports a refused connection by its code', async () => {
    const sender = new WebhookSender({ timeoutMs: 200, connectionsPerOrigin: 2, guardEndpoints: false })
    try {
      const closed = createServer()
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
      const port = (closed.address() as AddressInfo).port
      await new Promise((resolve) => closed.close(resolve))
      const [hang, refused] = await Promise.all([sender.send(request('/hang')), sender.send(request('/', `http://127.0.0.1:${port}`))])
      assert.deepEqual(hang, { statusCode: null, error: 'timed out after 200 ms' })
      assert.deepEqual(refused, { statusCode: null, error: 'ECONNREFUSED' })
    } finally {
      await sender.close()
    }
  })

  it('gives merchants behind one origin their own connections: one that hangs does not hold up another', async () => {
    const sender = new WebhookSender({ timeoutMs: 3_000, connectionsPerOrigin: 2, guardEndpoints: false })
    try {
      // The hanging merchant fills every connection its pool may open to the origin. Sharing a pool, the
      // neighbour's request would wait for those to time out: answered, if at all, only as they end.
      const at = <T>(answer: Promise<T>) => answer.then((value) => ({ value, ms: performance.now() }))
      const hanging = Promise.all([sender.send(request('/hang', origin, 'mch_hang')), sender.send(request('/hang', origin, 'mch_hang'))])
      const [neighbour, hangs] = await Promise.all([at(sender.send(request('/ok/neighbour', origin, 'mch_ok'))), at(hanging)])
      assert.deepEqual(neighbour.value, { statusCode: 200, error: null })
      for (const answer of hangs.value) assert.equal(answer.error, 'timed out after 3000 ms')
      assert.ok(neighbour.ms < hangs.ms - 1_000, 'the neighbour was answered long before the hanging requests ended')
    } finally {
      await sender.close()
    }
  })

  it('refuses, at connect time, a name that resolves to an internal address', async () => {
    const sender = new WebhookSender({ timeoutMs: 2_000, connectionsPerOrigin: 2, guardEndpoints: true })
    try {
      const port = new URL(origin).port
      const before = received.length
      assert.deepEqual(await sender.send(request('/ok/guarded', `http://localhost:${port}`)), { statusCode: null, error: 'EINTERNALADDRESS' })
      assert.equal(received.length, before, 'nothing reached the endpoint')
    } finally {
      await sender.close()
    }
  })

  it('fails what was under way when the thread ends, and starts a new one for the next request', async () => {
    const sender = new WebhookSender({ timeoutMs: 5_000, connectionsPerOrigin: 2, guardEndpoints: false })
    try {
      const hangs = () => received.filter((r) => r.path === '/hang').length
      const before = hangs()
      const hanging = sender.send(request('/hang'))
      while (hangs() === before) await new Promise((r) => setTimeout(r, 10))
      await sender.close()
      const failed = await hanging
      assert.equal(failed.statusCode, null)
      assert.match(failed.error!, /^the webhook sender thread ended/)
      assert.deepEqual(await sender.send(request('/ok/after')), { statusCode: 200, error: null })
    } finally {
      await sender.close()
    }
  })
})
