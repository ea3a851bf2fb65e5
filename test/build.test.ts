// The build (scripts/build.js) and how bin/scanpay.js picks it: the built server when it is up to date with its
// sources, the TypeScript sources when one of them changed since. Run on a copy of the project, so the
// project's own dist/ is left as it is.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { cpSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { freePort } from './helpers/server.ts'

const ROOT = join(import.meta.dirname, '..')
const run = promisify(execFile)

/** Starts `scanpay start` in `root` and resolves with its "ScanPay is running" log record and all it printed, then stops it. */
async function runningRecord(root: string): Promise<{ record: Record<string, unknown>; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'scanpay-build-db-'))
  const port = await freePort()
  const child = spawn(process.execPath, [join(root, 'bin', 'scanpay.js'), 'start', '--port', String(port), '--db', `sqlite:${join(dir, 'scanpay.db')}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'info', SCANPAY_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  try {
    const deadline = Date.now() + 60_000
    for (;;) {
      const line = out.split('\n').find((l) => l.includes('"ScanPay is running"'))
      if (line) return { record: JSON.parse(line) as Record<string, unknown>, output: out }
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${out}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  } finally {
    child.kill('SIGTERM')
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r))
  }
}

describe('the built server', () => {
  let copy: string

  before(async () => {
    copy = mkdtempSync(join(tmpdir(), 'scanpay-build-'))
    for (const path of ['bin', 'scripts', 'src', 'sdk/src', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, path), join(copy, path), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'))
    const { stdout } = await run(process.execPath, [join(copy, 'scripts', 'build.js')], { cwd: copy })
    assert.match(stdout, /^built dist\/server\/ from \d+ source files/)
  })

  after(() => rmSync(copy, { recursive: true, force: true }))

  it('runs when it is newer than every source it was built from', async () => {
    const { record } = await runningRecord(copy)
    assert.equal(record.code, 'build')
  })

  it('gives way to the sources once one of them changed after the build, even to an older time', async () => {
    // A source the server is built from, not the entry: changing any of them makes the build stale. A rollback
    // (or a copy that keeps times) brings back a file older than the build, which must not pass for it either.
    const file = join(copy, 'sdk', 'src', 'signing.ts')
    for (const when of [new Date(Date.now() + 60_000), new Date('2020-01-01T00:00:00Z')]) {
      utimesSync(file, when, when)
      const { record, output } = await runningRecord(copy)
      assert.equal(record.code, 'sources')
      assert.match(output, /the build in dist\/server\/ is out of date \(sdk\/src\/signing\.ts changed\)/)
    }
  })

  it('runs when it was installed without its sources', async () => {
    renameSync(join(copy, 'src'), join(copy, 'src-away'))
    try {
      assert.equal((await runningRecord(copy)).record.code, 'build')
    } finally {
      renameSync(join(copy, 'src-away'), join(copy, 'src'))
    }
  })
})
