// The webhook sender thread (started by sender.ts): makes the HTTP requests of webhook attempts, so the
// sockets, undici's parsing and the writes to merchants' servers run beside the main thread, which serves the
// API and leases and records deliveries. It knows nothing of events or merchants: a request in, its status code
// or error out. Plain JavaScript, like the SQLite writer thread: without the TypeScript loader the thread
// starts sooner and holds about 25 MB less.
//
// Messages in:  { send: [[id, key, origin, path, headers, body], …] }   POST each through the pools of `key`
//                                                                      (the merchant)
// Messages out: { done: [[id, statusCode | null, error | null], …] }   the answers of one turn together
// The thread is ended by terminate() (sender.ts close()), once nothing is under way.
// workerData: { timeoutMs, connectionsPerOrigin, guardEndpoints } (SenderOptions in sender.ts).
import { EventEmitter } from 'node:events'
import { parentPort, workerData } from 'node:worker_threads'
import { Agent } from 'undici'
import { guardedLookup } from './address-guard.js'

const { timeoutMs, connectionsPerOrigin, guardEndpoints } = workerData

/**
 * Aborts one attempt when its time is up: one deadline for connecting, sending and reading the answer. undici
 * takes an EventEmitter as a request's signal: cheaper than an AbortSignal, whose creation (and, with fetch,
 * the DOMExceptions of every cancelled body) showed in profiles.
 */
class Deadline extends EventEmitter {
  aborted = false
  reason = undefined
  #timer

  constructor(ms) {
    super()
    this.#timer = setTimeout(() => {
      this.aborted = true
      this.reason = Object.assign(new Error(`timed out after ${ms} ms`), { name: 'TimeoutError' })
      this.emit('abort')
    }, ms)
  }

  clear() {
    clearTimeout(this.#timer)
  }
}

// One connection pool per merchant and origin: merchants behind one origin (a platform hosting many shops)
// each get their own connections, so one whose endpoint hangs cannot take the connections another needs.
// With the guard, every connection goes through a lookup that refuses internal addresses, so the address
// checked is the address connected to. Redirects are not followed (a 3xx is a failed attempt).
const IDLE_MS = 60_000
/** Per pool key (the merchant): its undici Agent (a pool per origin), requests under way, last use. */
const agents = new Map()
function agentFor(key) {
  let entry = agents.get(key)
  if (!entry) {
    const agent = new Agent({
      connections: connectionsPerOrigin,
      keepAliveTimeout: 10_000,
      ...(guardEndpoints ? { connect: { lookup: guardedLookup } } : {}),
    })
    agents.set(key, (entry = { agent, inflight: 0, usedAt: 0 }))
  }
  return entry
}
// A merchant that has had nothing to send for a minute gives its pools back.
setInterval(() => {
  const now = Date.now()
  for (const [key, entry] of agents) {
    if (entry.inflight > 0 || now - entry.usedAt < IDLE_MS) continue
    agents.delete(key)
    void entry.agent.close()
  }
}, IDLE_MS / 2).unref()

let done = []
function finish(answer) {
  if (done.length === 0) setImmediate(flush)
  done.push(answer)
}
function flush() {
  parentPort.postMessage({ done })
  done = []
}

async function send([id, key, origin, path, headers, body]) {
  const deadline = new Deadline(timeoutMs)
  const pool = agentFor(key)
  pool.inflight++
  try {
    const res = await pool.agent.request({ origin, path, method: 'POST', signal: deadline, headers, body })
    // Read to the end, so the connection is kept for the next attempt.
    await res.body.dump()
    finish([id, res.statusCode, null])
  } catch (err) {
    finish([id, null, err.name === 'TimeoutError' ? err.message : (err.code ?? err.message)])
  } finally {
    deadline.clear()
    pool.inflight--
    pool.usedAt = Date.now()
  }
}

parentPort.on('message', (message) => {
  for (const request of message.send) void send(request)
})
