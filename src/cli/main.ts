// The scanpay command: start, migrate, backup, merchant create/list, listen, channel, order, unexpected, refunds, master-key, simulate.
import { parseArgs } from 'node:util'
import { ConfigError, databaseUrlOf, loadConfig, type Flags } from '../config/config.ts'
import { databaseExists, dialectOf } from '../storage/database.ts'
import { runBackup } from './commands/backup.ts'
import { runChannelBill, runChannelBillChecks } from './commands/channel-bill.ts'
import { runChannelSet } from './commands/channel-set.ts'
import { runListen } from './commands/listen.ts'
import { runMasterKeyReseal } from './commands/master-key-reseal.ts'
import { runMerchantCreate } from './commands/merchant-create.ts'
import { runMerchantList } from './commands/merchant-list.ts'
import { MERCHANT_MANAGE_USAGE, runMerchantManage, type MerchantManageOptions } from './commands/merchant-manage.ts'
import { runMigrate } from './commands/migrate.ts'
import { runSimulate } from './commands/simulate.ts'
import { runStart } from './commands/start.ts'
import { parseWorkers, SQLITE_WORKERS_REFUSED } from './commands/start-workers.ts'
import { runUnexpected } from './commands/unexpected.ts'
import { runRefunds } from './commands/refunds.ts'
import { runOrderShow } from './commands/order-show.ts'

const USAGE = `Usage:
  scanpay start [--port 8080] [--host 127.0.0.1] [--db URL] [--public-url URL] [--workers N]
  scanpay migrate [--db URL]
  scanpay backup --to FILE [--db sqlite:…]   (a consistent copy of the SQLite database, while ScanPay runs)
  scanpay merchant create --name NAME [--webhook-url URL] [--json] [--db URL]
  scanpay merchant list [--json] [--db URL]   (every merchant: id, name, webhook URL, live channels)
  scanpay merchant show --merchant mch_… [--json] [--db URL]   (name, default webhook URL, keys; no secrets)
  scanpay merchant update --merchant mch_… [--name NAME] [--webhook-url URL | --clear-webhook-url] [--db URL]
  scanpay merchant roll-key --merchant mch_… test|live [--expire-old-in SECONDS] [--json] [--db URL]   (a new key; the old ones end)
  scanpay merchant roll-webhook-secret --merchant mch_… [--expire-old-in SECONDS] [--force] [--json] [--db URL]   (a new whsec_)
  scanpay listen [--port 9000] [--host 127.0.0.1] [--secret whsec_… | env SCANPAY_WEBHOOK_SECRET]   (prints and verifies webhooks, for development)
  scanpay channel set --merchant mch_… wechatpay|alipay --from-file creds.json [--check] [--db URL]
  scanpay channel bill --merchant mch_… wechatpay|alipay --date yyyy-MM-dd [--json] [--db URL]
  scanpay channel bill-checks [--merchant mch_…] [--json] [--db URL]   (the daily checks' outcomes)
  scanpay order show ord_…|pay_…|rfd_… [--json] [--db URL]   (an order, its channel attempts, refunds, events and webhooks)
  scanpay order show --merchant mch_… --out-trade-no NO [--json] [--db URL]   (the same, by the merchant's order number)
  scanpay unexpected list [--merchant mch_…] [--json] [--db URL]   (payments after their order closed, still to be refunded)
  scanpay unexpected retry|resolve pay_… [--force] [--db URL]   (ask the channel to refund again | record a refund made by hand)
  scanpay refunds pending [--merchant mch_…] [--json] [--db URL]   (live refunds the channel has not finished, oldest first)
  scanpay master-key reseal [--db URL]   (after a rotation: seals every stored secret under SCANPAY_MASTER_KEY)
  scanpay simulate wechatpay|alipay [--port P] [--host 127.0.0.1] [--keys-dir DIR] [--serial-mode public-key|certificate]

Environment: PORT, HOST, PUBLIC_URL, DATABASE_URL (sqlite:<path> | postgres://…), SCANPAY_MASTER_KEY, SCANPAY_PREVIOUS_MASTER_KEYS, NODE_ENV,\nLOG_LEVEL, SCANPAY_RATE_LIMIT, SCANPAY_JOB_INTERVAL_MS, SCANPAY_WEBHOOK_TIMEOUT_MS, SCANPAY_WEBHOOK_CONCURRENCY,\nSCANPAY_WEBHOOK_CONCURRENCY_PER_MERCHANT, SCANPAY_CHANNEL_CALLS_PER_MERCHANT,\nSCANPAY_PG_PREPARED_STATEMENTS, SCANPAY_SHUTDOWN_TIMEOUT_MS (README.md, Configuration).`

/** A command line that cannot be run as written exits 2, as every command's own usage errors do. */
const USAGE_ERROR = 2

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>
  try {
    parsed = parseCommandLine(argv)
  } catch (err) {
    // An unknown option or a flag without its value: say which, then how the commands are written.
    console.error(`${(err as Error).message}\n\n${USAGE}`)
    return USAGE_ERROR
  }
  try {
    return await runCommand(parsed)
  } catch (err) {
    // A flag or an environment variable that cannot be used: said plainly, as a command line that cannot run.
    if (err instanceof ConfigError) {
      console.error(err.message)
      return USAGE_ERROR
    }
    throw err
  }
}

/** The merchant commands after create, each with how many positionals it takes (roll-key: the mode). */
const MERCHANT_MANAGE: Record<string, number> = { show: 2, update: 2, 'roll-key': 3, 'roll-webhook-secret': 2 }

