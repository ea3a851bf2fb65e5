// Named prepared statements for PostgreSQL: each connection parses and plans a statement text once, then runs it
// by name (Bind/Execute only), instead of parsing it anew for every call as node-postgres does by default.
import type pg from 'pg'

/** Statement texts named so far, shared by all connections: the same text has the same name everywhere. */
const names = new Map<string, string>()
/** Past this many texts, new ones run unnamed: texts that vary (IN lists) must not grow it forever. */
const MAX_NAMED = 200
/**
 * Statements with more parameters run unnamed: a prepared statement stays in its connection's memory. Every
 * statement of a single row fits under it, and so does a unit of changes sent as one statement
 * (pg-unit-statement.ts: a pay's three changes take 36 to 41).
 */
const MAX_PARAMETERS = 64
/**
 * A multi-row insert (`values ($1, $2), ($3, $4)`) runs unnamed whatever its size: its text changes with its row
 * count and its prepared statement grows with its rows (128 batch sizes of the order insert took 93 MB of one
 * PostgreSQL backend; one-row statements take tens of KB).
 */
const SEVERAL_ROWS = /\), \(\$/

/**
 * A statement whose result lists columns by `*` is left unnamed: a migration that adds a column would make its
 * cached plan fail ("cached plan must not change result type") on every node not yet restarted.
 */
function nameOf(text: string): string | undefined {
  let name = names.get(text)
  if (name !== undefined || names.size >= MAX_NAMED || text.includes('*')) return name
  name = `scanpay_${names.size + 1}`
  names.set(text, name)
  return name
}

/** Makes `client` run each statement text as a named prepared statement: parsed on its first run there, then reused. */
export function prepareStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  client.query = ((text: unknown, values?: unknown, callback?: unknown) => {
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || values.length > MAX_PARAMETERS || callback !== undefined || SEVERAL_ROWS.test(text)) {
      return query(text, values, callback)
    }
    const name = nameOf(text)
    return name === undefined ? query(text, values) : query({ name, text, values })
  }) as typeof client.query
}
