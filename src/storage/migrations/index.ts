// The static, numbered list of migrations. They never import application code and run on both dialects.
import type { Migration } from 'kysely'
import { m0001Initial } from './0001-initial.ts'

export const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001Initial,
}
