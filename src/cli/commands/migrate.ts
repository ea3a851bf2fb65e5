// scanpay migrate: brings the schema up to date, and nothing else.
import type { Config } from '../../config/config.ts'
import { migrate, openDatabase } from '../../storage/database.ts'

export async function runMigrate(config: Config): Promise<number> {
  const database = await openDatabase(config.databaseUrl)
  try {
    const applied = await migrate(database.db)
    console.log(applied.length ? `applied ${applied.join(', ')} to ${database.description}` : `${database.description} is up to date`)
    return 0
  } finally {
    await database.close()
  }
}
