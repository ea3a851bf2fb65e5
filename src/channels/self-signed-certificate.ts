// Makes RSA key pairs and self-signed X.509 v3 certificates for the channel simulators, with node:crypto
// alone (Node can read certificates but not write them): a minimal DER encoder for exactly what is needed.
import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body])
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items))
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items))
const integer = (bytes: Buffer) => tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes)
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'))
const nul = () => Buffer.from([0x05, 0x00])

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number)
  const out = [parts[0]! * 40 + parts[1]!]
  for (const p of parts.slice(2)) {
    const chunk: number[] = []
    let v = p
    do {
      chunk.unshift(v & 0x7f)
      v = Math.floor(v / 128)
    } while (v > 0)
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80
    out.push(...chunk)
  }
  return tlv(0x06, Buffer.from(out))
}

function utcTime(ms: number): Buffer {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  const text = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`
  return tlv(0x17, Buffer.from(text, 'ascii'))
}

function name(attrs: Record<string, string>): Buffer {
  const OIDS: Record<string, string> = { C: '2.5.4.6', O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3' }
  return seq(...Object.entries(attrs).map(([k, v]) => set(seq(oid(OIDS[k]!), utf8(v)))))
}

export interface IssuedCertificate {
  privateKey: KeyObject
  privateKeyPem: string
  publicKeyPem: string
  certificatePem: string
  /** Upper-case hex, as WeChat writes certificate serials. */
  serial: string
}

export function generateRsaKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
}

/** A self-signed certificate for `subject`, valid from a day ago for `years` years, with a 20-byte serial. */
export function selfSignedCertificate(subject: Record<string, string>, years = 5, keys = generateRsaKeyPair()): IssuedCertificate {
  const serialBytes = randomBytes(20)
  serialBytes[0] = (serialBytes[0]! & 0x7f) | 0x10
  const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), nul())
  const now = Date.now()
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' })
  const dn = name(subject)
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serialBytes),
    sha256WithRsa,
    dn,
    seq(utcTime(now - 86_400_000), utcTime(now + years * 365 * 86_400_000)),
    dn,
    spki,
  )
  const signature = createSign('RSA-SHA256').update(tbs).sign(keys.privateKey)
  const der = seq(tbs, sha256WithRsa, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')
  return {
    privateKey: keys.privateKey,
    privateKeyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    certificatePem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    serial: serialBytes.toString('hex').toUpperCase(),
  }
}
