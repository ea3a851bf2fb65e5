// A fresh database opened and migrated as the server does it, for the storage suites that drive stores directly.
import { migrate, openDatabase, type OpenDatabase } from '../../src/storage/database.ts'
import { dropSchema, freshDatabase, type TestDatabase } from './databases.ts'

/** A fresh database of the given kind, migrated and opened as the server opens it; close() also drops it. */
export async function openFreshDatabase(name: TestDatabase['name']): Promise<{ database: OpenDatabase; close(): Promise<void> }> {
  const target = freshDatabase(name)
  const database = await openDatabase(target.url, target.pgSchema ? { pgSchema: target.pgSchema } : {})
  await migrate(database.db)
  return {
    database,
    async close() {
      await database.close()
      await dropSchema(target)
    },
  }
}
