// The production guard against merchant URLs that reach internal addresses.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkEndpoint, isForbiddenAddress, isObviouslyInternal } from './endpoint-guard.ts'

describe('endpoint guard', () => {
  it('forbids loopback, private, link-local and unspecified addresses', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1']) {
      assert.ok(isForbiddenAddress(ip), ip)
    }
    for (const ip of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '2606:4700::1111']) assert.ok(!isForbiddenAddress(ip), ip)
  })

  it('spots internal hosts in URLs without DNS', () => {
    assert.ok(isObviouslyInternal(new URL('http://localhost:3000/x')))
    assert.ok(isObviouslyInternal(new URL('http://[::1]/x')))
    assert.ok(isObviouslyInternal(new URL('http://10.0.0.5/x')))
    assert.ok(!isObviouslyInternal(new URL('https://shop.example/hooks')))
  })

  it('refuses URLs that resolve to internal addresses', async () => {
    assert.match((await checkEndpoint('http://127.0.0.1:9/x')) ?? '', /internal/)
    assert.match((await checkEndpoint('not a url')) ?? '', /valid URL/)
  })
})
