// The scanpay command: start, migrate, merchant create.
import { parseArgs } from 'node:util'
import { loadConfig, type Flags } from '../config/config.ts'
import { runListen } from './commands/listen.ts'
import { runMerchantCreate } from './commands/merchant-create.ts'
import { runMigrate } from './commands/migrate.ts'
import { runStart } from './commands/start.ts'

const USAGE = `Usage:
  scanpay start [--port 8080] [--host 127.0.0.1] [--db URL] [--public-url URL]
  scanpay migrate [--db URL]
  scanpay merchant create --name NAME [--webhook-url URL] [--json] [--db URL]
  scanpay listen [--port 9000] [--host 127.0.0.1] [--secret whsec_…]   (prints and verifies webhooks, for development)

Environment: PORT, HOST, PUBLIC_URL, DATABASE_URL (sqlite:<path> | postgres://…), SCANPAY_MASTER_KEY, NODE_ENV.`

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      db: { type: 'string' },
      'public-url': { type: 'string' },
      name: { type: 'string' },
      'webhook-url': { type: 'string' },
      json: { type: 'boolean' },
      secret: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const flags: Flags = { port: values.port, host: values.host, db: values.db, publicUrl: values['public-url'] }
  const [command, sub] = positionals
  if (values.help || !command) {
    console.log(USAGE)
    return command || values.help ? 0 : 1
  }
  if (command === 'start') return runStart(loadConfig(flags))
  if (command === 'migrate') return runMigrate(loadConfig(flags))
  if (command === 'merchant' && sub === 'create') {
    return runMerchantCreate(loadConfig(flags), { name: values.name, webhookUrl: values['webhook-url'], json: values.json ?? false })
  }
  if (command === 'listen') {
    return runListen({ port: Number(values.port ?? 9000), host: values.host ?? '127.0.0.1', secret: values.secret })
  }
  console.error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`)
  return 1
}
