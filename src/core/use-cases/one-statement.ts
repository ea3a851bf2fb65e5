// Reads and writes of one statement, made on their own rather than in a transaction of their own.
import type { Order } from '../order.ts'
import type { UnitOfWork } from '../ports.ts'
import type { UseCaseDeps } from './context.ts'

/**
 * fn issues exactly one statement, atomic by itself: through Transactor.statement where the storage has it
 * (on SQLite it joins the writer's next batch instead of holding the writer through a transaction of its
 * own; on PostgreSQL it skips BEGIN and COMMIT), else in a transaction.
 */
export function oneStatement<T>(deps: Pick<UseCaseDeps, 'tx'>, fn: (work: UnitOfWork) => Promise<T>): Promise<T> {
  return deps.tx.statement ? deps.tx.statement(fn) : deps.tx.transaction(fn)
}

/** The order as it now stands, read after a conditional move changed nothing, to say why. */
export function readOrder(deps: Pick<UseCaseDeps, 'tx'>, order: Order): Promise<Order | null> {
  return oneStatement(deps, (w) => w.orders.byId(order.merchantId, order.mode, order.id))
}
