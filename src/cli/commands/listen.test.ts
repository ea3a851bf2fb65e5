// The development webhook listener's verification agrees with the Standard Webhooks example.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { verifyDelivery } from './listen.ts'

it('verifies the specification example and refuses a changed body or an old timestamp', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
  const headers = { 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' }
  assert.equal(verifyDelivery(secret, headers, '{"test": 2432232314}', 1614265330), null)
  assert.match(verifyDelivery(secret, headers, '{"test":2432232314}', 1614265330) ?? '', /does not match/)
  assert.match(verifyDelivery(secret, headers, '{"test": 2432232314}', 1614265330 + 301) ?? '', /tolerance/)
  assert.match(verifyDelivery(secret, {}, '', 0) ?? '', /missing/)
})
