import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { it } from 'node:test'
import { CHECKOUT_SCRIPT } from './checkout-script.min.ts'
import { CHECKOUT_SCRIPT_SOURCE } from './checkout-script.ts'
import { minifiedCheckoutScript, minifiedModule } from './minify-script.ts'

it('pages carry the minified form of the script as it stands: run `npm run minify-script` after editing it', () => {
  assert.equal(readFileSync(new URL('./checkout-script.min.ts', import.meta.url), 'utf8'), minifiedModule())
  assert.equal(CHECKOUT_SCRIPT, minifiedCheckoutScript())
  assert.ok(CHECKOUT_SCRIPT.length < CHECKOUT_SCRIPT_SOURCE.length * 0.9, `${CHECKOUT_SCRIPT.length} of ${CHECKOUT_SCRIPT_SOURCE.length}`)
})

it('the minified script is still ES5 for old in-app WebViews: no arrows, let/const, classes or template strings', () => {
  assert.doesNotMatch(CHECKOUT_SCRIPT, /=>|\blet |\bconst |\bclass |`/)
  // A text that closes the inline <script> early would break the page.
  assert.doesNotMatch(CHECKOUT_SCRIPT, /<\/script/i)
  assert.doesNotThrow(() => new Function(CHECKOUT_SCRIPT))
})
