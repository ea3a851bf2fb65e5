// PostgreSQL's plan for the statement a store method sends: the storage suites check that a look-up reads the
// index it should, also on a table that was never analyzed (a fresh deployment's first minutes).
import { CompiledQuery, type Kysely, type KyselyPlugin } from 'kysely'
import type { Database } from '../../src/storage/schema.ts'

/**
 * Runs `call` on a handle that catches the last statement it sends, built (through a plugin) or already
 * compiled (compiled-once.ts, through executeQuery), then answers EXPLAIN of that statement.
 */
export async function planOfLastQuery(db: Kysely<Database>, call: (db: Kysely<Database>) => Promise<unknown>): Promise<string> {
  let sent: CompiledQuery | undefined
  const catchQuery: KyselyPlugin = {
    transformQuery: (args) => ((sent = db.getExecutor().compileQuery(args.node, args.queryId)), args.node),
    transformResult: async (args) => args.result,
  }
  const catching = catchingCompiled(db.withPlugin(catchQuery), (query) => (sent = query))
  await call(catching)
  const plan = await db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${sent!.sql}`, [...sent!.parameters]))
  return plan.rows.map((r) => r['QUERY PLAN']).join('\n')
}

/** `db` whose executeQuery also tells `caught` each statement it is given already compiled (compiled-once.ts). */
export function catchingCompiled<T extends Kysely<any>>(db: T, caught: (query: CompiledQuery) => void): T {
  return new Proxy(db, {
    get: (target, name) => {
      if (name === 'executeQuery') return (query: CompiledQuery) => (caught(query), target.executeQuery(query))
      // Kysely's methods read private fields: they must run on the instance itself, not on the proxy.
      const value = Reflect.get(target, name)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
