#!/usr/bin/env node
// Entry point of the `scanpay` command: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/main.ts')
try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  process.exitCode = 1
  // A command that failed must end, so a supervisor sees it: whatever it left open (a timer, a connection) gets
  // a moment to close, then the process exits anyway.
  setTimeout(() => process.exit(1), 2000).unref()
}
