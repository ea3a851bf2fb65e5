// Generates the credentials a merchant is given once: key ids, API secrets and the webhook secret.
import { hash, randomBytes } from 'node:crypto'
import type { Mode } from '../core/order.ts'

export function newKeyId(mode: Mode): string {
  return `key_${mode}_${randomBytes(12).toString('base64url')}`
}

export function newApiSecret(mode: Mode): string {
  return `sk_${mode}_${randomBytes(32).toString('base64url')}`
}

/** `whsec_` + base64 of 32 random bytes, as Standard Webhooks defines. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

/** One-shot (crypto.hash): on hot paths a hash object cost more than the hashing. */
export function sha256Hex(value: string | Buffer): string {
  return hash('sha256', value, 'hex')
}

export function modeOfSecret(secret: string): Mode | null {
  if (secret.startsWith('sk_test_')) return 'test'
  if (secret.startsWith('sk_live_')) return 'live'
  return null
}
