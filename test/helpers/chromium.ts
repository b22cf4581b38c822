import { chromium, type Browser } from 'playwright-core'

/** Debian's Chromium (package chromium), which playwright-core drives: no browser download. */
export const CHROMIUM = '/usr/bin/chromium'

/**
 * Headless Chromium as this machine runs it: without the background-networking flags it keeps
 * trying to reach Google's hosts through a closed network.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
