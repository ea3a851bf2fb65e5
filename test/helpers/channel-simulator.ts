// A suite against a channel simulator: the simulator and the merchant's webhook receiver started before its tests,
// the suite's merchant given the simulator's credentials (as `scanpay channel set` would), both stopped after.
import assert from 'node:assert/strict'
import { after, before } from 'node:test'
import type { RealChannel } from '../../src/channels/channel-credentials.ts'
import type { TestServer } from './server.ts'
import type { WebhookReceiver } from './webhook-receiver.ts'

interface Simulator {
  start(): Promise<unknown>
  stop(): Promise<unknown>
  credentialsDocument(): Record<string, unknown>
}

export function withChannelSimulator(t: { readonly server: TestServer }, channel: RealChannel, sim: Simulator, receiver: WebhookReceiver): void {
  before(async () => {
    await sim.start()
    await receiver.start()
    const set = await t.server.server.ctx.channelCredentials.set(t.server.merchant.merchant_id, channel, sim.credentialsDocument())
    assert.ok(set.ok, JSON.stringify(set))
  })
  after(async () => {
    await sim.stop()
    await receiver.stop()
  })
}
