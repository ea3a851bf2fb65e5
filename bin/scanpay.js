#!/usr/bin/env node
// Entry point of the `scanpay` command. Runs the built server (dist/server/, made by `npm run build` and by
// `npm ci`) while every source it was built from is as it was then; otherwise the TypeScript sources, through
// tsx, so a changed source is never run stale. The build holds about 45 MB less memory (scripts/build.js).
import { existsSync, readFileSync, statSync } from 'node:fs'

const root = new URL('..', import.meta.url)
const BUILT = new URL('dist/server/scanpay.js', root)

/** Why the build cannot stand for the sources (a source changed, or is gone), or null when it can. */
function staleness() {
  let recorded
  try {
    recorded = JSON.parse(readFileSync(new URL('dist/server/inputs.json', root), 'utf8')).inputs
  } catch {
    return 'there is no build'
  }
  // Installed without its sources (dist/ shipped alone): the build is all there is.
  if (!existsSync(new URL('src/cli/main.ts', root))) return null
  for (const { path, mtimeMs, size } of recorded) {
    let now
    try {
      now = statSync(new URL(path, root))
    } catch {
      return `${path} is gone`
    }
    if (now.mtimeMs !== mtimeMs || now.size !== size) return `${path} changed`
  }
  return null
}

async function load() {
  const stale = staleness()
  if (stale === null) {
    // Stack traces name the TypeScript sources, as they do when the sources run.
    process.setSourceMapsEnabled(true)
    try {
      return await import(BUILT.href)
    } catch (err) {
      // Replaced while this process started (npm run build swaps the folder): the sources will do.
      if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
    }
  } else if (process.argv[2] === 'start' && existsSync(BUILT)) {
    console.error(`scanpay: the build in dist/server/ is out of date (${stale}): running the TypeScript sources through tsx, about 45 MB more memory; npm run build, then restart`)
  }
  const { register } = await import('tsx/esm/api')
  register()
  return import('../src/cli/main.ts')
}

const { main } = await load()
try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  process.exitCode = 1
  // A command that failed must end, so a supervisor sees it: whatever it left open (a timer, a connection) gets
  // a moment to close, then the process exits anyway.
  setTimeout(() => process.exit(1), 2000).unref()
}
