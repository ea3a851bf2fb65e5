// The one HTTP client channel adapters use: fetch with a hard timeout, the raw response text kept (channels
// sign exact bytes), and every failure classified as retryable and outcome-unknown or not.
import { ChannelError } from '../core/payment-channel.ts'

export interface ChannelHttpRequest {
  method: 'GET' | 'POST'
  url: string
  headers: Record<string, string>
  body?: string
  timeoutMs: number
  /** Follow redirects (a file download from a storage host); API calls never do, and a redirect is an error. */
  followRedirects?: boolean
}

export interface ChannelHttpResponse {
  status: number
  headers: Headers
  /** The body decoded as UTF-8 (a leading byte order mark dropped, as fetch's text() does). */
  text: string
  /** The body as sent, for digests over its exact bytes (a stand-in fetch may leave it out). */
  bytes?: Buffer
}

export type ChannelFetch = (req: ChannelHttpRequest) => Promise<ChannelHttpResponse>

const utf8 = new TextDecoder()

/** No answer came back at all (refused, reset, timed out): what the channel did, if anything, is unknown. */
export class ChannelUnreachable extends ChannelError {
  constructor(message: string) {
    super(message, true, true)
  }
}

/**
 * What went wrong, in words an operator can act on: fetch's own message is "fetch failed" for every network
 * error, and what happened (ECONNREFUSED, ENOTFOUND, a certificate not trusted) is in its cause.
 */
function failureOf(err: Error): string {
  const cause = err.cause as (Error & { code?: string }) | undefined
  if (!(cause instanceof Error)) return err.message
  return `${err.message}: ${cause.code && !cause.message.includes(cause.code) ? `${cause.code} ` : ''}${cause.message}`
}

export const channelFetch: ChannelFetch = async (req) => {
  let res: Response
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(req.timeoutMs),
      redirect: req.followRedirects ? 'follow' : 'error',
    })
  } catch (err) {
    // A request that may have reached the channel (timeout, reset) could have acted there: only asking tells.
    const reason = (err as Error).name === 'TimeoutError' ? `timed out after ${req.timeoutMs} ms` : failureOf(err as Error)
    throw new ChannelUnreachable(`${req.method} ${new URL(req.url).pathname}: ${reason}`)
  }
  let bytes: Buffer
  try {
    bytes = Buffer.from(await res.arrayBuffer())
  } catch (err) {
    throw new ChannelError(`${req.method} ${new URL(req.url).pathname}: reading the response failed: ${(err as Error).message}`, true, true)
  }
  return { status: res.status, headers: res.headers, text: utf8.decode(bytes), bytes }
}
