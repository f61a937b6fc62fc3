/**
 * Debian's Chromium for the browser suites (Playwright never downloads a browser here): where it is,
 * how it is launched, the skip-or-fail rule when it is missing, and the screenshots folder.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT } from './peep.js';

export const CHROMIUM = process.env.PEEP_CHROMIUM_PATH ?? '/usr/bin/chromium';
export const RESULTS = path.join(ROOT, 'dashboard/e2e/test-results');

/** False (and the test skipped, or failed under CI=true) when Chromium is not installed. */
export function haveChromium(t: TestContext): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  const reason = `Chromium not found at ${CHROMIUM} (set PEEP_CHROMIUM_PATH)`;
  if (process.env.CI === 'true') assert.fail(`${reason}; the browser suite is required under CI`);
  t.skip(reason);
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** A full-page screenshot named after the step, in `dashboard/e2e/test-results/`. */
export async function shot(page: Page, step: string) {
  fs.mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS, `${step}.png`), fullPage: true });
}

export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/**
 * A browser context with one page whose script errors and console errors are collected (a suite
 * asserts at the end that there were none it did not expect).
 */
export async function openPage(browser: Browser, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  return { context, page, consoleErrors };
}

/**
 * Steps of one suite that share a browser session: once one fails (screenshot `<prefix>failed-<name>`),
 * the rest are skipped rather than failing noisily.
 */
export function stepper(t: TestContext, page: Page, prefix = '') {
  let broken = false;
  return async (name: string, fn: (st: TestContext) => Promise<void>) => {
    if (broken) return t.test(name, { skip: 'an earlier step failed' }, () => {});
    return t.test(name, async (st) => {
      try {
        await fn(st);
      } catch (e) {
        broken = true;
        await shot(page, `${prefix}failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => {});
        throw e;
      }
    });
  };
}
