// Sends customer-facing HTML with the security headers every page carries: a CSP that allows only our own
// stylesheet and script, no caching.
import { createHash } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import { CHECKOUT_SCRIPT } from './checkout-script.min.ts'
import type { SafeHtml } from './html.ts'
import { CSS, NOSCRIPT_CSS } from './layout.ts'

/** The CSP source allowing exactly one inline text: an injected <script> or <style> with other content never runs. */
export function sourceHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`
}

// Hashes rather than a nonce per response: the same protection (nothing but these fixed texts runs or
// applies), and a page's bytes no longer change per response, so they can be rendered once and reused.
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${sourceHash(CHECKOUT_SCRIPT)}`,
  `style-src ${sourceHash(CSS)} ${sourceHash(NOSCRIPT_CSS)}`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')

export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  // The same URL answers in the language the browser asks for.
  vary: 'Accept-Language',
} as const

export function sendPage(reply: FastifyReply, status: number, page: SafeHtml | Buffer): FastifyReply {
  return reply
    .code(status)
    .headers(PAGE_HEADERS)
    .send(Buffer.isBuffer(page) ? page : page.toString())
}
