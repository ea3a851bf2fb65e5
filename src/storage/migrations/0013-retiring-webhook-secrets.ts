// A merchant's webhook secret can be replaced with an overlap (scanpay merchant roll-webhook-secret): until
// `retiring_webhook_secret_until`, deliveries are signed with the new secret and the one it replaced, as
// Standard Webhooks provides for, so the merchant can deploy the new one without refusing a webhook meanwhile.
import type { Kysely, Migration } from 'kysely'

export const m0013RetiringWebhookSecrets: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('merchants').addColumn('retiring_webhook_secret_enc', 'text').execute()
    await db.schema.alterTable('merchants').addColumn('retiring_webhook_secret_until', 'bigint').execute()
  },
}
