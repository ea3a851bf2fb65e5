// docs/errors.md lists exactly the error codes the code can emit, with the same types.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { it } from 'node:test'
import { ERROR_CODES } from '../src/core/errors.ts'

it('docs/errors.md and ERROR_CODES agree', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
  const section = doc.slice(doc.indexOf('## Codes'))
  const documented = Object.fromEntries(
    [...section.matchAll(/^\| `([a-z_]+)` \| ([a-z_]+) \|/gm)].map((m) => [m[1], m[2]]),
  )
  assert.deepEqual(documented, { ...ERROR_CODES })
})
