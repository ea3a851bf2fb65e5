// Authenticates a /v1 request: a Bearer secret, or an HMAC-signed request with a timestamp window and a
// nonce replay guard shared by every node through the database. Also applies the per-key rate limit.
import type { FastifyRequest } from 'fastify'
import { NONCE_PATTERN, parseAuthorization } from '../../../sdk/src/signing.ts'
import { AppError } from '../../core/errors.ts'
import type { ApiKey, MerchantDirectory } from '../../merchants/merchant-directory.ts'
import { HmacSha256Key } from '../../security/hmac-sha256.ts'
import type { WriteGuard } from '../../core/ports.ts'
import type { SqlNonceStore } from '../../storage/nonce-store.ts'
import type { RateLimiter } from './rate-limiter.ts'

export const TIMESTAMP_WINDOW_S = 300
export const NONCE_TTL_MS = 15 * 60 * 1000

/** In whole seconds, as the timestamp is written: 300 s either side of the server's clock is inside, 301 is not. */
export function insideTimestampWindow(timestampS: number, nowMs: number): boolean {
  return Math.abs(timestampS - Math.floor(nowMs / 1000)) <= TIMESTAMP_WINDOW_S
}

export interface AuthDeps {
  directory: MerchantDirectory
  nonces: SqlNonceStore
  rateLimiter: RateLimiter
  now(): number
}

function invalid(code: 'authentication_invalid' | 'signature_invalid' | 'timestamp_out_of_window' | 'nonce_reused', message: string): AppError {
  return new AppError(code, message)
}

export interface Authenticated {
  key: ApiKey
  /** A signed request's nonce claim when it was deferred (see authenticate); null when none is outstanding. */
  claim: NonceClaim | null
}

const nonceReused = () => invalid('nonce_reused', 'this nonce was already used with this key in the last 15 minutes')

/**
 * A signed request's nonce claim, deferred so that it shares a commit with the order insert it guards (a
 * WriteGuard: the insert runs only if the claim changed a row). Whatever else answers the request claims first.
 */
export class NonceClaim implements WriteGuard {
  #made = false

  constructor(
    private readonly nonces: SqlNonceStore,
    private readonly keyId: string,
    private readonly nonce: string,
    private readonly now: number,
  ) {}

  take(): unknown {
    this.#made = true
    return this.nonces.claimStatement(this.keyId, this.nonce, this.now, NONCE_TTL_MS)
  }

  refused(): Error {
    return nonceReused()
  }

  /** Claims now unless a write took the claim: every answer to a signed request comes after its claim. */
  async settle(): Promise<void> {
    if (this.#made) return
    this.#made = true
    if (!(await this.nonces.claim(this.keyId, this.nonce, this.now, NONCE_TTL_MS))) throw nonceReused()
  }
}

/** A request without an Authorization header. */
export function noCredentials(): AppError {
  return new AppError('authentication_required', 'send Authorization: Bearer sk_… or a SCANPAY-HMAC-SHA256 signature')
}

/**
 * With deferClaim, a signed request's nonce is not claimed here: the caller gets the claim, and must either
 * hand it to the write it guards or settle() it before answering. Otherwise the claim is made before this returns.
 */
export async function authenticate(deps: AuthDeps, req: FastifyRequest, deferClaim = false): Promise<Authenticated> {
  const header = req.headers.authorization
  if (!header) throw noCredentials()
  // The scheme in any case, as HTTP has it: `bearer sk_…` is Bearer too.
  if (header.startsWith('Bearer ') || /^bearer /i.test(header)) return { key: await bearer(deps, header.slice(7).trim()), claim: null }
  return signed(deps, req, header, deferClaim)
}

/** What was sent in place of an API secret, when it is another of the merchant's credentials. */
function mistakenCredential(secret: string): string {
  if (/^key_(test|live)_/.test(secret)) return ': that is a key id (key_…), which signs requests; Bearer takes its secret (sk_…)'
  if (secret.startsWith('whsec_')) return ': that is the webhook signing secret (whsec_…); Bearer takes an API secret (sk_…)'
  return ''
}

async function bearer(deps: AuthDeps, secret: string): Promise<ApiKey> {
  if (!/^sk_(test|live)_[A-Za-z0-9_-]{20,100}$/.test(secret)) throw invalid('authentication_invalid', `the API secret is not valid${mistakenCredential(secret)}`)
  const key = await deps.directory.keyBySecret(secret, deps.now())
  if (!key) throw invalid('authentication_invalid', 'the API secret is not valid')
  deps.rateLimiter.take(key.keyId)
  return key
}

async function signed(deps: AuthDeps, req: FastifyRequest, header: string, deferClaim: boolean): Promise<Authenticated> {
  const auth = parseAuthorization(header)
  if (!auth) throw invalid('authentication_invalid', 'the Authorization header is neither Bearer nor a well-formed SCANPAY-HMAC-SHA256 signature')
  if (!NONCE_PATTERN.test(auth.nonce)) throw invalid('authentication_invalid', 'the nonce must be 16-64 characters of A-Z a-z 0-9 _ -')
  if (!/^\d{1,12}$/.test(auth.timestamp)) throw invalid('authentication_invalid', 'the timestamp must be unix seconds')
  const nowMs = deps.now()
  if (!insideTimestampWindow(Number(auth.timestamp), nowMs)) {
    throw invalid('timestamp_out_of_window', `the timestamp is more than ${TIMESTAMP_WINDOW_S} s from the server's clock`)
  }
  const key = await deps.directory.keyById(auth.keyId, nowMs)
  if (!key) throw invalid('authentication_invalid', 'unknown key_id')
  // The canonical request of the contract (sdk signRequest), in pieces: METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nBODY\n
  const signingKey = key.signingKey ?? new HmacSha256Key(key.secret)
  if (!signingKey.verifyBase64([`${req.method}\n${req.url}\n${auth.timestamp}\n${auth.nonce}\n`, req.rawBody ?? '', '\n'], auth.signature)) {
    throw invalid('signature_invalid', 'the signature does not match: sign METHOD\\nPATH_AND_QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n with the secret')
  }
  // Rate limiting comes before the nonce claim, so a refused request writes nothing. Only a correctly signed
  // request consumes its nonce, so nobody can burn another merchant's nonces.
  deps.rateLimiter.take(key.keyId)
  const claim = new NonceClaim(deps.nonces, key.keyId, auth.nonce, nowMs)
  if (deferClaim) return { key, claim }
  await claim.settle()
  return { key, claim: null }
}
