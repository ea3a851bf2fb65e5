// Writes src/http/checkout/checkout-script.min.ts from checkout-script.ts (npm run minify-script).
import { writeFileSync } from 'node:fs'
import { minifiedModule } from '../src/http/checkout/minify-script.ts'

const target = new URL('../src/http/checkout/checkout-script.min.ts', import.meta.url)
writeFileSync(target, minifiedModule())
console.log(`wrote ${target.pathname}`)
