// Debian's Chromium for the browser tests: where it is, whether the suite may skip without it, how to start it.
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
const available = existsSync(CHROMIUM)
if (!available && process.env.CI === 'true') throw new Error(`CI needs Chromium at ${CHROMIUM} for the browser tests`)

/** A `describe` skip reason when Chromium is missing (outside CI), else false. */
export const skipWithoutChromium: string | false = available
  ? false
  : `no Chromium at ${CHROMIUM}; install Debian's chromium package to run the browser tests`

/** Headless Chromium with the flags this closed network needs (no background connections, no sandbox as root). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
}

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
