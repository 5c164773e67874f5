// browser.mjs: launches Debian's chromium through playwright-core for the
// browser suites, with a fresh profile each time, and records what a page
// reports (console errors, uncaught exceptions, CSP violations).
import { chromium } from 'playwright-core';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TOP, tempDir } from './stack.mjs';

export const CHROMIUM = process.env.MESHSCOPE_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(TOP, 'tests', 'artifacts');

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 360, height: 740 };

// A persistent context on a new temporary profile: nothing leaks between runs.
export async function launchBrowser({ viewport = DESKTOP, colorScheme = 'light', reducedMotion } = {}) {
  const profile = tempDir('meshscope-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport,
    colorScheme,
    reducedMotion,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Opens a page that collects problems the tests assert are absent.
export async function openPage(context, url) {
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // A failed fetch logs "Failed to load resource"; the tests provoke those on purpose.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  if (url) await page.goto(url);
  return { page, problems };
}

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}
