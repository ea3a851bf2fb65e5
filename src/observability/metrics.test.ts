import assert from 'node:assert/strict'
import { it } from 'node:test'
import { mergeFamilies, Metrics, renderFamilies } from './metrics.ts'

it('merges workers: counters and histograms summed per series, gauges kept per worker', () => {
  const part = (requests: number, rss: number) => {
    const m = new Metrics()
    m.inc('scanpay_http_requests_total', { route: '/x', status: '200' }, requests)
    return [
      ...m.families(),
      { name: 'process_resident_memory_bytes', help: 'RSS', samples: [{ labels: {}, value: rss }] },
      { name: 'h', help: 'a histogram', type: 'histogram' as const, samples: [{ suffix: '_bucket', labels: { le: '+Inf' }, value: requests }, { suffix: '_count', labels: {}, value: requests }] },
    ]
  }
  const text = renderFamilies(mergeFamilies([{ worker: '11', families: part(3, 100) }, { worker: '12', families: part(4, 200) }]))
  assert.match(text, /^scanpay_http_requests_total\{route="\/x",status="200"\} 7$/m)
  assert.match(text, /^scanpay_webhook_deliveries_total\{outcome="failed"\} 0$/m)
  assert.match(text, /^process_resident_memory_bytes\{worker="11"\} 100$/m)
  assert.match(text, /^process_resident_memory_bytes\{worker="12"\} 200$/m)
  assert.match(text, /^h_bucket\{le="\+Inf"\} 7$/m)
  assert.match(text, /^h_count 7$/m)
  assert.equal(text.match(/# TYPE scanpay_http_requests_total counter/g)?.length, 1)
})
