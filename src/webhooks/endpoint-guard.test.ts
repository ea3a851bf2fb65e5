// The production guard against merchant URLs that reach internal addresses.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkEndpoint, guardedLookup, ipv6Bytes, isForbiddenAddress, isObviouslyInternal } from './endpoint-guard.ts'

describe('endpoint guard', () => {
  it('forbids loopback, private, link-local, unspecified and multicast addresses', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00::1', 'ff02::1']) {
      assert.ok(isForbiddenAddress(ip), ip)
    }
    for (const ip of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '2606:4700::1111', '2400:3200::1', '2001:4860:4860::8888']) assert.ok(!isForbiddenAddress(ip), ip)
  })

  it('allows in IPv6 only global unicast, and in IPv4 nothing special-purpose', () => {
    // Site-local, local-use NAT64 (may reach 169.254.169.254), SIIT, discard, Teredo, other 2001::/23, documentation.
    for (const ip of ['fec0::1', '64:ff9b:1::a9fe:a9fe', '::ffff:0:7f00:1', '100::1', '2001::1', '2001:2::1', '2001:db8::1', '4000::1']) {
      assert.ok(isForbiddenAddress(ip), ip)
    }
    for (const ip of ['192.0.0.8', '192.0.2.1', '198.51.100.7', '203.0.113.9', '2002:c000:0201::1']) assert.ok(isForbiddenAddress(ip), ip)
    assert.ok(!isForbiddenAddress('192.0.3.1'))
  })

  it('sees internal IPv4 addresses inside every IPv6 spelling', () => {
    for (const ip of ['::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '::7f00:1', '::127.0.0.1', '64:ff9b::7f00:1', '64:ff9b::10.0.0.1', '2002:7f00:1::1', '0:0:0:0:0:ffff:c0a8:0101']) {
      assert.ok(isForbiddenAddress(ip), ip)
    }
    assert.ok(!isForbiddenAddress('::ffff:8.8.8.8'))
  })

  it('parses IPv6 into bytes and refuses malformed text', () => {
    assert.deepEqual(ipv6Bytes('::1'), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert.deepEqual(ipv6Bytes('::ffff:1.2.3.4')!.slice(10), [255, 255, 1, 2, 3, 4])
    for (const bad of ['1::2::3', 'gggg::1', '1:2:3:4:5:6:7:8:9']) assert.equal(ipv6Bytes(bad), null, bad)
  })

  it('spots internal hosts in URLs without DNS, including what URL parsing rewrites', () => {
    for (const u of ['http://localhost:3000/x', 'http://[::1]/x', 'http://10.0.0.5/x', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:169.254.169.254]/latest', 'http://2130706433/', 'http://0x7f.1/', 'http://localhost./x', 'http://foo.localhost./', 'http://metadata.google.internal./']) {
      assert.ok(isObviouslyInternal(new URL(u)), u)
    }
    assert.ok(!isObviouslyInternal(new URL('https://shop.example/hooks')))
    assert.match(checkEndpoint('http://[::ffff:127.0.0.1]:8080/x') ?? '', /internal/)
    assert.match(checkEndpoint('not a url') ?? '', /valid URL/)
    assert.match(checkEndpoint('file:///etc/passwd') ?? '', /http/)
  })

  it('refuses at connect time a name that resolves to an internal address', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => guardedLookup('localhost', { all: true }, (e) => resolve(e)))
    assert.equal(err?.code, 'EINTERNALADDRESS')
  })
})
