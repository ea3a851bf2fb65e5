// Requests answered before Fastify. The checkout's page and status reads are the hottest routes there are
// (every open checkout polls), and when their response is already cached the framework's routing, hooks and
// reply machinery cost more than the answer: a fast path sends the same bytes and headers straight away, and
// everything else goes on to Fastify unchanged. A fast path may also take a request, wait for a read, and then
// either answer it or pass it on (`next`): an entry only stale by age then skips Fastify too.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { newId } from '../core/ids.ts'

/**
 * Answers the request and returns true, or returns false without touching it. Having returned true it may
 * instead call `next` later, once, without having written anything: Fastify then answers the request.
 */
export type FastPath = (req: IncomingMessage, res: ServerResponse, next: () => void) => boolean

/** What a fast answer needs of the application: the request counter the routes' answers feed too. */
export type CountRequest = (route: string, status: number) => void

export class FastPaths {
  readonly #paths: FastPath[] = []
  #open = true

  constructor(private readonly count: CountRequest) {}

  add(path: FastPath): void {
    this.#paths.push(path)
  }

  /** From shutdown on, Fastify answers everything (503 and Connection: close), so connections drain. */
  close(): void {
    this.#open = false
  }

  /** Tries each fast path; false when none took the request. `next` hands a taken request on to Fastify. */
  handle(req: IncomingMessage, res: ServerResponse, next: () => void): boolean {
    if (!this.#open) return false
    for (const path of this.#paths) if (path(req, res, next)) return true
    return false
  }

  /** Sends a complete 200 response as Fastify would: the given headers, a request id, the length. */
  send(res: ServerResponse, route: string, headers: Readonly<Record<string, string>>, body: Buffer): true {
    res.writeHead(200, { ...headers, 'x-request-id': newId('req'), 'content-length': String(body.length) })
    res.end(body)
    this.count(route, 200)
    return true
  }

  /** Sends a 304 as Fastify would: the given headers and a request id, no body. */
  notModified(res: ServerResponse, route: string, headers: Readonly<Record<string, string>>): true {
    res.writeHead(304, { ...headers, 'x-request-id': newId('req') })
    res.end()
    this.count(route, 304)
    return true
  }
}
