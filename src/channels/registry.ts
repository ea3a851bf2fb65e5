// The channels this platform can pay through, by name. Real channels register beside the sandbox.
import type { ChannelName } from '../core/order.ts'
import type { PaymentChannel } from '../core/payment-channel.ts'
import { SandboxChannel } from './sandbox/sandbox-channel.ts'

export class ChannelRegistry {
  readonly #channels = new Map<ChannelName, PaymentChannel>()

  constructor(channels: PaymentChannel[] = [new SandboxChannel()]) {
    for (const c of channels) this.#channels.set(c.name, c)
  }

  get(name: ChannelName): PaymentChannel | undefined {
    return this.#channels.get(name)
  }

  names(): ChannelName[] {
    return [...this.#channels.keys()]
  }
}
