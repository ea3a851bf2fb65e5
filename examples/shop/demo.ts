// `npm run demo`: ScanPay and the example shop together, in test mode, with one command. It makes a
// throw-away SQLite database, creates a merchant with `scanpay merchant create --json`, runs `scanpay start`,
// and starts the shop with that merchant's credentials. Ctrl-C stops both and deletes the database.
//
//   npm run demo [-- --port 3000 --scanpay-port 8080 --db sqlite:./demo.db --keep]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startShop } from './main.ts'

const SCANPAY_BIN = fileURLToPath(new URL('../../bin/scanpay.js', import.meta.url))

interface Credentials {
  merchant_id: string
  test: { key_id: string; secret: string }
  webhook_secret: string
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`scanpay start exited with code ${child.exitCode}`)
    try {
      if ((await fetch(`${url}/readyz`)).ok) return
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`ScanPay did not become ready at ${url} within ${timeoutMs / 1000} s`)
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '3000' },
      'scanpay-port': { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      db: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  })
  const host = values.host!
  const shopPort = Number(values.port)
  const scanpayPort = Number(values['scanpay-port'])
  const folder = values.db ? null : mkdtempSync(join(tmpdir(), 'scanpay-demo-'))
  const db = values.db ?? `sqlite:${join(folder!, 'scanpay.db')}`
  const scanpayUrl = `http://${host}:${scanpayPort}`
  const shopUrl = `http://${host}:${shopPort}`
  // The demo runs in development mode whatever the shell says: test keys, local webhook URLs allowed.
  const env = { ...process.env, NODE_ENV: 'development', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }

  const made = spawnSync(
    process.execPath,
    [SCANPAY_BIN, 'merchant', 'create', '--name', 'Bean There (demo)', '--webhook-url', `${shopUrl}/webhooks/scanpay`, '--json', '--db', db],
    { env, encoding: 'utf8' },
  )
  if (made.status !== 0) {
    console.error(`scanpay merchant create failed:\n${made.stderr}`)
    return 1
  }
  const merchant = JSON.parse(made.stdout) as Credentials

  const scanpay = spawn(process.execPath, [SCANPAY_BIN, 'start', '--db', db, '--port', String(scanpayPort), '--host', host], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  scanpay.stdout!.on('data', (c: Buffer) => process.stdout.write(prefix('scanpay', c)))
  scanpay.stderr!.on('data', (c: Buffer) => process.stderr.write(prefix('scanpay', c)))

  let shop: Awaited<ReturnType<typeof startShop>> | null = null
  let stopping: Promise<number> | null = null
  const stop = (code: number) =>
    (stopping ??= (async () => {
      await shop?.stop()
      if (scanpay.exitCode === null) {
        const exited = new Promise((r) => scanpay.once('exit', r))
        scanpay.kill('SIGTERM')
        await exited
      }
      if (folder && !values.keep) rmSync(folder, { recursive: true, force: true })
      return code
    })())
  process.once('SIGINT', () => void stop(0).then((c) => process.exit(c)))
  process.once('SIGTERM', () => void stop(0).then((c) => process.exit(c)))

  try {
    await waitReady(scanpayUrl, scanpay)
    shop = await startShop({
      scanpayUrl,
      secret: merchant.test.secret,
      keyId: merchant.test.key_id,
      webhookSecret: merchant.webhook_secret,
      port: shopPort,
      host,
    })
  } catch (err) {
    console.error(`demo failed to start: ${(err as Error).message}`)
    return stop(1)
  }
  console.log(`
ScanPay (test mode) ${scanpayUrl}   database ${db}${folder && !values.keep ? ' (deleted on exit)' : ''}
Merchant            ${merchant.merchant_id}   test key ${merchant.test.key_id}
Shop                ${shop.url}

Open ${shop.url}, press Buy, then pay: scan the QR code, or open the payment page and tap "Pay" in the
sandbox wallet. The shop's page turns "Paid" by itself when the webhook arrives; then try Refund.
Ctrl-C stops both.`)
  // One machine-readable line, for scripts and the end-to-end test.
  console.log(`DEMO_READY ${JSON.stringify({ shop: shop.url, scanpay: scanpayUrl, merchant_id: merchant.merchant_id, key_id: merchant.test.key_id, secret: merchant.test.secret })}`)
  const code = await new Promise<number>((resolve) => scanpay.once('exit', (c) => resolve(c ?? 1)))
  if (stopping) return stopping
  console.error(`scanpay start exited (code ${code}); stopping the shop`)
  return stop(1)
}

function prefix(name: string, chunk: Buffer): string {
  return chunk
    .toString('utf8')
    .split('\n')
    .map((line, i, all) => (line === '' && i === all.length - 1 ? '' : `[${name}] ${line}\n`))
    .join('')
}

process.exitCode = await main()
