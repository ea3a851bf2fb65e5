// The customer's side: checkout page, QR codes, live status and signed payment links. (Being built.)
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../context.ts'

export function checkoutRoutes(_ctx: AppContext) {
  return async function routes(_app: FastifyInstance) {}
}
