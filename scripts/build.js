#!/usr/bin/env node
// Builds the server into plain JavaScript (dist/server/), which bin/scanpay.js runs when it is up to date with
// its sources. Run from TypeScript through tsx's loader, a server holds about 45 MB more (the loader's own
// thread and isolate, its transpiled copies and their inline source maps): under the create-order load that
// is the margin of the 250 MB memory target (docs/performance.md). `npm ci` runs this (the prepare script).
//
// One bundle of our own code (packages stay in node_modules), plus the two worker threads' files beside it:
// the server starts them by a path relative to its own module (new URL('./…-thread.js', import.meta.url)).
import { build } from 'esbuild'
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(ROOT, 'dist', 'server')
// Before the sources are read: a source changed while the build runs is caught below.
const builtAt = Date.now()
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: {
    scanpay: 'src/cli/main.ts',
    'sqlite-writer-thread': 'src/storage/sqlite-writer-thread.js',
    'sender-thread': 'src/webhooks/sender-thread.js',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  // Stack traces in logs point at the TypeScript sources (bin/scanpay.js turns source maps on); the sources'
  // text is not needed for that, so it is left out of the maps.
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
  write: false,
  logLevel: 'warning',
  outdir: OUT,
})

// Written to a fresh folder, then swapped in whole: a server starting meanwhile sees the old build or the new.
// What a build killed mid-swap left behind goes first (not a running build's).
const running = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}
mkdirSync(dirname(OUT), { recursive: true })
for (const name of readdirSync(dirname(OUT))) {
  const left = /^server\.(?:next|old)-(\d+)$/.exec(name)
  if (left && !running(Number(left[1]))) rmSync(join(dirname(OUT), name), { recursive: true, force: true })
}
const next = `${OUT}.next-${process.pid}`
rmSync(next, { recursive: true, force: true })
mkdirSync(next, { recursive: true })
for (const file of result.outputFiles) writeFileSync(join(next, relative(OUT, file.path)), file.contents)
// What bin/scanpay.js reads to tell whether the build is still its sources': each one's size and time of change,
// which must be the same (not merely older: a rollback or a copy that keeps times brings back older files).
const files = [...Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('node_modules/')), 'tsconfig.json'].sort()
const inputs = files.map((path) => {
  const { mtimeMs, size } = statSync(join(ROOT, path))
  if (mtimeMs > builtAt) throw new Error(`${path} changed while the build ran: run it again`)
  return { path, mtimeMs, size }
})
writeFileSync(join(next, 'inputs.json'), `${JSON.stringify({ builtAt, inputs }, null, 1)}\n`)
const old = `${OUT}.old-${process.pid}`
try {
  renameSync(OUT, old)
} catch (err) {
  if (err.code !== 'ENOENT') throw err
}
renameSync(next, OUT)
rmSync(old, { recursive: true, force: true })
console.log(`built ${relative(ROOT, OUT)}/ from ${inputs.length} source files`)
