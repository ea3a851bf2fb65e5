import assert from 'node:assert/strict'
import { constants } from 'node:perf_hooks'
import { after, it } from 'node:test'
import { EventLoopMonitor } from './event-loop.ts'
import { renderFamilies } from './metrics.ts'

const monitors: EventLoopMonitor[] = []
after(() => monitors.forEach((m) => m.stop()))
const monitor = () => {
  const m = new EventLoopMonitor(10)
  monitors.push(m)
  return m
}
const sample = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"+.]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1])
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

it('shows a blocked main thread as the loop delay, and starts a new window at each read', async () => {
  const m = monitor()
  await sleep(50)
  m.families()
  // (Node's reset drops the one sample that spans it, so the block comes a few ticks later.)
  await sleep(30)
  const started = Date.now()
  while (Date.now() - started < 200);
  await sleep(30)
  const blocked = sample(renderFamilies(m.families()), 'nodejs_eventloop_lag_max_seconds')
  // The block, less the 10 ms interval (and however late the machine ran the timer, on a busy one).
  assert.ok(blocked >= 0.18 && blocked < 2, String(blocked))
  // The block was in the last window, not in this one.
  await sleep(100)
  const after = sample(renderFamilies(m.families()), 'nodejs_eventloop_lag_max_seconds')
  assert.ok(after < blocked / 2, `${after} after ${blocked}`)
})

it('reads 0, not a sentinel, before the loop was sampled', () => {
  const text = renderFamilies(monitor().families())
  for (const name of ['mean', 'p50', 'p99', 'max']) assert.equal(sample(text, `nodejs_eventloop_lag_${name}_seconds`), 0, text)
})

it('counts garbage-collection pauses by kind in a histogram', () => {
  const m = monitor()
  m.recordPause(constants.NODE_PERFORMANCE_GC_MINOR, 0.0008)
  m.recordPause(constants.NODE_PERFORMANCE_GC_MINOR, 0.003)
  m.recordPause(constants.NODE_PERFORMANCE_GC_MAJOR, 0.04)
  const text = renderFamilies(m.families())
  assert.match(text, /# TYPE nodejs_gc_duration_seconds histogram/)
  assert.equal(sample(text, 'nodejs_gc_duration_seconds_bucket{kind="minor",le="0.001"}'), 1)
  assert.equal(sample(text, 'nodejs_gc_duration_seconds_bucket{kind="minor",le="0.005"}'), 2)
  assert.equal(sample(text, 'nodejs_gc_duration_seconds_count{kind="minor"}'), 2)
  assert.equal(sample(text, 'nodejs_gc_duration_seconds_bucket{kind="major",le="0.025"}'), 0)
  assert.equal(sample(text, 'nodejs_gc_duration_seconds_bucket{kind="major",le="0.05"}'), 1)
  assert.equal(sample(text, 'nodejs_gc_duration_seconds_bucket{kind="major",le="+Inf"}'), 1)
  assert.equal(sample(text, 'nodejs_gc_duration_seconds_sum{kind="major"}'), 0.04)
})

it("observes V8's own collections", async () => {
  const m = monitor()
  // Garbage enough for several scavenges.
  let keep: unknown[] = []
  for (let i = 0; i < 200_000; i++) keep.push({ i, s: `x${i}` })
  keep = []
  await sleep(50)
  assert.ok(sample(renderFamilies(m.families()), 'nodejs_gc_duration_seconds_count{kind="minor"}') >= 1)
})
