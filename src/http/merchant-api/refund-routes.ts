// The merchant API's refunds: create one for a paid order, retrieve it, list an order's refunds. Registered
// inside the merchant API plugin, so its authentication hook covers these routes too.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { notFound } from '../../core/errors.ts'
import type { Order } from '../../core/order.ts'
import { createRefund } from '../../core/use-cases/create-refund.ts'
import type { AppContext } from '../../context.ts'
import { cursorParam, presentList, presentRefund } from '../presenters.ts'
import { CreateRefundBody, ErrorResource, IdParams, ListRefundsQuery, RefundList, RefundResource } from '../schemas.ts'
import { withIdempotency } from './idempotency.ts'

const errors = { 400: ErrorResource, 401: ErrorResource, 404: ErrorResource, 409: ErrorResource }
const security: { [label: string]: string[] }[] = [{ bearer: [] }, { hmac: [] }]

export function refundRoutes(app: FastifyInstance, ctx: AppContext): void {
  const { storage } = ctx

  async function orderOf(req: FastifyRequest<{ Params: IdParams }>): Promise<Order> {
    const key = req.apiKey!
    const order = await storage.orders.byId(key.merchantId, key.mode, req.params.id)
    if (!order) throw notFound('order', 'id')
    return order
  }

  app.post<{ Params: IdParams; Body: CreateRefundBody }>(
    '/v1/orders/:id/refunds',
    {
      schema: {
        tags: ['refunds'],
        summary: 'Refund part or all of a paid order',
        params: IdParams,
        body: CreateRefundBody,
        security,
        response: { 200: RefundResource, 201: RefundResource, ...errors },
      },
    },
    async (req, reply) => {
      const key = req.apiKey!
      return withIdempotency(storage.idempotency, ctx.clock.now, key, req, reply, async () => {
        const { refund, created } = await createRefund(ctx.refundDeps, key.merchantId, key.mode, await orderOf(req), {
          amount: req.body.amount,
          outRefundNo: req.body.out_refund_no,
          reason: req.body.reason ?? null,
        })
        return { status: created ? 201 : 200, body: presentRefund(refund) }
      })
    },
  )

  app.get<{ Params: IdParams; Querystring: ListRefundsQuery }>(
    '/v1/orders/:id/refunds',
    {
      schema: {
        tags: ['refunds'],
        summary: "List an order's refunds, newest first",
        params: IdParams,
        querystring: ListRefundsQuery,
        security,
        response: { 200: RefundList, ...errors },
      },
    },
    async (req) => {
      const key = req.apiKey!
      const order = await orderOf(req)
      const limit = Number(req.query.limit ?? 10)
      const before = cursorParam(req.query.cursor)
      const rows = await storage.refunds.listForOrder({ merchantId: key.merchantId, mode: key.mode, orderId: order.id, before, limit: limit + 1 })
      return presentList(rows, limit, presentRefund)
    },
  )

  app.get<{ Params: IdParams }>(
    '/v1/refunds/:id',
    { schema: { tags: ['refunds'], summary: 'Retrieve a refund', params: IdParams, security, response: { 200: RefundResource, ...errors } } },
    async (req) => {
      const key = req.apiKey!
      const refund = await storage.refunds.byId(key.merchantId, key.mode, req.params.id)
      if (!refund) throw notFound('refund', 'id')
      return presentRefund(refund)
    },
  )
}
