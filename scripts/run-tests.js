#!/usr/bin/env node
// Runs every *.test.ts under the given folders (default: src, test, sdk, examples, bench) with node's test runner
// and tsx. Node 20's runner takes no globs, so the files are listed here.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'))
const files = []
function walk(dir) {
  if (!existsSync(dir)) return
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (name.endsWith('.test.ts')) files.push(path)
  }
}
for (const root of roots.length ? roots : ['src', 'test', 'sdk', 'examples', 'bench']) {
  if (existsSync(root) && statSync(root).isFile()) files.push(root)
  else walk(root)
}
files.sort()
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}
// The timeout bounds each file as a whole too (the runner isolates files in processes): the browser suite runs
// near two minutes on a slow two-core guest, so 5 minutes, a guard against a hang rather than a budget.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=3', '--test-timeout=300000', ...flags, ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
)
process.exit(result.status ?? 1)
