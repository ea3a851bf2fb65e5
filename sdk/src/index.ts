// @scanpay/node: the ScanPay API client, request and payment-link signing, and webhook verification.
export { ScanPay, type ScanPayOptions } from './client.ts'
export { ScanPayError, type ScanPayErrorType } from './errors.ts'
export type { RequestOptions } from './transport.ts'
export { verifyWebhook, WebhookVerificationError, type VerifyWebhookInput, type WebhookErrorReason, type WebhookHeaders } from './webhooks.ts'
export {
  authorizationHeader,
  buildPaymentLink,
  canonicalRequest,
  newNonce,
  signRequest,
  signWebhook,
  type PaymentLinkInput,
  type RequestToSign,
} from './signing.ts'
export type * from './types.ts'
