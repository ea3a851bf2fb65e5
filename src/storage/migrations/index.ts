// The static, numbered list of migrations. They never import application code and run on both dialects.
import type { Migration } from 'kysely'
import { m0001Initial } from './0001-initial.ts'
import { m0002Refunds } from './0002-refunds.ts'
import { m0003ChannelCredentials } from './0003-channel-credentials.ts'
import { m0004ChannelPayments } from './0004-channel-payments.ts'
import { m0005OneOpenPayment } from './0005-one-open-payment.ts'
import { m0006OrderStatusListIndex } from './0006-order-status-list-index.ts'
import { m0007EventsMerchantDueIndex } from './0007-events-merchant-due-index.ts'
import { m0008OrdersById } from './0008-orders-by-id.ts'
import { m0009UnitUnmetFunction } from './0009-unit-unmet-function.ts'
import { m0010BillChecks } from './0010-bill-checks.ts'
import { m0011EventsDueMerchantIndex } from './0011-events-due-merchant-index.ts'
import { m0012PaymentsAwaitingRefundIndex } from './0012-payments-awaiting-refund-index.ts'
import { m0013RetiringWebhookSecrets } from './0013-retiring-webhook-secrets.ts'
import { m0014ChannelNotificationsPerMerchant } from './0014-channel-notifications-per-merchant.ts'
import { m0015OrdersPaidIndex } from './0015-orders-paid-index.ts'
import { m0016RefundsSucceededIndex } from './0016-refunds-succeeded-index.ts'
import { m0017PaymentsRefundRefusal } from './0017-payments-refund-refusal.ts'
import { m0018RefundsById } from './0018-refunds-by-id.ts'
import { m0019RefundEventsOrderData } from './0019-refund-events-order-data.ts'

export const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001Initial,
  '0002-refunds': m0002Refunds,
  '0003-channel-credentials': m0003ChannelCredentials,
  '0004-channel-payments': m0004ChannelPayments,
  '0005-one-open-payment': m0005OneOpenPayment,
  '0006-order-status-list-index': m0006OrderStatusListIndex,
  '0007-events-merchant-due-index': m0007EventsMerchantDueIndex,
  '0008-orders-by-id': m0008OrdersById,
  '0009-unit-unmet-function': m0009UnitUnmetFunction,
  '0010-bill-checks': m0010BillChecks,
  '0011-events-due-merchant-index': m0011EventsDueMerchantIndex,
  '0012-payments-awaiting-refund-index': m0012PaymentsAwaitingRefundIndex,
  '0013-retiring-webhook-secrets': m0013RetiringWebhookSecrets,
  '0014-channel-notifications-per-merchant': m0014ChannelNotificationsPerMerchant,
  '0015-orders-paid-index': m0015OrdersPaidIndex,
  '0016-refunds-succeeded-index': m0016RefundsSucceededIndex,
  '0017-payments-refund-refusal': m0017PaymentsRefundRefusal,
  '0018-refunds-by-id': m0018RefundsById,
  '0019-refund-events-order-data': m0019RefundEventsOrderData,
}
