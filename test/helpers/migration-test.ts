// A migration's test over data written before it: the same exercise on a fresh SQLite database and a fresh
// PostgreSQL schema (where reachable), each migrated only as far as the exercise asks.
import { describe, it } from 'node:test'
import { Migrator, type Kysely } from 'kysely'
import { openDatabase } from '../../src/storage/database.ts'
import { MIGRATIONS } from '../../src/storage/migrations/index.ts'
import type { Database } from '../../src/storage/schema.ts'
import { databaseKinds, dropSchema, freshDatabase, type TestDatabase } from './databases.ts'

const kinds = await databaseKinds()

/** The last migration there is. */
export const LATEST = Object.keys(MIGRATIONS).at(-1)!

export interface MigrationExercise {
  db: Kysely<Database>
  kind: TestDatabase['name']
  /** Migrates up (or down) to the named migration. */
  migrateTo(name: string): ReturnType<Migrator['migrateTo']>
}

export function describeMigration(title: string, exercise: (m: MigrationExercise) => Promise<void>): void {
  describe(title, () => {
    for (const kind of kinds) {
      it(`on ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`, async () => {
        const target = freshDatabase(kind)
        const database = await openDatabase(target.url, target.pgSchema ? { pgSchema: target.pgSchema } : {})
        const migrator = new Migrator({ db: database.db, provider: { getMigrations: async () => MIGRATIONS }, ...(target.pgSchema ? { migrationTableSchema: target.pgSchema } : {}) })
        try {
          await exercise({ db: database.db, kind, migrateTo: (name) => migrator.migrateTo(name) })
        } finally {
          await database.close()
          await dropSchema(target)
        }
      })
    }
  })
}
