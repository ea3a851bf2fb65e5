// scanpay migrate: brings the schema up to date, and nothing else (it needs no master key, and makes none).
import { migrate, openDatabase } from '../../storage/database.ts'

export async function runMigrate(databaseUrl: string): Promise<number> {
  const database = await openDatabase(databaseUrl)
  try {
    const applied = await migrate(database.db)
    console.log(applied.length ? `applied ${applied.join(', ')} to ${database.description}` : `${database.description} is up to date`)
    return 0
  } finally {
    await database.close()
  }
}
