// Merchant webhook endpoints for the delivery benchmark, in their own process: /ok/<name> answers 200 at once,
// /hang/<name> never answers (the sender's timeout ends it). GET /__stats reports what arrived, per endpoint:
// count, distinct webhook-ids (so duplicates show), and the first and last arrival times.
//   node bench/webhook-sink.mjs
import { createServer } from 'node:http'

const stats = new Map()
function entry(path) {
  let e = stats.get(path)
  if (!e) stats.set(path, (e = { count: 0, ids: new Set(), first: 0, last: 0 }))
  return e
}
const hanging = new Set()
const server = createServer((req, res) => {
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
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`))
process.on('SIGTERM', () => {
  for (const res of hanging) res.destroy()
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
