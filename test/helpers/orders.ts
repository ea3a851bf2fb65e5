// A pending test-mode order for storage tests, with whatever fields a test needs changed.
import { randomBytes } from 'node:crypto'
import { newId } from '../../src/core/ids.ts'
import type { Order } from '../../src/core/order.ts'

export function anOrder(outTradeNo: string, overrides: Partial<Order> = {}): Order {
  const now = Date.now()
  return {
    id: newId('ord', now),
    merchantId: 'mch_storage_test',
    mode: 'test',
    status: 'pending',
    outTradeNo,
    amount: 100,
    amountRefunded: 0,
    currency: 'CNY',
    subject: 'Tea',
    description: null,
    metadata: {},
    channels: ['sandbox'],
    notifyUrl: null,
    returnUrl: null,
    payToken: randomBytes(32).toString('base64url'),
    channel: null,
    channelTradeNo: null,
    requestHash: 'h',
    createdAt: now,
    expiresAt: now + 60_000,
    paidAt: null,
    closedAt: null,
    updatedAt: now,
    ...overrides,
  }
}
