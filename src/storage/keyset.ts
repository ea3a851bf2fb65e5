// Keyset pagination shared by every newest-first list: rows strictly older than a (created_at, id) position.
import { sql, type RawBuilder } from 'kysely'

export interface KeysetPosition {
  createdAt: number
  id: string
}

export function olderThan(before: KeysetPosition): RawBuilder<boolean> {
  return sql<boolean>`(created_at < ${before.createdAt} OR (created_at = ${before.createdAt} AND id < ${before.id}))`
}
