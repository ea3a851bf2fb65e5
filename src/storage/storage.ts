// The storage facade the composition root hands out: every store over one database, and transactions.
import type { Kysely } from 'kysely'
import type { Transactor, UnitOfWork } from '../core/ports.ts'
import type { OpenDatabase } from './database.ts'
import { SqlDeliveryQueue } from './delivery-queue.ts'
import { SqlEventStore } from './event-store.ts'
import { SqlIdempotencyStore } from './idempotency-store.ts'
import { SqlMerchantStore } from './merchant-store.ts'
import { SqlNonceStore } from './nonce-store.ts'
import { SqlOrderStore } from './order-store.ts'
import { SqlPaymentStore } from './payment-store.ts'
import type { Database } from './schema.ts'

function unitOfWork(db: Kysely<Database>): UnitOfWork {
  return { orders: new SqlOrderStore(db), payments: new SqlPaymentStore(db), events: new SqlEventStore(db) }
}

export class Storage implements Transactor {
  readonly orders: SqlOrderStore
  readonly events: SqlEventStore
  readonly merchants: SqlMerchantStore
  readonly nonces: SqlNonceStore
  readonly idempotency: SqlIdempotencyStore
  readonly deliveries: SqlDeliveryQueue

  constructor(readonly database: OpenDatabase) {
    const db = database.db
    this.orders = new SqlOrderStore(db)
    this.events = new SqlEventStore(db)
    this.merchants = new SqlMerchantStore(db)
    this.nonces = new SqlNonceStore(db)
    this.idempotency = new SqlIdempotencyStore(db)
    this.deliveries = new SqlDeliveryQueue(db, database.dialect)
  }

  transaction<T>(fn: (work: UnitOfWork) => Promise<T>): Promise<T> {
    return this.database.db.transaction().execute((trx) => fn(unitOfWork(trx)))
  }

  async ping(): Promise<void> {
    await this.database.db.selectFrom('merchants').select('id').limit(1).execute()
  }
}
