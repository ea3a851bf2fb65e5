// A SQLite database file's one true name, for what belongs beside the file itself whatever name it is opened by:
// the server lock (sqlite-server-lock.ts) and the development master key (config.ts).
import { mkdirSync, realpathSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'

/**
 * The database file by its one true name: symbolic links (of the file or of a folder on the way) followed, so that
 * every name of it leads to the same lock. Its folder is made if missing, as opening the database would.
 */
export function realDatabaseFile(databaseFile: string): string {
  const dir = resolve(dirname(databaseFile))
  mkdirSync(dir, { recursive: true })
  try {
    return realpathSync(resolve(databaseFile))
  } catch {
    // Not made yet: its folder's true name.
    return join(realpathSync(dir), basename(databaseFile))
  }
}
