import assert from 'node:assert/strict'
import { createServer, type AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { channelFetch, ChannelUnreachable } from './channel-http.ts'

describe('channelFetch', () => {
  it('says why a gateway could not be reached, not only that fetch failed', async () => {
    // A port nothing listens on any more: the connection is refused.
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const { port } = probe.address() as AddressInfo
    await new Promise((r) => probe.close(r))
    await assert.rejects(
      channelFetch({ method: 'POST', url: `http://127.0.0.1:${port}/gateway.do`, headers: {}, body: '', timeoutMs: 5000 }),
      (err: unknown) => err instanceof ChannelUnreachable && /^POST \/gateway\.do: fetch failed: .*ECONNREFUSED/.test(err.message),
    )
  })
})
