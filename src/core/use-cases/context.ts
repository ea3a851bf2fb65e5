// What every use case is given: storage transactions, a clock, how an order looks outside, who to tell.
import type { Order } from '../order.ts'
import type { PayTokens } from '../pay-tokens.ts'
import type { ChangeListener, Clock, Transactor } from '../ports.ts'

export interface UseCaseDeps {
  tx: Transactor
  clock: Clock
  /** The order as the API and webhooks show it (needs the public URL, which core does not know). */
  present(order: Order): unknown
  listener: ChangeListener
  /** Makes each new order's pay token. */
  payTokens: Pick<PayTokens, 'issue'>
}
