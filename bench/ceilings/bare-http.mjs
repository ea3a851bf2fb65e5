// The HTTP ceiling: a bare node:http server that reads and parses the same JSON request ScanPay gets and
// answers a small JSON body. No framework, no validation, no database: the most a Node service can do here.
//   node bench/ceilings/bare-http.mjs PORT
import { createServer } from 'node:http'

const port = Number(process.argv[2] ?? 0)
let n = 0
const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8')
    const body = text ? JSON.parse(text) : null
    const out = JSON.stringify({ id: `ord_${++n}`, object: 'order', status: 'pending', out_trade_no: body?.out_trade_no ?? null })
    res.writeHead(body ? 201 : 200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(out) })
    res.end(out)
  })
})
server.keepAliveTimeout = 60_000
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
