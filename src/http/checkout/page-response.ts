// Sends customer-facing HTML with the security headers every page carries: a per-response CSP nonce, no caching.
import { randomBytes } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import type { SafeHtml } from './html.ts'

/** A fresh nonce per response, so an injected <script> or <style> without it never runs. */
export function newNonce(): string {
  return randomBytes(18).toString('base64')
}

export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

export function sendPage(reply: FastifyReply, status: number, nonce: string, page: SafeHtml): FastifyReply {
  return reply
    .code(status)
    .headers({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': contentSecurityPolicy(nonce),
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      // The same URL answers in the language the browser asks for.
      vary: 'Accept-Language',
    })
    .send(page.toString())
}
