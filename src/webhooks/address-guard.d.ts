import type { LookupFunction } from 'node:net'

/** Parses an IPv6 address (with optional embedded dotted IPv4 and zone) into 16 bytes; null if invalid. */
export function ipv6Bytes(ip: string): number[] | null
/** True for addresses a merchant's public endpoint must never resolve to. */
export function isForbiddenAddress(ip: string): boolean
/** A dns.lookup for outgoing connections that fails when any answer is an internal address. */
export const guardedLookup: LookupFunction
