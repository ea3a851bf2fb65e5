// The scanpay command as its own process, for tests that need real processes (several nodes, a crash).
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'scanpay.js')

/** execFile as a promise: resolves with stdout and stderr, rejects (with code, stdout, stderr) on a non-zero exit. */
export const run = promisify(execFile)

/** The environment of a developer's shell: development mode, quiet logs. */
export const CLI_ENV = { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn' }

/** A sqlite: URL of a new database file in a directory of its own. */
export function tempSqliteUrl(): string {
  return `sqlite:${join(mkdtempSync(join(tmpdir(), 'scanpay-cli-')), 'scanpay.db')}`
}

/** Runs `scanpay <args>`; output() is what it has printed so far, stdout and stderr together. */
export function runScanPay(args: string[], env: Record<string, string>): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  return Object.assign(child, { output: () => out })
}

/** Resolves with the exit code once the process has ended (null when a signal ended it). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((r) => child.once('exit', (code) => r(code)))
}
