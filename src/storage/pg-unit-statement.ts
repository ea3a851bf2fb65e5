// PostgreSQL: a unit of changes sent as one statement. A transaction of n statements costs n + 2 round trips
// (BEGIN, each statement, COMMIT), each a turn of both processes; as writable CTEs the unit is one round trip,
// one snapshot and one commit (autocommit), with the same all-or-nothing outcome:
//
//   with c0 as (update "orders" … returning 1), c1 as (insert into "payments" … returning 1), c2 as (…)
//   select case when not exists (select 1 from c0) then scanpay_unmet(0)
//               when not exists (select 1 from c1) then scanpay_unmet(1) … end
//
// The CASE reads the changes in order, so each runs after the one before (and takes its row locks in the
// transaction's order); the first that changed no row raises (migration 0009), which undoes the whole statement
// and names that change, as applyChanges' { unmet } does. A change marked mayChangeNothing is read in its turn
// but never raises.
//
// The CTEs share one snapshot: a change cannot see what an earlier one wrote. So a unit is joined only when each
// change writes a table of its own and mentions no other change's table; any other unit runs as a transaction.
import { CompiledQuery } from 'kysely'
import type { UnitChange } from './sqlite-thread.ts'

/** The SQLSTATE scanpay_unmet raises (migration 0009); its DETAIL is the index of the change. */
export const UNMET_SQLSTATE = 'SPU01'

/** The table an insert or update writes, as Kysely compiles them; null for any other statement. */
function tableOf(text: string): string | null {
  return /^(?:insert into|update) "([a-z_]+)" /.exec(text)?.[1] ?? null
}

/** The unit as one statement, or null when it cannot be joined safely (see the top of this file). */
export function unitStatement(changes: readonly UnitChange[]): CompiledQuery | null {
  if (changes.length === 0) return null
  const tables = changes.map((change) => tableOf(change.sql))
  if (tables.some((table) => table === null) || new Set(tables).size !== tables.length) return null
  const ctes: string[] = []
  const checks: string[] = []
  const parameters: unknown[] = []
  for (const [i, change] of changes.entries()) {
    // A change that returns rows already, or reads another change's table, is not joined.
    if (/ returning /i.test(change.sql)) return null
    if (tables.some((table, j) => j !== i && change.sql.includes(`"${table}"`))) return null
    const offset = parameters.length
    // Each change's parameters follow the ones before: $1 of the second change becomes $(n + 1).
    ctes.push(`c${i} as (${change.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)} returning 1)`)
    parameters.push(...change.parameters)
    // No `*` in the text: pg-prepared.ts leaves such statements unnamed, which would plan this one every time.
    checks.push(
      change.mayChangeNothing
        ? `when (select count(1) from c${i}) < 0 then null`
        : `when not exists (select 1 from c${i}) then scanpay_unmet(${i})`,
    )
  }
  return CompiledQuery.raw(`with ${ctes.join(', ')} select case ${checks.join(' ')} end as unmet`, parameters)
}

/** The index of the change that changed no row, when `error` is scanpay_unmet's; else null. */
export function unmetChange(error: unknown): number | null {
  const e = error as { code?: unknown; detail?: unknown } | null
  if (e?.code !== UNMET_SQLSTATE || typeof e.detail !== 'string') return null
  const index = Number(e.detail)
  return Number.isInteger(index) && index >= 0 ? index : null
}

/**
 * Whether `error` says the statement was undone and nothing else went wrong: a constraint (class 23) or a
 * deadlock or serialization failure (class 40). The unit can then run again as a transaction, whose statements
 * give the precise answer (a later change's duplicate key, say, after an earlier change that changed no row).
 */
export function undoneByConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && (code.startsWith('23') || code.startsWith('40'))
}
