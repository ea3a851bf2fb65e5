// Per pay token: what the customer's pages show of an order, as last read, and the responses rendered from it,
// so a page view or a status poll is answered without a database read or a render.
// Freshness: a change made in this process drops the token's entry the moment it is notified (before the
// change's caller is answered); a change made by another node (a PostgreSQL cluster, --workers) or another
// process (an admin command) is seen once the entry is older than ttlMs, since an older entry is read again
// before anything is answered from it: 1 s where other nodes serve the same orders, 10 s on SQLite.
// Expiry by time needs neither: callers compute the status from the order and their clock on every request.
import type { ChannelName, Order } from '../../core/order.ts'
import { LruCache } from './lru-cache.ts'

export interface CheckoutState {
  order: Order
  merchantName: string
  /** The channels the customer can pay through (read while the order was pending; empty otherwise). */
  available: ReadonlySet<ChannelName>
  /** Payments that arrived after the order stopped taking money (read once it has; empty otherwise). */
  unexpected: readonly UnexpectedPaymentShown[]
}

/** What the customer is told of a payment the order did not take: it is being, or has been, given back. */
export interface UnexpectedPaymentShown {
  amount: number
  currency: string
  channel: ChannelName
  refunded: boolean
}

export interface CheckoutCacheDeps {
  now(): number
  /** Reads the token's state from the database (and the merchant directory); null when the token is unknown. */
  load(token: string): Promise<CheckoutState | null>
  /** Subscribes to in-process changes of the token's order; returns the unsubscribe. */
  onOrder(token: string, fn: (order: Order) => void): () => void
}

export interface CheckoutCacheOptions {
  /** How long a read is trusted: the most a change made on another node can stay unseen. */
  ttlMs: number
  maxEntries: number
  /** A budget for the rendered responses kept, in bytes. */
  maxBytes: number
}

export const DEFAULT_CHECKOUT_CACHE_OPTIONS: CheckoutCacheOptions = { ttlMs: 1000, maxEntries: 20_000, maxBytes: 64 * 1024 * 1024 }

/**
 * How long a read is trusted on a database only this process serves customers from (SQLite: one process owns
 * the file). Every change of an order made here drops its entry at once; what another process can still change
 * (an admin command: a merchant's name, its channels, an unexpected payment's refund) shows within this. Longer
 * than a page's 2 s poll, so a poll is answered from memory rather than read again every time.
 */
export const SOLE_WRITER_TTL_MS = 10_000

/** What an entry costs apart from its renders: the order object and bookkeeping, roughly. */
const ENTRY_OVERHEAD_BYTES = 2048

/** One token's state and the responses rendered from exactly that state. */
export class CachedCheckout {
  readonly #renders = new Map<string, { value: unknown; bytes: number }>()
  #bytes = ENTRY_OVERHEAD_BYTES

  constructor(
    public state: CheckoutState,
    /** Told when a render is added, so the cache can count its bytes. */
    private readonly grew: (entry: CachedCheckout) => void = () => {},
  ) {}

  get bytes(): number {
    return this.#bytes
  }

  /** The response under `key` if it was already made for this state. */
  rendered<T>(key: string): T | undefined {
    return this.#renders.get(key)?.value as T | undefined
  }

  /** The response under `key`, made once per state. */
  render<T>(key: string, make: () => T, sizeOf: (value: T) => number): T {
    const hit = this.#renders.get(key)
    if (hit) return hit.value as T
    const value = make()
    const bytes = sizeOf(value)
    this.#renders.set(key, { value, bytes })
    this.#bytes += bytes
    this.grew(this)
    return value
  }

  /** A newly read state; what was rendered stays only if the state shows the same. */
  replace(state: CheckoutState): void {
    if (!sameShown(this.state, state)) {
      this.#renders.clear()
      this.#bytes = ENTRY_OVERHEAD_BYTES
    }
    this.state = state
  }
}

function sameShown(a: CheckoutState, b: CheckoutState): boolean {
  // Every change of an order moves its updated_at; its other shown fields never change.
  return (
    a.order.status === b.order.status &&
    a.order.updatedAt === b.order.updatedAt &&
    a.merchantName === b.merchantName &&
    a.available.size === b.available.size &&
    [...a.available].every((c) => b.available.has(c)) &&
    // Such a payment changes the payments, not the order.
    a.unexpected.length === b.unexpected.length &&
    a.unexpected.every((p, i) => p.refunded === b.unexpected[i]!.refunded && p.amount === b.unexpected[i]!.amount)
  )
}

interface Slot {
  token: string
  entry: CachedCheckout | null
  /** When the read that produced `entry` began. */
  readAt: number
  reading: Promise<CachedCheckout | null> | null
  /** Dropped from the cache (changed, or evicted): a read still under way must not fill it. */
  removed: boolean
  unsubscribe: () => void
}

export class CheckoutCache {
  readonly #slots: LruCache<string, Slot>

  constructor(
    private readonly deps: CheckoutCacheDeps,
    private readonly options: CheckoutCacheOptions = DEFAULT_CHECKOUT_CACHE_OPTIONS,
  ) {
    this.#slots = new LruCache<string, Slot>(
      options.maxEntries,
      options.maxBytes,
      (slot) => slot.entry?.bytes ?? ENTRY_OVERHEAD_BYTES,
      (_token, slot) => {
        slot.removed = true
        slot.unsubscribe()
      },
    )
  }

  get size(): number {
    return this.#slots.size
  }

  /** The token's state if it was read less than ttlMs ago; null otherwise (get() reads it). */
  fresh(token: string): CachedCheckout | null {
    const slot = this.#slots.get(token)
    return slot?.entry && this.deps.now() - slot.readAt < this.options.ttlMs ? slot.entry : null
  }

  /** Whether the token was read before and is still kept, fresh or not: a token known to exist. */
  known(token: string): boolean {
    return !!this.#slots.peek(token)?.entry
  }

  /** The token's state, read at most ttlMs ago or read now; null when the token is unknown. */
  async get(token: string): Promise<CachedCheckout | null> {
    const slot = this.#slots.get(token) ?? this.#open(token)
    if (slot.entry && this.deps.now() - slot.readAt < this.options.ttlMs) return slot.entry
    // Requests arriving while the token is read wait for that one read.
    slot.reading ??= this.#read(slot).finally(() => {
      slot.reading = null
    })
    return slot.reading
  }

  #open(token: string): Slot {
    const slot: Slot = { token, entry: null, readAt: 0, reading: null, removed: false, unsubscribe: () => {} }
    // Subscribed before the first read: a change committed while it runs drops the slot, so the read's
    // possibly older result answers the requests already waiting and is not kept.
    slot.unsubscribe = this.deps.onOrder(token, () => {
      if (this.#slots.peek(token) === slot) this.#slots.delete(token)
    })
    this.#slots.set(token, slot)
    return slot
  }

  async #read(slot: Slot): Promise<CachedCheckout | null> {
    const readAt = this.deps.now()
    const state = await this.deps.load(slot.token)
    if (slot.removed) return state && new CachedCheckout(state)
    if (!state) {
      this.#slots.delete(slot.token)
      return null
    }
    if (slot.entry) slot.entry.replace(state)
    else slot.entry = new CachedCheckout(state, () => this.#measure(slot))
    slot.readAt = readAt
    this.#measure(slot)
    return slot.entry
  }

  #measure(slot: Slot): void {
    if (!slot.removed) this.#slots.set(slot.token, slot)
  }
}
