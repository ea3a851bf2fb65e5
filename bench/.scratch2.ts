import { freshSqlite, makeMerchants, seedSqliteOrders } from './lib/databases.ts'
import { newMasterKey, startScanPay, runJson, ROOT } from './lib/processes.ts'
import { summarizeProfile, printSummary } from './lib/cpu-profile.ts'
import { readdirSync, rmSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
const db = freshSqlite(); const key = newMasterKey()
const [m] = await makeMerchants(db.url, key, [{ name: 'x', webhookUrl: null }])
seedSqliteOrders(db.url, m!.merchant_id, 200000)
const dir = '/tmp/pb/prof2'; rmSync(dir, { recursive: true, force: true }); mkdirSync(dir)
const s = await startScanPay({ db: db.url, masterKey: key, nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir] })
const r = await runJson<any>([join(ROOT, 'bench/load-generator.mjs'), JSON.stringify({ url: s.url, kind: 'get', paths: [process.argv[2] ?? '/v1/orders?limit=50'], secret: m!.test.secret, connections: 8, seconds: 5, warmupSeconds: 1 })])
console.log(r.throughput, r.latency)
await s.stop()
const f = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'))!
console.log(printSummary(summarizeProfile(join(dir, f), 30)))
