import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseProcStat, stolenShare } from './steal.ts'

const stat = (steal: number, idle: number) =>
  `cpu  1000 0 200 ${idle} 10 0 5 ${steal} 0 0\ncpu0 500 0 100 ${idle / 2} 5 0 3 ${steal / 2} 0 0\nintr 1 2 3\n`

test('the aggregate cpu line is read, steal being its eighth counter', () => {
  assert.deepEqual(parseProcStat(stat(40, 3000)), { steal: 40, all: 1000 + 200 + 3000 + 10 + 5 + 40 })
  assert.equal(parseProcStat('intr 1 2 3\n'), null)
  assert.equal(parseProcStat('cpu  1 2 3\n'), null)
})

test('the stolen share is of all the CPU time that passed between two readings', () => {
  const before = parseProcStat(stat(40, 3000))
  // 100 ticks passed: 80 idle, 20 stolen.
  const after = parseProcStat(stat(60, 3080))
  assert.equal(stolenShare(before, after), 0.2)
  assert.equal(stolenShare(before, before), null)
  assert.equal(stolenShare(null, after), null)
})
