import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { linkSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { it } from 'node:test'
import { DatabaseInUseError, holdServerLock, serverLockPath } from './sqlite-server-lock.ts'

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'scanpay-lock-')), 'scanpay.db')

it('one holder per database file: a second is refused until the first lets go', () => {
  const file = tempFile()
  const first = holdServerLock(`sqlite:${file}`)
  assert.ok(first)
  assert.equal(first.path, serverLockPath(file))
  assert.throws(() => holdServerLock(`sqlite:${file}`), (err: Error) => {
    assert.ok(err instanceof DatabaseInUseError)
    assert.match(err.message, /another ScanPay server is running on .*scanpay\.db/)
    return true
  })
  // Another database's lock is its own.
  const other = holdServerLock(`sqlite:${tempFile()}`)
  assert.ok(other)
  other.release()
  first.release()
  first.release()
  const again = holdServerLock(`sqlite:${file}`)
  assert.ok(again)
  again.release()
})

it('a process that ends without letting go (kill -9) leaves no lock behind', () => {
  const file = tempFile()
  // A child takes the lock and dies at once, as by SIGKILL: no release, no close.
  const script = `
    import { holdServerLock } from ${JSON.stringify(new URL('./sqlite-server-lock.ts', import.meta.url).href)}
    holdServerLock(${JSON.stringify(`sqlite:${file}`)})
    process.kill(process.pid, 'SIGKILL')
  `
  assert.throws(() => execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'pipe' }), { signal: 'SIGKILL' })
  const lock = holdServerLock(`sqlite:${file}`)
  assert.ok(lock)
  lock.release()
})

it('every name of the file leads to its one lock: a symbolic link to it, or to its folder, is refused too', () => {
  const file = tempFile()
  writeFileSync(file, '')
  const dir = dirname(file)
  const first = holdServerLock(`sqlite:${file}`)!
  const links = mkdtempSync(join(tmpdir(), 'scanpay-lock-links-'))
  symlinkSync(file, join(links, 'by-file.db'))
  symlinkSync(dir, join(links, 'by-folder'))
  for (const name of [join(links, 'by-file.db'), join(links, 'by-folder', 'scanpay.db'), `${dir}/./scanpay.db`]) {
    assert.throws(() => holdServerLock(`sqlite:${name}`), DatabaseInUseError, name)
  }
  assert.equal(first.warning, null)
  first.release()
  // A database not made yet: its folder's true name.
  const later = join(links, 'by-folder', 'later.db')
  assert.equal(serverLockPath(later), join(dir, 'later.db-server.lock'))
})

it('a file with hard links is served with a warning: the lock cannot follow them', () => {
  const file = tempFile()
  writeFileSync(file, '')
  const other = join(mkdtempSync(join(tmpdir(), 'scanpay-lock-hard-')), 'other.db')
  mkdirSync(dirname(other), { recursive: true })
  linkSync(file, other)
  const lock = holdServerLock(`sqlite:${file}`)!
  assert.match(lock.warning ?? '', /has 2 names \(hard links\)/)
  lock.release()
})

it('PostgreSQL and in-memory databases need no lock', () => {
  assert.equal(holdServerLock('postgres://127.0.0.1/x'), null)
  assert.equal(holdServerLock('sqlite::memory:'), null)
  assert.equal(holdServerLock('sqlite:'), null)
})
