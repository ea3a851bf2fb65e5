// Reads made on their own, outside any transaction the use case writes in.
import type { Order } from '../order.ts'
import type { UnitOfWork } from '../ports.ts'
import type { UseCaseDeps } from './context.ts'

/** One read: through Transactor.statement where the storage has it, so no transaction is opened for it. */
export function readAlone<T>(deps: UseCaseDeps, fn: (work: UnitOfWork) => Promise<T>): Promise<T> {
  return deps.tx.statement ? deps.tx.statement(fn) : deps.tx.transaction(fn)
}

/** The order as it now stands, read after a conditional move changed nothing, to say why. */
export function readOrder(deps: UseCaseDeps, order: Order): Promise<Order | null> {
  return readAlone(deps, (w) => w.orders.byId(order.merchantId, order.mode, order.id))
}
