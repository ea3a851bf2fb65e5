// An operator command's log lines, as a person at a terminal reads them.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { plainLogLine } from './command-log.ts'

it("writes pino's JSON line as one plain line: level, message, and the details but pino's own", () => {
  const line = JSON.stringify({ level: 50, time: 1, pid: 7, hostname: 'h', payment_id: 'pay_1', amount: 1234, err: { type: 'ChannelError', message: 'NOT_ENOUGH', stack: 'at …' }, msg: 'the refund was refused' })
  assert.equal(plainLogLine(`${line}\n`), 'error: the refund was refused (payment_id=pay_1, amount=1234, err=NOT_ENOUGH)\n')
  assert.equal(plainLogLine(JSON.stringify({ level: 30, time: 1, msg: 'done' })), 'info: done\n')
  assert.equal(plainLogLine(JSON.stringify({ level: 40, msg: 'odd', ids: ['a', 'b'] })), 'warn: odd (ids=["a","b"])\n')
  assert.equal(plainLogLine('not json'), 'not json\n', 'anything else is passed on')
})
