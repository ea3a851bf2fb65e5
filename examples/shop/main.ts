// Starts the example shop from environment variables (see README.md): the ScanPay origin and credentials,
// and where the shop listens.
import { pathToFileURL } from 'node:url'
import { ScanPay } from './scanpay.ts'
import { createShop, listen } from './shop-server.ts'
import { ShopStore } from './shop-store.ts'

export interface ShopConfig {
  scanpayUrl: string
  secret: string
  keyId?: string
  webhookSecret: string
  port: number
  host: string
  publicUrl?: string
  dataFile?: string
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ShopConfig {
  const need = (name: string) => {
    const v = env[name]
    if (!v) throw new Error(`${name} is required (see examples/shop/README.md)`)
    return v
  }
  return {
    scanpayUrl: env.SCANPAY_URL ?? 'http://127.0.0.1:8080',
    secret: need('SCANPAY_SECRET'),
    keyId: env.SCANPAY_KEY_ID || undefined,
    webhookSecret: need('SCANPAY_WEBHOOK_SECRET'),
    port: Number(env.SHOP_PORT ?? 3000),
    host: env.SHOP_HOST ?? '127.0.0.1',
    publicUrl: env.SHOP_PUBLIC_URL || undefined,
    dataFile: env.SHOP_DATA_FILE || undefined,
  }
}

/** Starts the shop; resolves with its origin and a stop function. */
export async function startShop(c: ShopConfig): Promise<{ url: string; stop(): Promise<void> }> {
  const scanpay = new ScanPay({ baseUrl: c.scanpayUrl, secret: c.secret, keyId: c.keyId })
  const publicUrl = c.publicUrl ?? `http://${c.host}:${c.port}`
  const server = createShop({ scanpay, webhookSecret: c.webhookSecret, store: new ShopStore(c.dataFile), publicUrl })
  const url = await listen(server, c.port, c.host)
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const shop = await startShop(configFromEnv())
  console.log(`Shop running at ${shop.url}`)
  const stop = () => void shop.stop().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
