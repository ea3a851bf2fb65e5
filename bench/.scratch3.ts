import { freshPostgres, makeMerchants } from './lib/databases.ts'
import { newMasterKey, startScanPay, runJson, ROOT, cpuMs } from './lib/processes.ts'
import { summarizeProfile, printSummary } from './lib/cpu-profile.ts'
import { readdirSync, rmSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
const db = await freshPostgres(); const key = newMasterKey()
const [m] = await makeMerchants(db.url, key, [{ name: 'x', webhookUrl: null }])
const dir = '/tmp/pb/prof3'; rmSync(dir, { recursive: true, force: true }); mkdirSync(dir)
const s = await startScanPay({ db: db.url, masterKey: key, nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir] })
const c0 = cpuMs(s.pid)
const r = await runJson<any>([join(ROOT, 'bench/load-generator.mjs'), JSON.stringify({ url: s.url, kind: 'create-bearer', secret: m!.test.secret, connections: 64, seconds: 5, warmupSeconds: 1 })])
console.log(Math.round(r.throughput), r.latency, 'cpu µs/req', Math.round((cpuMs(s.pid) - c0) * 1000 / r.allRequests))
await s.stop(); await db.drop()
const f = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'))!
console.log(printSummary(summarizeProfile(join(dir, f), 30)))
