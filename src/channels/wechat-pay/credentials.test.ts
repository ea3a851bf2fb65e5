import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { wechatCertificateNotes } from './credentials.ts'

// The official wechatpay-java test certificates: the merchant's ends on 2025-05-09, the platform's too.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
const doc = { merchant_certificate: fixture('wxjava_merchant_certificate.pem'), wechatpay_certificates: [fixture('wxjava_wechat_pay_certificate.pem')] }

describe('wechatCertificateNotes', () => {
  it('says nothing of certificates far from their end', () => {
    assert.deepEqual(wechatCertificateNotes(doc, Date.parse('2024-01-01T00:00:00Z')), [])
  })

  it('says when a certificate ends within 30 days, and when one has ended', () => {
    assert.deepEqual(wechatCertificateNotes(doc, Date.parse('2025-04-20T00:00:00Z')), [
      'merchant_certificate ends on 2025-05-09: replace it before then',
      'wechatpay_certificates[0] ends on 2025-05-09: replace it before then',
    ])
    assert.deepEqual(wechatCertificateNotes({ merchant_certificate: doc.merchant_certificate }, Date.parse('2026-11-28T00:00:00Z')), [
      'merchant_certificate ended on 2025-05-09: WeChat Pay refuses what is signed under it; replace it',
    ])
  })

  it('leaves a certificate that does not parse to the credentials check', () => {
    assert.deepEqual(wechatCertificateNotes({ merchant_certificate: 'not a certificate' }, Date.now()), [])
  })
})
