// The shop's state: its orders and the webhook ids it has handled, in memory and, when given a file, saved
// to JSON after every change (written to a temporary file, then renamed, so a crash never leaves half a file).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import type { ShopOrder } from './shop-orders.ts'

interface State {
  orders: Record<string, ShopOrder>
  /** webhook-id → when it was handled: a redelivered webhook is acknowledged and ignored. */
  webhooks: Record<string, string>
}

/** Enough to catch every redelivery ScanPay makes (its retries end after about a day). */
const MAX_REMEMBERED_WEBHOOKS = 50_000

export class ShopStore {
  #state: State = { orders: {}, webhooks: {} }

  constructor(private readonly file?: string) {
    if (file && existsSync(file)) this.#state = JSON.parse(readFileSync(file, 'utf8')) as State
  }

  get(id: string): ShopOrder | undefined {
    return this.#state.orders[id]
  }

  /** Newest first. */
  list(limit = 20): ShopOrder[] {
    return Object.values(this.#state.orders)
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
      .slice(0, limit)
  }

  put(order: ShopOrder): void {
    this.#state.orders[order.id] = order
    this.#save()
  }

  /** Changes one order and saves, synchronously: nothing else runs in between. */
  update(id: string, change: (o: ShopOrder) => void): ShopOrder | undefined {
    const order = this.#state.orders[id]
    if (!order) return undefined
    change(order)
    this.#save()
    return order
  }

  hasHandledWebhook(webhookId: string): boolean {
    return webhookId in this.#state.webhooks
  }

  /**
   * Runs `apply` for a webhook id not seen before and remembers the id in the same synchronous step, so a
   * redelivery (even one arriving at the same moment) is applied at most once. False for a repeat.
   */
  handleWebhookOnce(webhookId: string, apply: () => void): boolean {
    if (this.hasHandledWebhook(webhookId)) return false
    apply()
    this.#state.webhooks[webhookId] = new Date().toISOString()
    const ids = Object.keys(this.#state.webhooks)
    if (ids.length > MAX_REMEMBERED_WEBHOOKS) delete this.#state.webhooks[ids[0]!]
    this.#save()
    return true
  }

  #save(): void {
    if (!this.file) return
    const tmp = `${this.file}.tmp`
    writeFileSync(tmp, JSON.stringify(this.#state))
    renameSync(tmp, this.file)
  }
}