async function runCommand({ values, positionals }: ReturnType<typeof parseCommandLine>): Promise<number> {
  const flags: Flags = { port: values.port, host: values.host, db: values.db, publicUrl: values['public-url'] }
  const [command, sub] = positionals
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  if (!command) {
    console.error(USAGE)
    return USAGE_ERROR
  }
  if (command === 'start') {
    // Its flags first: a start they refuse makes no master key (in development, loading the configuration does).
    if (parseWorkers(values.workers) > 1 && dialectOf(databaseUrlOf(flags)) === 'sqlite') {
      console.error(SQLITE_WORKERS_REFUSED)
      return USAGE_ERROR
    }
    return runStart(loadConfig(flags), { workers: values.workers })
  }
  // The schema only: no master key read or made, so a deploy's migration step need not hold the key.
  if (command === 'migrate') return runMigrate(databaseUrlOf(flags))
  if (command === 'backup') return runBackup(databaseUrlOf(flags), { to: values.to })
  if (command === 'merchant' && sub === 'create') {
    return runMerchantCreate(loadConfig(flags), { name: values.name, webhookUrl: values['webhook-url'], json: values.json ?? false })
  }
  if (command === 'merchant' && sub === 'list') {
    if (positionals.length > 2) {
      console.error(`unexpected ${positionals.slice(2).join(' ')}\n\n${USAGE}`)
      return USAGE_ERROR
    }
    // An empty list from a new, empty database would read as "no merchants".
    return serverDatabaseExists(flags) ? runMerchantList(databaseUrlOf(flags), { json: values.json ?? false }) : USAGE_ERROR
  }
  if (command === 'merchant' && sub !== undefined && Object.hasOwn(MERCHANT_MANAGE, sub)) {
    if (positionals.length > MERCHANT_MANAGE[sub]!) {
      console.error(`unexpected ${positionals.slice(MERCHANT_MANAGE[sub]).join(' ')}\n\n${MERCHANT_MANAGE_USAGE}`)
      return USAGE_ERROR
    }
    // Never a new, empty database (the keys it would hold belong to no server).
    if (!serverDatabaseExists(flags)) return USAGE_ERROR
    return runMerchantManage(loadConfig(flags), {
      action: sub as MerchantManageOptions['action'],
      merchant: values.merchant,
      name: values.name,
      webhookUrl: values['webhook-url'],
      clearWebhookUrl: values['clear-webhook-url'] ?? false,
      mode: positionals[2],
      expireOldIn: values['expire-old-in'],
      force: values.force ?? false,
      json: values.json ?? false,
    })
  }
  // Never a new, empty database: these would report on it, or write to it, as if it were the server's.
  if ((command === 'master-key' || command === 'channel') && !serverDatabaseExists(flags)) return USAGE_ERROR
  if (command === 'master-key' && sub === 'reseal') return runMasterKeyReseal(loadConfig(flags))
  if (command === 'channel' && sub === 'set') {
    return runChannelSet(loadConfig(flags), { merchant: values.merchant, channel: positionals[2], fromFile: values['from-file'], check: values.check ?? false })
  }
  if (command === 'channel' && sub === 'bill') {
    return runChannelBill(loadConfig(flags), { merchant: values.merchant, channel: positionals[2], date: values.date, json: values.json ?? false })
  }
  if (command === 'channel' && sub === 'bill-checks') return runChannelBillChecks(loadConfig(flags), { merchant: values.merchant, json: values.json ?? false })
  // A list from a new, empty database would read as "nothing waiting", a look-up as "no such order".
  if ((command === 'unexpected' || command === 'refunds' || command === 'order') && !serverDatabaseExists(flags)) return USAGE_ERROR
  if (command === 'order') {
    if (positionals.length > 3) {
      console.error(`unexpected ${positionals.slice(3).join(' ')}\n\n${USAGE}`)
      return USAGE_ERROR
    }
    return runOrderShow(loadConfig(flags), { action: sub, id: positionals[2], merchant: values.merchant, outTradeNo: values['out-trade-no'], json: values.json ?? false })
  }
  if (command === 'unexpected') {
    return runUnexpected(loadConfig(flags), { action: sub, paymentId: positionals[2], merchant: values.merchant, json: values.json ?? false, force: values.force })
  }
  if (command === 'refunds') {
    return runRefunds(loadConfig(flags), { action: sub, extra: positionals[2], merchant: values.merchant, json: values.json ?? false })
  }
  if (command === 'simulate') {
    return runSimulate({ channel: sub, port: values.port, host: values.host, keysDir: values['keys-dir'], serialMode: values['serial-mode'] })
  }
  if (command === 'listen') {
    // From the environment too, where other users of the machine cannot read it in the process list.
    return runListen({ port: values.port, host: values.host ?? '127.0.0.1', secret: values.secret ?? (process.env.SCANPAY_WEBHOOK_SECRET || undefined) })
  }
  console.error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`)
  return USAGE_ERROR
}

/**
 * Whether the database the flags name exists, said on stderr when not. Checked before the configuration is read:
 * in development that makes a master key beside a database that is not there.
 */
function serverDatabaseExists(flags: Flags): boolean {
  const databaseUrl = databaseUrlOf(flags)
  if (databaseExists(databaseUrl)) return true
  console.error(`no ScanPay database at ${databaseUrl} (set DATABASE_URL or --db to the one the server uses)`)
  return false
}

function parseCommandLine(argv: string[]) {
  return parseArgs({
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
      'out-trade-no': { type: 'string' },
      'clear-webhook-url': { type: 'boolean' },
      'expire-old-in': { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      secret: { type: 'string' },
      workers: { type: 'string' },
      merchant: { type: 'string' },
      'from-file': { type: 'string' },
      check: { type: 'boolean' },
      'keys-dir': { type: 'string' },
      'serial-mode': { type: 'string' },
      date: { type: 'string' },
      to: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
