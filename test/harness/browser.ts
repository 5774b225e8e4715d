import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** Debian's chromium, for the checks that a dashboard renders in a real browser (.ci/run installs it). */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/chromium-headless-shell'].find(
  (p) => existsSync(p),
);

/** Whether the browser checks run: where chromium is installed, and always under CI (which must have it). */
export const BROWSER_CHECKS = CHROMIUM !== undefined || Boolean(process.env['CI']);

/**
 * Opens `url` in headless Chromium and hands the page to `use`, then closes the browser. Call it only where
 * {@link BROWSER_CHECKS} holds: under CI a missing chromium fails the test with the package to install.
 */
export async function inChromium(
  url: string,
  use: (page: Page) => Promise<void>,
  options: { readonly viewport?: { width: number; height: number } } = {},
): Promise<void> {
  expect(CHROMIUM, 'no chromium binary: .ci/run installs the Debian package chromium').toBeDefined();
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage(options.viewport ? { viewport: options.viewport } : {});
    await page.goto(url);
    await use(page);
  } finally {
    await browser.close();
  }
}
