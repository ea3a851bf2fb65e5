// Sends webhook requests through the sender thread (sender-thread.js). Measured on a 2-vCPU guest, the HTTP
// client's work (sockets, undici, the writes) was about half of the main thread's time per delivery, and
// the main thread was the bound; on a thread of its own it runs beside it. The requests of one turn go as
// one message, and their answers come back together.
import { Worker } from 'node:worker_threads'

export interface SenderOptions {
  /** One deadline for the whole attempt: connecting, sending, and reading the answer. */
  timeoutMs: number
  /** Connections per merchant and origin. */
  connectionsPerOrigin: number
  /** Refuse connections to internal addresses (checked at connect time, so the address checked is the one used). */
  guardEndpoints: boolean
}

/** The thread's messages (sender-thread.js). */
type SendMessage = [id: number, poolKey: string, origin: string, path: string, headers: Record<string, string>, body: string]
type DoneMessage = [id: number, statusCode: number | null, error: string | null]

export interface WebhookRequest {
  /** Whose connections to use (the merchant): merchants behind one origin do not share a pool. */
  poolKey: string
  origin: string
  path: string
  headers: Record<string, string>
  body: string
}

/** The answer's status code, or why there was none (a timeout, a refused connection, the guard). */
export interface WebhookResponse {
  statusCode: number | null
  error: string | null
}

interface Pending {
  worker: Worker
  resolve(response: WebhookResponse): void
}

export class WebhookSender {
  readonly #options: SenderOptions
  #worker: Worker | null = null
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #outbox: SendMessage[] = []

  constructor(options: SenderOptions) {
    this.#options = options
  }

  /** Starts the thread ahead of the first request, which would otherwise wait for it to load. */
  warmUp(): void {
    this.#worker ??= this.#start()
  }

  send(request: WebhookRequest): Promise<WebhookResponse> {
    const id = this.#nextId++
    if (this.#outbox.length === 0) queueMicrotask(() => this.#post())
    this.#outbox.push([id, request.poolKey, request.origin, request.path, request.headers, request.body])
    const worker = (this.#worker ??= this.#start())
    return new Promise((resolve) => this.#pending.set(id, { worker, resolve }))
  }

  /**
   * Ends the thread. Requests still under way fail as if it had crashed; the delivery worker closes it only once
   * every attempt has ended. A later request starts a new thread.
   */
  async close(): Promise<void> {
    await this.#worker?.terminate()
  }

  #post(): void {
    const batch = this.#outbox
    this.#outbox = []
    const worker = (this.#worker ??= this.#start())
    // Busy, the thread keeps the process alive (an attempt under way is work to finish); idle, it must not.
    worker.ref()
    worker.postMessage({ send: batch })
  }

  #start(): Worker {
    const worker = new Worker(new URL('./sender-thread.js', import.meta.url), { workerData: this.#options })
    worker.on('message', (m: { done?: DoneMessage[] }) => {
      if (!m.done) return
      for (const [id, statusCode, error] of m.done) {
        this.#pending.get(id)?.resolve({ statusCode, error })
        this.#pending.delete(id)
      }
      if (this.#pending.size === 0 && this.#worker === worker) worker.unref()
    })
    // A thread that ends unasked fails what it had under way (each becomes a failed attempt, retried on the
    // event's schedule); the next request starts a new one.
    const ended = (reason: string) => {
      if (this.#worker === worker) this.#worker = null
      for (const [id, p] of this.#pending) {
        if (p.worker !== worker) continue
        p.resolve({ statusCode: null, error: `the webhook sender thread ended: ${reason}` })
        this.#pending.delete(id)
      }
    }
    worker.on('error', (err) => ended(err.message))
    worker.on('exit', (code) => ended(`exit code ${code}`))
    worker.unref()
    return worker
  }
}
