// The daily bill checks in SQL (src/channels/daily-bills.ts): which node checks a merchant's bill of a day, and
// what the check found. A check is claimed with a lease, so one node does it and a stopped node's is taken again.
import type { Kysely } from 'kysely'
import type { BillChecksTable, Database } from './schema.ts'

export type BillCheckStatus = BillChecksTable['status']

/** A failed check that is not retried any more waits for this time: never. */
export const NEVER = Number.MAX_SAFE_INTEGER

export interface BillCheck {
  merchantId: string
  channel: string
  billDate: string
  status: BillCheckStatus
  attempts: number
  /** The bill's lines reconciled; null until a check has finished. */
  lines: number | null
  discrepancies: number | null
  /** The first discrepancies found, as stored. */
  details: unknown[] | null
  lastError: string | null
  nextAttemptAt: number
  updatedAt: number
}

/** Where a page of one merchant's checks ended. */
export interface BillCheckPosition {
  billDate: string
  channel: string
}

export class SqlBillCheckStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The merchants whose check of this bill needs nothing now: finished, held by a node, or waiting to retry. */
  async notDue(channel: string, billDate: string, now: number): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('bill_checks')
      .select('merchant_id')
      .where('channel', '=', channel)
      .where('bill_date', '=', billDate)
      .where((eb) => eb.or([eb('status', 'in', ['matched', 'discrepancies']), eb('lease_until', '>', now), eb('next_attempt_at', '>', now)]))
      .execute()
    return new Set(rows.map((r) => r.merchant_id))
  }

  /**
   * Takes the check for this node until leaseUntil: its attempt number, or null when it is finished, held by
   * another node's lease, or waiting for its retry. Concurrent claims of one check: one wins.
   */
  async claim(merchantId: string, channel: string, billDate: string, now: number, leaseUntil: number): Promise<number | null> {
    const row = await this.db
      .insertInto('bill_checks')
      .values({
        merchant_id: merchantId,
        channel,
        bill_date: billDate,
        status: 'running',
        attempts: 1,
        lease_until: leaseUntil,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['merchant_id', 'channel', 'bill_date'])
          .doUpdateSet((eb) => ({ status: 'running', attempts: eb('bill_checks.attempts', '+', 1), lease_until: leaseUntil, updated_at: now }))
          .where('bill_checks.status', 'in', ['running', 'failed'])
          .where('bill_checks.lease_until', '<=', now)
          .where('bill_checks.next_attempt_at', '<=', now),
      )
      .returning('attempts')
      .executeTakeFirst()
    return row ? Number(row.attempts) : null
  }

  /** Stores a finished check's outcome (the claim's node only: a check taken over meanwhile is not overwritten). */
  async finish(merchantId: string, channel: string, billDate: string, attempt: number, outcome: { lines: number; discrepancies: number; details: unknown[] }, now: number): Promise<void> {
    await this.#stillRunning(merchantId, channel, billDate, attempt)
      .set({
        status: outcome.discrepancies > 0 ? 'discrepancies' : 'matched',
        lines: outcome.lines,
        discrepancies: outcome.discrepancies,
        details: JSON.stringify(outcome.details),
        last_error: null,
        lease_until: 0,
        updated_at: now,
      })
      .execute()
  }

  /** Records a failed attempt and when to try again (NEVER: not again). */
  async fail(merchantId: string, channel: string, billDate: string, attempt: number, error: string, retryAt: number, now: number): Promise<void> {
    await this.#stillRunning(merchantId, channel, billDate, attempt)
      .set({ status: 'failed', last_error: error.slice(0, 1000), lease_until: 0, next_attempt_at: retryAt, updated_at: now })
      .execute()
  }

  /** An update of the check only while it is still this attempt's. */
  #stillRunning(merchantId: string, channel: string, billDate: string, attempt: number) {
    return this.db
      .updateTable('bill_checks')
      .where('merchant_id', '=', merchantId)
      .where('channel', '=', channel)
      .where('bill_date', '=', billDate)
      .where('status', '=', 'running')
      .where('attempts', '=', attempt)
  }

  /**
   * The newest checks first (by bill date, then channel), of one merchant or of all; `after` is the last
   * check of the page before (one merchant's pages: the key is unique only within a merchant).
   */
  async list(options: { merchantId?: string; channel?: string; status?: BillCheckStatus; after?: BillCheckPosition; limit: number }): Promise<BillCheck[]> {
    let q = this.db.selectFrom('bill_checks').selectAll()
    if (options.merchantId) q = q.where('merchant_id', '=', options.merchantId)
    if (options.channel) q = q.where('channel', '=', options.channel)
    if (options.status) q = q.where('status', '=', options.status)
    const after = options.after
    if (after) {
      q = q.where((eb) => eb.or([eb('bill_date', '<', after.billDate), eb.and([eb('bill_date', '=', after.billDate), eb('channel', '<', after.channel)])]))
    }
    const rows = await q.orderBy('bill_date', 'desc').orderBy('channel', 'desc').orderBy('merchant_id').limit(options.limit).execute()
    return rows.map((r) => ({
      merchantId: r.merchant_id,
      channel: r.channel,
      billDate: r.bill_date,
      status: r.status,
      attempts: Number(r.attempts),
      lines: r.lines === null ? null : Number(r.lines),
      discrepancies: r.discrepancies === null ? null : Number(r.discrepancies),
      details: r.details === null ? null : (JSON.parse(r.details) as unknown[]),
      lastError: r.last_error,
      nextAttemptAt: Number(r.next_attempt_at),
      updatedAt: Number(r.updated_at),
    }))
  }
}
