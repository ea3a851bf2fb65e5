// The merchant API's view of the daily bill checks (src/channels/daily-bills.ts): which of the channels' bills
// agreed with our payments, and what disagreed. Live mode only: test mode has no channel bills.
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../core/errors.ts'
import type { AppContext } from '../../context.ts'
import type { BillCheckPosition, BillCheckStatus } from '../../storage/bill-check-store.ts'
import { presentBillCheck } from '../presenters.ts'
import { BillCheckList, ErrorResource, ListBillChecksQuery } from '../schemas.ts'

const security: { [label: string]: string[] }[] = [{ bearer: [] }, { hmac: [] }]

/** Opaque keyset cursor: the bill date and channel of a page's last check. */
export function encodeBillCheckCursor(at: BillCheckPosition): string {
  return Buffer.from(`${at.billDate}:${at.channel}`, 'utf8').toString('base64url')
}

export function decodeBillCheckCursor(cursor: string): BillCheckPosition {
  const m = /^(\d{4}-\d{2}-\d{2}):([a-z]{1,24})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!m) throw new AppError('cursor_invalid', 'cursor must be a next_cursor returned by a previous page', 'cursor')
  return { billDate: m[1]!, channel: m[2]! }
}

export function billCheckRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: ListBillChecksQuery }>(
    '/v1/bill_checks',
    {
      schema: {
        tags: ['bill checks'],
        summary: "The daily checks of the channels' bills against our payments, newest day first",
        querystring: ListBillChecksQuery,
        security,
        response: { 200: BillCheckList, 400: ErrorResource, 401: ErrorResource, 403: ErrorResource },
      },
    },
    async (req) => {
      const key = req.apiKey!
      if (key.mode !== 'live') throw new AppError('live_mode_only', "bill checks are of the live channels' bills: use a live key")
      const q = req.query
      const limit = Number(q.limit ?? 10)
      const after = q.cursor === undefined ? undefined : decodeBillCheckCursor(q.cursor)
      const rows = await ctx.storage.billChecks.list({
        merchantId: key.merchantId,
        channel: q.channel,
        status: q.status as BillCheckStatus | undefined,
        after,
        limit: limit + 1,
      })
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      const hasMore = rows.length > limit
      return {
        object: 'list' as const,
        data: page.map(presentBillCheck),
        has_more: hasMore,
        next_cursor: hasMore && last ? encodeBillCheckCursor(last) : null,
      }
    },
  )
}
