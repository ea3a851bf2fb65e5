#!/usr/bin/env node
// Entry point of the `scanpay` command. Runs the built server (dist/server/, made by `npm run build` and by
// `npm ci`) when it is newer than every source it was built from; otherwise the TypeScript sources, through tsx,
// so a changed source is never run stale. The build holds about 45 MB less memory (scripts/build.js).
import { readFileSync, statSync } from 'node:fs'

const root = new URL('..', import.meta.url)

/** The build's entry, or null when there is none or a source changed after it was made. */
function builtEntry() {
  try {
    const { builtAt, inputs } = JSON.parse(readFileSync(new URL('dist/server/inputs.json', root), 'utf8'))
    for (const input of inputs) if (statSync(new URL(input, root)).mtimeMs > builtAt) return null
    return new URL('dist/server/scanpay.js', root).href
  } catch {
    return null // no build, or one of its sources is gone
  }
}

async function load() {
  const built = builtEntry()
  if (built) {
    // Stack traces name the TypeScript sources, as they do when the sources run.
    process.setSourceMapsEnabled(true)
    try {
      return await import(built)
    } catch (err) {
      // Replaced while this process started (npm run build swaps the folder): the sources will do.
      if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
    }
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
