// Server-Sent Events of an order's customer status: the current one at once, then one event per change.
import type { ServerResponse } from 'node:http'
import type { Order } from '../../core/order.ts'
import { customerStatus, isSettled, type CustomerStatus } from './order-status.ts'

export interface StatusStreamDeps {
  now(): number
  /** Reads the order again; another node may have changed it. */
  reload(token: string): Promise<Order | null>
  /** Subscribes to in-process changes of this token's order; returns the unsubscribe. */
  onOrder(token: string, fn: (order: Order) => void): () => void
  onError(err: unknown): void
}

export interface StatusStreamOptions {
  /** How often the database is read again, for changes made by other nodes and for expiry by time. */
  pollMs: number
  /** A comment line this often keeps proxies and NATs from dropping an idle stream. */
  heartbeatMs: number
}

export const DEFAULT_STREAM_OPTIONS: StatusStreamOptions = { pollMs: 2000, heartbeatMs: 15_000 }

/** The streams open on this node, so shutdown can end them instead of waiting for customers to leave. */
export class StatusStreams {
  readonly #open = new Set<(shutdown?: boolean) => void>()
  /** Open streams per pay token: one token (which anyone who saw the page holds) must not take every stream. */
  readonly #perToken = new Map<string, number>()

  constructor(
    private readonly deps: StatusStreamDeps,
    private readonly options: StatusStreamOptions = DEFAULT_STREAM_OPTIONS,
    /** Past this many, new clients are refused (429) and fall back to polling. */
    readonly maxOpen = 10_000,
    /** Past this many for one order (a customer's few tabs are far fewer), the same. */
    readonly maxPerToken = 8,
  ) {}

  get openCount(): number {
    return this.#open.size
  }

  /** Whether a new stream for this token would be refused: the node's streams or the token's are at their cap. */
  fullFor(token: string): boolean {
    return this.#open.size >= this.maxOpen || (this.#perToken.get(token) ?? 0) >= this.maxPerToken
  }

  /** Takes over the raw response (already hijacked from Fastify) until a settled status or a disconnect. */
  open(res: ServerResponse, order: Order, headers: Record<string, string>): void {
    const { deps, options } = this
    const token = order.payToken
    let last: CustomerStatus['status'] | null = null
    let closed = false
    let reading = false

    const send = (o: Order) => {
      if (closed) return
      const current = customerStatus(o, deps.now())
      if (current.status === last) return
      last = current.status
      // The id is the status: a client that reconnects after the last one says it saw it (routes.ts answers 204).
      res.write(`id: ${current.status}\nevent: status\ndata: ${JSON.stringify(current)}\n\n`)
      // The stream ends with a settled status: what may still follow is rare, and the page asks for it slowly
      // (checkout-script.ts) instead of holding a stream that reads the order every pollMs.
      if (isSettled(current.status)) close()
    }

    const close = (shutdown = false) => {
      if (closed) return
      closed = true
      clearInterval(poller)
      clearInterval(heartbeat)
      unsubscribe()
      this.#open.delete(close)
      const left = (this.#perToken.get(token) ?? 1) - 1
      if (left > 0) this.#perToken.set(token, left)
      else this.#perToken.delete(token)
      if (!res.writableEnded) res.end()
      // Ended by the server's shutdown, the connection must go too: left idle (keep-alive), it would hold the
      // server's close until the client let it go.
      if (shutdown) res.socket?.end()
    }

    const reload = async () => {
      // A slow database must not pile reads up behind each other.
      if (reading || closed) return
      reading = true
      try {
        const fresh = await deps.reload(token)
        if (fresh) send(fresh)
      } catch (err) {
        deps.onError(err)
      } finally {
        reading = false
      }
    }

    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // nginx and similar buffer responses unless told otherwise, which would hold events back.
      'x-accel-buffering': 'no',
    })
    // A reconnecting EventSource waits this long; the page falls back to polling on error anyway.
    res.write(`retry: ${options.pollMs}\n\n`)

    const unsubscribe = deps.onOrder(token, send)
    const poller = setInterval(reload, options.pollMs)
    const heartbeat = setInterval(() => {
      if (!closed) res.write(': heartbeat\n\n')
    }, options.heartbeatMs)
    this.#open.add(close)
    this.#perToken.set(token, (this.#perToken.get(token) ?? 0) + 1)
    res.on('close', () => close())
    res.on('error', () => close())
    send(order)
  }

  /** Ends every open stream; clients reconnect (or poll) to another node. */
  closeAll(): void {
    for (const close of [...this.#open]) close(true)
  }
}
