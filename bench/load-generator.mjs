// The load generator: runs wrk (bench/wrk.mjs) or autocannon in its own process (never inside the server under
// test) and prints one JSON result line. Plain JavaScript so it starts fast and loads nothing of ScanPay.
//
//   node bench/load-generator.mjs '<json spec>'
//   spec: { url, connections, seconds, warmupSeconds?, overallRate?, kind, secret?, keyId?, paths?, body?, generator? }
//   kind: 'create-bearer' | 'create-idempotent' | 'create-hmac' | 'get' | 'post-json' (create-idempotent: Bearer
//   creates, each with its own Idempotency-Key; autocannon only)
//   generator: 'wrk' | 'autocannon' (the default; a fixed overallRate needs autocannon, which wrk lacks)
import { createHmac, randomBytes } from 'node:crypto'
import autocannon from 'autocannon'
import { runWrk } from './wrk.mjs'

const spec = JSON.parse(process.argv[2])
if (spec.generator === 'wrk') {
  if (spec.overallRate) throw new Error('wrk cannot hold a fixed rate: use autocannon')
  process.stdout.write(JSON.stringify(await runWrk(spec)) + '\n')
  process.exit(0)
}
const runId = randomBytes(4).toString('hex')
let counter = 0

function createBody() {
  counter++
  return JSON.stringify({
    out_trade_no: `b-${runId}-${process.pid}-${counter}`,
    amount: 1234,
    currency: 'CNY',
    subject: 'Latte',
    metadata: { table: '7' },
  })
}

/** The contract's SCANPAY-HMAC-SHA256 header, with a fresh nonce per request. */
function hmacHeader(method, path, body) {
  const timestamp = Math.floor(Date.now() / 1000)
  // The SDK's nonces (sdk/src/signing.ts newNonce): the time, then random bits.
  const nonce = Date.now().toString(36).padStart(8, '0') + randomBytes(12).toString('base64url')
  const signature = createHmac('sha256', spec.secret)
    .update(`${method}\n${path}\n${timestamp}\n${nonce}\n${body}\n`)
    .digest('base64')
  return `SCANPAY-HMAC-SHA256 key_id="${spec.keyId}",timestamp="${timestamp}",nonce="${nonce}",signature="${signature}"`
}

function requestFor(kind) {
  switch (kind) {
    case 'create-bearer':
    case 'create-idempotent':
      return {
        method: 'POST',
        path: '/v1/orders',
        setupRequest(req) {
          req.body = createBody()
          req.headers = { 'content-type': 'application/json', authorization: `Bearer ${spec.secret}` }
          if (kind === 'create-idempotent') req.headers['idempotency-key'] = randomBytes(12).toString('base64url')
          return req
        },
      }
    case 'create-hmac':
      return {
        method: 'POST',
        path: '/v1/orders',
        setupRequest(req) {
          const body = createBody()
          req.body = body
          req.headers = { 'content-type': 'application/json', authorization: hmacHeader('POST', '/v1/orders', body) }
          return req
        },
      }
    case 'get': {
      // Spread the reads over many rows, so a cache of one row cannot flatter the figure.
      const paths = spec.paths
      let i = 0
      return {
        method: 'GET',
        path: paths[0],
        setupRequest(req) {
          req.path = paths[i++ % paths.length]
          req.headers = spec.secret ? { authorization: `Bearer ${spec.secret}` } : {}
          return req
        },
      }
    }
    case 'post-json':
      return { method: 'POST', path: spec.path ?? '/', headers: { 'content-type': 'application/json' }, body: spec.body ?? createBody() }
    default:
      throw new Error(`unknown kind ${kind}`)
  }
}

function run(seconds) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: seconds,
        pipelining: 1,
        timeout: 10,
        ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
        requests: [requestFor(spec.kind)],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    )
    autocannon.track(instance, { renderProgressBar: false, renderResultsTable: false, renderLatencyTable: false, outputStream: process.stderr })
  })
}

const warm = spec.warmupSeconds > 0 ? await run(spec.warmupSeconds) : null
const r = await run(spec.seconds)
const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]))
const ok = Object.entries(statusCodes)
  .filter(([code]) => code.startsWith('2'))
  .reduce((n, [, c]) => n + c, 0)
process.stdout.write(
  JSON.stringify({
    generator: 'autocannon',
    seconds: r.duration,
    requests: r.requests.total,
    /** Including the warm-up, so server CPU time over the whole run can be divided by it. */
    allRequests: r.requests.total + (warm?.requests.total ?? 0),
    ok,
    throughput: ok / r.duration,
    latency: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
    errors: r.errors + r.timeouts + r.non2xx,
    non2xx: r.non2xx,
    timeouts: r.timeouts,
    statusCodes,
  }) + '\n',
)
