// Merchant webhook endpoints for the delivery benchmark, in their own process: /ok/<name> answers 200 at once,
// /hang/<name> never answers (the sender's timeout ends it). GET /__stats reports what arrived, per endpoint:
// count, distinct webhook-ids (so duplicates show), and the first and last arrival times.
// Each endpoint gets its own port (its own origin), as different merchants' servers would: a sender that
// pools connections per origin would otherwise tie them together.
//   node bench/webhook-sink.mjs [PORTS]   prints `listening P1,P2,…`
import { createServer } from 'node:http'

const stats = new Map()
function entry(path) {
  let e = stats.get(path)
  if (!e) stats.set(path, (e = { count: 0, ids: new Set(), first: 0, last: 0 }))
  return e
}
const hanging = new Set()
function handle(req, res) {
  if (req.method === 'GET' && req.url === '/__stats') {
    const out = {}
    for (const [path, e] of stats) out[path] = { count: e.count, distinct: e.ids.size, first: e.first, last: e.last }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out))
    return
  }
  req.on('data', () => {})
  req.on('end', () => {
    const now = Date.now()
    const e = entry(req.url)
    e.count++
    e.ids.add(req.headers['webhook-id'])
    if (!e.first) e.first = now
    e.last = now
    if (req.url.startsWith('/hang/')) {
      hanging.add(res)
      res.on('close', () => hanging.delete(res))
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
  })
}
const servers = []
for (let i = 0; i < Number(process.argv[2] ?? 1); i++) {
  const server = createServer(handle)
  server.keepAliveTimeout = 60_000
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  servers.push(server)
}
process.stdout.write(`listening ${servers.map((s) => s.address().port).join(',')}\n`)
process.on('SIGTERM', () => {
  for (const res of hanging) res.destroy()
  for (const server of servers) {
    server.closeAllConnections()
    server.close()
  }
  process.exit(0)
})
