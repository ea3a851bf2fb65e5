// In-process fan-out of order changes: wakes the webhook dispatcher and the customers' live status streams.
import { EventEmitter } from 'node:events'
import type { Order } from '../core/order.ts'
import type { ChangeListener } from '../core/ports.ts'

export class ChangeNotifier implements ChangeListener {
  readonly #emitter = new EventEmitter()

  constructor() {
    // Every open checkout page listens for its token; there may be thousands.
    this.#emitter.setMaxListeners(0)
  }

  orderChanged(order: Order): void {
    this.#emitter.emit(`order:${order.payToken}`, order)
  }

  eventsWritten(): void {
    this.#emitter.emit('events')
  }

  onOrder(token: string, fn: (order: Order) => void): () => void {
    this.#emitter.on(`order:${token}`, fn)
    return () => this.#emitter.off(`order:${token}`, fn)
  }

  onEvents(fn: () => void): () => void {
    this.#emitter.on('events', fn)
    return () => this.#emitter.off('events', fn)
  }
}
