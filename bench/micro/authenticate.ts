// Main-thread CPU of authenticate() per request, Bearer against HMAC-signed, 64 at a time, on a threaded SQLite
// file database (the nonce claims go through the writer thread as in the server). What a signed request costs
// over a Bearer one is most of the gap between the two create scenarios of `npm run bench`.
//
//   node --import tsx bench/micro/authenticate.ts
import { createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyRequest } from 'fastify'
import { authenticate } from '../../src/http/merchant-api/authenticate.ts'
import { RateLimiter } from '../../src/http/merchant-api/rate-limiter.ts'
import { createMerchant } from '../../src/merchants/create-merchant.ts'
import { MerchantDirectory } from '../../src/merchants/merchant-directory.ts'
import { SecretBox } from '../../src/security/secret-box.ts'
import { migrate, openDatabase } from '../../src/storage/database.ts'
import { Storage } from '../../src/storage/storage.ts'

/** CPU time of this process's main thread, in ms (Linux; the writer thread is not counted). */
function mainThreadMs(): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const dir = mkdtempSync(join(tmpdir(), 'scanpay-micro-'))
const database = await openDatabase(`sqlite:${join(dir, 'x.db')}`)
await migrate(database.db)
const storage = new Storage(database)
const box = new SecretBox(randomBytes(32))
const merchant = await createMerchant(storage.merchants, box, { name: 'Micro', webhookUrl: null })
const deps = { directory: new MerchantDirectory(storage.merchants, box), nonces: storage.nonces, rateLimiter: new RateLimiter(1e9), now: () => Date.now() }
const body = '{"out_trade_no":"b-1234abcd-1-12345","amount":1234,"currency":"CNY","subject":"Latte","metadata":{"table":"7"}}'
const { key_id: keyId, secret } = merchant.test

let n = 0
function signed() {
  const ts = Math.floor(Date.now() / 1000)
  const nonce = `micro_${n++}_${'x'.repeat(16)}`
  const sig = createHmac('sha256', secret).update(`POST\n/v1/orders\n${ts}\n${nonce}\n${body}\n`).digest('base64')
  return { method: 'POST', url: '/v1/orders', rawBody: body, headers: { authorization: `SCANPAY-HMAC-SHA256 key_id="${keyId}",timestamp="${ts}",nonce="${nonce}",signature="${sig}"` } }
}
const bearer = () => ({ method: 'POST', url: '/v1/orders', rawBody: body, headers: { authorization: `Bearer ${secret}` } })

/** µs of main-thread CPU per authenticate() call, the requests' own making (signing them) left out. */
async function round(make: () => object, ms: number, deferClaim = false): Promise<number> {
  let count = 0
  let makingMs = 0
  const cpu0 = mainThreadMs()
  const t0 = performance.now()
  while (performance.now() - t0 < ms) {
    const m0 = performance.now()
    const requests = Array.from({ length: 64 }, make)
    makingMs += performance.now() - m0
    await Promise.all(requests.map((r) => authenticate(deps, r as FastifyRequest, deferClaim)))
    count += 64
  }
  return ((mainThreadMs() - cpu0 - makingMs) * 1000) / count
}

await round(signed, 500)
await round(bearer, 500)
for (let i = 0; i < 3; i++) {
  const b = await round(bearer, 1500)
  const s = await round(signed, 1500)
  // As a create without an Idempotency-Key: the claim is handed to the order insert, so not made here.
  const d = await round(signed, 1500, true)
  console.log(`round ${i + 1}: Bearer ${b.toFixed(1)} µs, signed ${s.toFixed(1)} µs, signed with the claim deferred ${d.toFixed(1)} µs of main-thread CPU per authenticate()`)
}
await database.close()
rmSync(dir, { recursive: true, force: true })
