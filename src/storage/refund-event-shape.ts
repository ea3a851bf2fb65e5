// Refund events written before the thirtieth session held the refund as `data`, with the order under
// `data.order`; the contract's `data` is the order for every event, with the refund under `data.refund`.
// Migration 0019 rewrites those stored then; events read are put in the contract's shape here too, for those an
// older node writes while a cluster is upgraded one node at a time (operations.md), after the migration ran.

/** A refund event's data in the contract's shape: unchanged unless it is the old shape. */
export function refundEventInOrderShape(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data
  const old = data as { object?: unknown; order?: unknown }
  if (old.object !== 'refund' || typeof old.order !== 'object' || old.order === null) return data
  const { order, ...refund } = old
  return { ...(order as Record<string, unknown>), refund }
}
