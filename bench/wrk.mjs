// Runs one load with wrk (Debian's package, written in C): it costs a fraction of autocannon's CPU per
// request, and on 2 shared cores what the load generator uses is taken from the server under test.
//
// Each kind is a Lua script: a static request, a round-robin over paths, or creates. Creates are made
// beforehand into files in /dev/shm, one per wrk thread, and sent once each: wrk's Lua cannot compute
// HMAC-SHA256, and Bearer and signed creates are prepared the same way so the generator costs both the same.
//
// A create file holds whole HTTP requests of one length (bodies padded with spaces, which JSON allows), read
// one at a time as they are sent. wrk runs each thread's Lua init() just before starting that thread, and
// starts its clock after the last: whatever the first thread sends while a later init() runs is counted, but
// not timed. Formatting every request in init() took 0.6-1.8 s a thread on a slow guest, longer for signed
// requests (longer headers), and so flattered both create figures by up to a tenth, signed ones more.
import { execFileSync, spawn } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function wrkAvailable() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
    return true
  } catch (err) {
    // wrk --version exits 1 after printing its version; only a missing binary throws ENOENT.
    return err.code !== 'ENOENT'
  }
}

const THREADS = 2
/** Create requests made per second of load: above what 2 cores can serve, so none is sent twice. */
const CREATES_PER_SECOND = 30_000

const lua = (s) => JSON.stringify(s) // a JSON string literal is a valid Lua string literal for this ASCII text

function script(spec, dir, runId, seconds) {
  const common = `
local threads = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end
`
  const report = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,"timeouts":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`
  switch (spec.kind) {
    case 'post-json':
      return `${common}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = ${lua(spec.body ?? `{"out_trade_no":"b-${runId}","amount":1234,"currency":"CNY","subject":"Latte","metadata":{"table":"7"}}`)}
${report}`
    case 'get':
      return `${common}
local paths = { ${spec.paths.map(lua).join(', ')} }
local headers = { ${spec.secret ? `["Authorization"] = ${lua(`Bearer ${spec.secret}`)}` : ''} }
local i = 0
function init(args)
  i = tonumber(id) or 0
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], headers)
end
${report}`
    case 'create-bearer':
    case 'create-hmac': {
      // init() only opens the thread's file (see the top of this file); request() reads the next request whole.
      const { files, size } = writeCreates(spec, dir, runId, seconds)
      return `${common}
local files = { ${files.map(lua).join(', ')} }
local file
function init(args)
  file = io.open(files[tonumber(id)], "rb")
end
function request()
  local r = file:read(${size})
  if not r then
    file:seek("set", 0)
    r = file:read(${size})
  end
  return r
end
${report}`
    }
    default:
      throw new Error(`wrk: unknown kind ${spec.kind}`)
  }
}

/**
 * One file per wrk thread of whole HTTP requests, all of one length: creates with distinct out_trade_no values,
 * the same body autocannon sends (load-generator.mjs createBody) padded with spaces to one length, each signed
 * (padding included) with its own nonce for create-hmac. Returns the files and the length of a request.
 */
function writeCreates(spec, dir, runId, seconds) {
  const perThread = Math.ceil((CREATES_PER_SECOND * seconds) / THREADS)
  const timestamp = Math.floor(Date.now() / 1000)
  const host = new URL(spec.url).host
  const bodyOf = (t, k) => `{"out_trade_no":"b-${runId}-${t}-${k}","amount":1234,"currency":"CNY","subject":"Latte","metadata":{"table":"7"}}`
  const bodyLength = bodyOf(THREADS, perThread).length
  const requestOf = (t, k) => {
    const body = bodyOf(t, k).padEnd(bodyLength, ' ')
    let authorization = `Bearer ${spec.secret}`
    if (spec.kind === 'create-hmac') {
      // The SDK's nonces (sdk/src/signing.ts newNonce): the time, then random bits.
      const nonce = Date.now().toString(36).padStart(8, '0') + randomBytes(12).toString('base64url')
      const signature = createHmac('sha256', spec.secret).update(`POST\n/v1/orders\n${timestamp}\n${nonce}\n${body}\n`).digest('base64')
      authorization = `SCANPAY-HMAC-SHA256 key_id="${spec.keyId}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"`
    }
    return `POST /v1/orders HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAuthorization: ${authorization}\r\nContent-Length: ${bodyLength}\r\n\r\n${body}`
  }
  const size = requestOf(1, 0).length
  const files = []
  for (let t = 1; t <= THREADS; t++) {
    const requests = new Array(perThread)
    for (let k = 0; k < perThread; k++) {
      requests[k] = requestOf(t, k)
      if (requests[k].length !== size) throw new Error('wrk: the prepared requests must all be of one length')
    }
    const file = join(dir, `creates-${t}.txt`)
    writeFileSync(file, requests.join(''))
    files.push(file)
  }
  return { files, size }
}

function runOnce(spec, seconds) {
  // The prepared requests live in memory (/dev/shm), so writing them puts no load on the disk the server syncs to.
  const dir = mkdtempSync(join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'scanpay-wrk-'))
  const runId = randomBytes(4).toString('hex')
  try {
    const file = join(dir, 'load.lua')
    writeFileSync(file, script(spec, dir, runId, seconds))
    return new Promise((resolve, reject) => {
      const args = ['-t', String(THREADS), '-c', String(spec.connections), '-d', `${seconds}s`, '--timeout', '10s', '-s', file, spec.url]
      const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.on('error', reject)
      child.on('exit', (code) => {
        rmSync(dir, { recursive: true, force: true })
        const line = /WRK (\{.*\})/.exec(out)
        if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}:\n${out}`))
        resolve(JSON.parse(line[1]))
      })
    })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

/** The load-generator's result for one measured run after a warm-up. */
export async function runWrk(spec) {
  const warm = spec.warmupSeconds > 0 ? await runOnce(spec, spec.warmupSeconds) : null
  const r = await runOnce(spec, spec.seconds)
  const seconds = r.duration_us / 1e6
  const ok = r.requests - r.status_errors
  const ms = (us) => Math.round(us / 100) / 10
  return {
    generator: 'wrk',
    seconds,
    requests: r.requests,
    allRequests: r.requests + (warm?.requests ?? 0),
    ok,
    throughput: ok / seconds,
    latency: { p50: ms(r.p50), p90: ms(r.p90), p99: ms(r.p99), max: ms(r.max), mean: ms(r.mean) },
    errors: r.status_errors + r.socket_errors + r.timeouts,
    non2xx: r.status_errors,
    timeouts: r.timeouts,
  }
}
