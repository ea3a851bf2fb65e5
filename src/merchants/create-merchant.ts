// Creates a merchant with test and live keys and a webhook secret; the plaintext secrets are returned once.
import { newId } from '../core/ids.ts'
import { newApiSecret, newKeyId, newWebhookSecret, sha256Hex } from '../security/credentials.ts'
import type { SecretBox } from '../security/secret-box.ts'
import type { SqlMerchantStore } from '../storage/merchant-store.ts'

export interface NewMerchantCredentials {
  merchant_id: string
  name: string
  webhook_url: string | null
  test: { key_id: string; secret: string }
  live: { key_id: string; secret: string }
  webhook_secret: string
}

export async function createMerchant(
  store: SqlMerchantStore,
  box: SecretBox,
  input: { name: string; webhookUrl: string | null },
  now = Date.now(),
): Promise<NewMerchantCredentials> {
  const merchantId = newId('mch', now)
  const webhookSecret = newWebhookSecret()
  const test = { key_id: newKeyId('test'), secret: newApiSecret('test') }
  const live = { key_id: newKeyId('live'), secret: newApiSecret('live') }
  await store.create(
    { id: merchantId, name: input.name, webhookUrl: input.webhookUrl, webhookSecretEnc: box.encrypt(webhookSecret), createdAt: now },
    [
      { id: test.key_id, merchantId, mode: 'test', secretHash: sha256Hex(test.secret), secretEnc: box.encrypt(test.secret), revokedAt: null },
      { id: live.key_id, merchantId, mode: 'live', secretHash: sha256Hex(live.secret), secretEnc: box.encrypt(live.secret), revokedAt: null },
    ],
  )
  return { merchant_id: merchantId, name: input.name, webhook_url: input.webhookUrl, test, live, webhook_secret: webhookSecret }
}
