// A fresh database opened and migrated as the server does it, for the storage suites that drive stores directly.
import { after, before, describe } from 'node:test'
import { migrate, openDatabase, type OpenDatabase } from '../../src/storage/database.ts'
import { Storage } from '../../src/storage/storage.ts'
import { databaseKinds, dropSchema, freshDatabase, type TestDatabase } from './databases.ts'

const kinds = await databaseKinds()

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

/**
 * `describeEachStorage('SqlNonceStore', (t) => { it('…', async () => { t.storage … }) })`: the suite runs once per
 * database kind, its body given a Storage over a fresh database, opened before its tests and dropped after.
 */
export function describeEachStorage(name: string, body: (t: { readonly storage: Storage; readonly database: OpenDatabase }) => void): void {
  for (const kind of kinds) {
    describe(`${name} [${kind}]`, () => {
      let fresh: Awaited<ReturnType<typeof openFreshDatabase>> | undefined
      let storage: Storage | undefined
      before(async () => {
        fresh = await openFreshDatabase(kind)
        storage = new Storage(fresh.database)
      })
      after(() => fresh?.close())
      body({
        get storage() {
          if (!storage) throw new Error('storage not opened')
          return storage
        },
        get database() {
          if (!fresh) throw new Error('database not opened')
          return fresh.database
        },
      })
    })
  }
}
