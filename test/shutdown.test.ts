// Shutdown with a hung database: the webhook worker stops leasing at once, the graceful wait is bounded by
// SCANPAY_SHUTDOWN_TIMEOUT_MS, and a second signal exits at once. A table lock held by another connection makes
// the server's writes hang, as a hung database would.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { POSTGRES_URL, postgresAvailable } from './helpers/databases.ts'
import { exited, runScanPay } from './helpers/cli.ts'
import { api, freePort, ORDER, startTestServer } from './helpers/server.ts'
import { eventually, sleep } from './helpers/webhook-receiver.ts'

const pgUp = await postgresAvailable()

/** A connection that holds an exclusive lock on the orders table until release(). */
async function lockOrders(url: string, schema?: string): Promise<{ release(): Promise<void> }> {
  const locker = new pg.Client({ connectionString: url })
  await locker.connect()
  await locker.query('BEGIN')
  await locker.query(`LOCK TABLE ${schema ? `${schema}.` : ''}orders IN ACCESS EXCLUSIVE MODE`)
  return {
    async release() {
      await locker.query('ROLLBACK').catch(() => {})
      await locker.end()
    },
  }
}

describe('shutdown with a hung database', { skip: pgUp ? false : 'PostgreSQL unreachable' }, () => {
  it('stops leasing webhooks when stop() starts, not after the requests held by the database', async () => {
    const ts = await startTestServer('postgres')
    const lock = await lockOrders(POSTGRES_URL, ts.db.pgSchema)
    try {
      const deliveries = ts.server.ctx.storage.deliveries as unknown as { recordAndLease: (...args: unknown[]) => Promise<unknown> }
      const recordAndLease = deliveries.recordAndLease.bind(deliveries)
      let leasesAfterStop = 0
      let stopAt = Infinity
      deliveries.recordAndLease = (...args) => {
        // A lease already on its way when stop() began may finish; one started after it must not happen.
        if (Date.now() > stopAt + 50) leasesAfterStop++
        return recordAndLease(...args)
      }
      const held = api(ts.url, ts.merchant.test.secret, 'POST', '/v1/orders', ORDER)
      await sleep(300)
      stopAt = Date.now()
      const stopping = ts.server.stop()
      // The job interval is 100 ms: the old order of stopping leased some ten times meanwhile.
      await sleep(1000)
      assert.equal(leasesAfterStop, 0)
      assert.ok(ts.server.unfinished().includes('HTTP requests in flight'), ts.server.unfinished().join(', '))
      await lock.release()
      assert.equal((await held).status, 201)
      await stopping
    } finally {
      await lock.release().catch(() => {})
      await ts.stop()
    }
  })

  describe('scanpay start', () => {
    const dbName = `scanpay_stop_${randomBytes(5).toString('hex')}`
    const dbUrl = (() => {
      const u = new URL(POSTGRES_URL)
      u.pathname = `/${dbName}`
      return u.toString()
    })()
    const env = { NODE_ENV: 'development', SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'info' }
    let secret = ''

    before(async () => {
      const admin = new pg.Client({ connectionString: POSTGRES_URL })
      await admin.connect()
      await admin.query(`CREATE DATABASE ${dbName}`)
      await admin.end()
      const create = runScanPay(['merchant', 'create', '--name', 'Stopping', '--json', '--db', dbUrl], env)
      assert.equal(await exited(create), 0, create.output())
      secret = JSON.parse(create.output().trim().split('\n').pop()!).test.secret
    })

    after(async () => {
      const admin = new pg.Client({ connectionString: POSTGRES_URL })
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
      await admin.end()
    })

    /** A running server with a create held by the locked orders table. */
    async function serverWithHeldRequest(extraEnv: Record<string, string>): Promise<{ child: ChildProcess & { output: () => string }; lock: { release(): Promise<void> } }> {
      const port = await freePort()
      const child = runScanPay(['start', '--port', String(port), '--db', dbUrl], { ...env, ...extraEnv })
      const url = `http://127.0.0.1:${port}`
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`server exited:\n${child.output()}`)
        return /listening on/.test(child.output()) && (await fetch(`${url}/readyz`).catch(() => null))?.ok
      }, 30_000, 'server ready')
      const lock = await lockOrders(dbUrl)
      void api(url, secret, 'POST', '/v1/orders', ORDER).catch(() => {})
      await sleep(300)
      return { child, lock }
    }

    it('gives up a graceful stop after SCANPAY_SHUTDOWN_TIMEOUT_MS, says what it abandoned, and exits 1', async () => {
      const { child, lock } = await serverWithHeldRequest({ SCANPAY_SHUTDOWN_TIMEOUT_MS: '1500', SCANPAY_JOB_INTERVAL_MS: '100' })
      try {
        const started = Date.now()
        child.kill('SIGTERM')
        const code = await Promise.race([exited(child), sleep(10_000).then(() => 'still running')])
        assert.equal(code, 1, child.output())
        assert.ok(Date.now() - started < 5000)
        const lines = child.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
        const timedOut = lines.find((l) => l.msg.startsWith('shutdown timed out'))
        assert.ok(timedOut, child.output())
        assert.ok(timedOut.abandoned.includes('HTTP requests in flight'), JSON.stringify(timedOut))
        assert.equal(lines.filter((l) => l.msg === 'webhook lease failed').length, 0)
      } finally {
        child.kill('SIGKILL')
        await lock.release()
      }
    })

    it('exits at once, non-zero, on a second SIGTERM', async () => {
      const { child, lock } = await serverWithHeldRequest({})
      try {
        child.kill('SIGTERM')
        // A signal within a second of the first is taken for the same one arriving twice (npx, the terminal).
        await sleep(1200)
        assert.equal(child.exitCode, null, 'still stopping gracefully')
        child.kill('SIGTERM')
        const code = await Promise.race([exited(child), sleep(5000).then(() => 'still running')])
        assert.equal(code, 1, child.output())
        assert.match(child.output(), /second signal: exiting now/)
      } finally {
        child.kill('SIGKILL')
        await lock.release()
      }
    })
  })
})

describe('a stop that fails in part', () => {
  it('still stops the rest and closes the database, then says what failed', async () => {
    const ts = await startTestServer('sqlite')
    const jobs = ts.server.ctx.jobs as { stop: () => Promise<void> }
    const stopJobs = jobs.stop.bind(jobs)
    let calls = 0
    jobs.stop = async () => {
      await stopJobs()
      // Once: ctx.close() stops the jobs again, and must then find them stopped.
      if (calls++ === 0) throw new Error('a job would not stop')
    }
    const ctx = ts.server.ctx as { close: () => Promise<void> }
    const close = ctx.close.bind(ctx)
    let closed = false
    ctx.close = async () => {
      await close()
      closed = true
    }
    await assert.rejects(ts.server.stop(), /a job would not stop/)
    // Nothing is left waiting, and the database was closed whatever failed before it.
    assert.deepEqual(ts.server.unfinished(), [])
    assert.equal(closed, true)
    assert.equal((await fetch(`${ts.url}/healthz`).catch((err: Error) => err)) instanceof Error, true, 'no longer listening')
  })
})
