// A local merchant endpoint for webhook tests: records every request and answers as told (ok, fail, hang).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders
  body: string
  at: number
}

export type Behaviour = 'ok' | 'fail' | 'hang'

export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = []
  behaviour: Behaviour = 'ok'
  #server: Server | null = null
  #waiters: { count: number; resolve: () => void }[] = []
  #hanging = new Set<import('node:http').ServerResponse>()
  url = ''

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() })
        this.#waiters = this.#waiters.filter((w) => (this.received.length >= w.count ? (w.resolve(), false) : true))
        if (this.behaviour === 'hang') {
          this.#hanging.add(res)
          return
        }
        res.writeHead(this.behaviour === 'ok' ? 200 : 500).end(this.behaviour === 'ok' ? 'ok' : 'broken')
      })
    })
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r))
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks`
    return this
  }

  /** Resolves once `count` requests have arrived in total. */
  waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.received.length >= count) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`waited for ${count} webhooks, got ${this.received.length}`)), timeoutMs)
      this.#waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) })
    })
  }

  async stop(): Promise<void> {
    for (const res of this.#hanging) res.destroy()
    this.#server?.closeAllConnections()
    await new Promise<void>((r) => this.#server?.close(() => r()) ?? r())
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Polls until fn returns a truthy value, or throws after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}
