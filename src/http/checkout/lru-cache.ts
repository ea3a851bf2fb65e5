// A small least-recently-used cache bounded by entry count and total size, for rendered bytes.

export class LruCache<K, V> {
  // A Map iterates in insertion order, so re-inserting on every hit keeps the coldest entry first.
  readonly #map = new Map<K, { value: V; size: number }>()
  #bytes = 0

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number = Number.POSITIVE_INFINITY,
    private readonly sizeOf: (value: V) => number = () => 0,
    /** Told of every value that leaves: evicted, deleted, or replaced by another value. */
    private readonly onRemove: (key: K, value: V) => void = () => {},
  ) {
    if (!(maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1')
  }

  get size(): number {
    return this.#map.size
  }

  get bytes(): number {
    return this.#bytes
  }

  get(key: K): V | undefined {
    const hit = this.#map.get(key)
    if (!hit) return undefined
    this.#map.delete(key)
    this.#map.set(key, hit)
    return hit.value
  }

  /** The value without counting it as a use. */
  peek(key: K): V | undefined {
    return this.#map.get(key)?.value
  }

  /** Stores the value; setting the value already stored again re-measures its size. */
  set(key: K, value: V): void {
    const size = this.sizeOf(value)
    const previous = this.#map.get(key)
    // Something larger than the whole budget would only evict everything else and then itself.
    if (size > this.maxBytes) {
      this.delete(key)
      return
    }
    if (previous?.value === value) {
      this.#map.delete(key)
      this.#bytes -= previous.size
    } else {
      this.delete(key)
    }
    this.#map.set(key, { value, size })
    this.#bytes += size
    while (this.#map.size > this.maxEntries || this.#bytes > this.maxBytes) {
      const oldest = this.#map.keys().next()
      if (oldest.done) break
      this.delete(oldest.value)
    }
  }

  delete(key: K): boolean {
    const hit = this.#map.get(key)
    if (!hit) return false
    this.#map.delete(key)
    this.#bytes -= hit.size
    this.onRemove(key, hit.value)
    return true
  }
}
