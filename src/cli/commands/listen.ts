// scanpay listen: a development webhook endpoint that verifies each delivery's signature and prints it,
// so a merchant can watch its events before writing its own handler.
import { createServer } from 'node:http'
import { safeEqual, signWebhook } from '../../../sdk/src/signing.ts'

const TOLERANCE_S = 300

/** Verifies a Standard Webhooks delivery; returns null when valid, else why not. */
export function verifyDelivery(secret: string, headers: Record<string, string | string[] | undefined>, body: string, nowS: number): string | null {
  const id = headers['webhook-id']
  const timestamp = headers['webhook-timestamp']
  const signatures = headers['webhook-signature']
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return 'missing webhook-* headers'
  if (!/^\d+$/.test(timestamp) || Math.abs(nowS - Number(timestamp)) > TOLERANCE_S) return 'timestamp outside the 5-minute tolerance'
  const expected = signWebhook(secret, id, Number(timestamp), body)
  return signatures.split(' ').some((s) => safeEqual(s, expected)) ? null : 'signature does not match (wrong secret, or the body was changed)'
}

export async function runListen(opts: { port?: string; host: string; secret?: string }): Promise<number> {
  const port = Number(opts.port ?? 9000)
  if (!/^\d+$/.test(opts.port ?? '9000') || port < 1 || port > 65_535) {
    console.error(`--port must be a port number from 1 to 65535, got ${JSON.stringify(opts.port)}`)
    return 2
  }
  // An API key's secret signs nothing ScanPay sends: every delivery would read "signature does not match".
  if (opts.secret && !opts.secret.startsWith('whsec_')) {
    console.error(`the secret must be the merchant's webhook secret (whsec_…, from merchant create), not ${/^sk_/.test(opts.secret) ? 'an API key (sk_…)' : 'this'}`)
    return 2
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const problem = opts.secret ? verifyDelivery(opts.secret, req.headers, body, Math.floor(Date.now() / 1000)) : 'not checked (no --secret)'
      let summary = body
      try {
        summary = summarize(JSON.parse(body))
      } catch {
        // Not JSON: print it raw.
      }
      console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${summary}  signature: ${problem ?? 'verified'}`)
      res.writeHead(problem && opts.secret ? 400 : 200, { 'content-type': 'text/plain' }).end(problem ?? 'ok')
    })
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject).listen(port, opts.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    console.error(`could not listen on ${opts.host}:${port}: ${(err as Error).message}`)
    return 1
  }
  console.log(`Listening for webhooks on http://${opts.host}:${port}/ (Ctrl-C to stop)`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  server.close()
  return 0
}

interface Delivered {
  id: string
  type: string
  data?: { id?: string; status?: string; refund?: { id?: string; status?: string } }
}

/** One line per event: the order it is about and its status; a refund event names the refund too. */
export function summarize(event: Delivered): string {
  const d = event.data ?? {}
  const refund = d.refund ? ` refund=${d.refund.id} refund_status=${d.refund.status}` : ''
  return `${event.type} ${event.id} order=${d.id} status=${d.status}${refund}`
}
