// The banner and dashboard in chromium against the REAL stack (supervisord,
// nginx, the responder pool and the worker): a backfill the worker really
// runs, a failed migration the responders really report, and screenshots at
// desktop and phone widths in tests/artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { startStack, tempDir, waitFor, TOP, BINDIR } from '../lib/stack.mjs';
import { launchBrowser, openPage, artifactPath, DESKTOP, PHONE } from '../lib/browser.mjs';

const BACKFILL = 'tx_last_seen_backfill_v1';

function genDemoDb(db, transmissions, observations) {
  execFileSync(path.join(TOP, 'scripts', 'gen-demo-db'), [db, '--transmissions', String(transmissions),
    '--observations', String(observations)], { stdio: 'ignore' });
}

// Rows done and total from the banner's running line, or null when absent.
async function bannerProgress(page) {
  const text = await page.evaluate((name) => {
    const b = document.getElementById('warmup-banner');
    if (!b || b.hidden) return null;
    const line = [...b.querySelectorAll('.warmup-line--running')].find((li) => li.dataset.name === name);
    return line ? line.querySelector('.warmup-text').textContent : null;
  }, BACKFILL);
  if (text === null) return null;
  const m = text.match(/^Migration (\S+): ([\d,]+) \/ ([\d,]+) rows( \(ETA [^)]+\))?$/);
  assert.ok(m, `running line has the banner's format: ${JSON.stringify(text)}`);
  return { text, done: Number(m[2].replace(/,/g, '')), total: Number(m[3].replace(/,/g, '')) };
}

async function healthz(stack) {
  const res = await fetch(`${stack.url}/api/healthz`);
  return { status: res.status, body: await res.json() };
}

async function cspViolations(page) {
  return page.evaluate(() => window.__csp);
}

async function watchCsp(page) {
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective));
  });
}

test('while a backfill runs the banner shows within 3 s, its numbers advance, and it goes away when done', async (t) => {
  const dir = tempDir('meshscope-e2e-');
  const db = path.join(dir, 'demo.db');
  genDemoDb(db, 20000, 120000);
  // Small fixed batches with a pause between them stretch the backfill over
  // many seconds, so the page sees it in flight.
  const stack = await startStack({ db, workerArgs: '--batch-size 100 --yield-ms 100' });
  const desktop = await launchBrowser({ viewport: DESKTOP });
  const phone = await launchBrowser({ viewport: PHONE, colorScheme: 'dark' });
  t.after(async () => {
    await desktop.close();
    await phone.close();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const h = await waitFor(async () => {
    const r = await healthz(stack);
    return r.body.ready === true ? r.body : null;
  }, { what: 'ready:true' });
  const m = h.async_migrations?.find((x) => x.name === BACKFILL);
  assert.equal(m?.status, 'running', `the backfill should still be running when the page opens: ${JSON.stringify(h)}`);

  const { page, problems } = await openPage(desktop.context);
  await watchCsp(page);
  const loadStart = Date.now();
  await page.goto(stack.url + '/');
  const first = await waitFor(() => bannerProgress(page), { timeoutMs: 3000, intervalMs: 25,
    what: 'the banner within 3 s of page load' });
  const appearedMs = Date.now() - loadStart;
  t.diagnostic(`banner appeared ${appearedMs} ms after navigation: ${first.text}`);
  assert.ok(first.total > 0, 'a known total');

  // The numbers advance across polls while the total stays put.
  const seen = [first.done];
  await waitFor(async () => {
    const p = await bannerProgress(page);
    if (p === null) return false;
    assert.equal(p.total, first.total, 'rowsTotal is fixed for the run');
    if (p.done !== seen[seen.length - 1]) {
      assert.ok(p.done > seen[seen.length - 1], `progress never goes back: ${seen} then ${p.done}`);
      seen.push(p.done);
    }
    return seen.length >= 3;
  }, { timeoutMs: 20000, intervalMs: 200, what: 'the banner numbers to advance twice' });
  t.diagnostic(`rows done seen: ${seen.join(' -> ')} of ${first.total}`);
  const bar = await page.evaluate((name) => {
    const line = [...document.querySelectorAll('#warmup-banner .warmup-line--running')]
      .find((li) => li.dataset.name === name);
    const p = line.querySelector('progress');
    return { value: p.value, max: p.max };
  }, BACKFILL);
  assert.equal(bar.max, first.total);
  assert.ok(bar.value >= first.done && bar.value <= bar.max, `progress bar ${JSON.stringify(bar)}`);

  await page.screenshot({ path: artifactPath('backfill-running-desktop.png'), fullPage: true });
  const mobile = await openPage(phone.context);
  await mobile.page.goto(stack.url + '/');
  await waitFor(() => bannerProgress(mobile.page), { timeoutMs: 3000, what: 'the banner at 360 px' });
  await mobile.page.screenshot({ path: artifactPath('backfill-running-360-dark.png'), fullPage: true });
  await mobile.page.screenshot({ path: artifactPath('backfill-running-360-dark-first-screen.png') });

  // When the backfill completes the banner goes away on its own and the
  // migrations panel lists it as done with its duration.
  await waitFor(() => page.evaluate(() => document.getElementById('warmup-banner').hidden),
    { timeoutMs: 120000, intervalMs: 250, what: 'the banner to go away after the backfill' });
  const done = await healthz(stack);
  assert.equal(done.body.async_migrations.find((x) => x.name === BACKFILL).status, 'done');
  await waitFor(() => page.evaluate((name) => {
    const li = [...document.querySelectorAll('.migration')].find((x) => x.dataset.name === name);
    return li && li.classList.contains('migration--done') && /Duration\d/.test(li.textContent);
  }, BACKFILL), { timeoutMs: 10000, what: 'the migrations panel to show the backfill done with a duration' });

  // The quiet dashboard: live totals and a packets table whose last seen is filled in.
  // Every packet with observations has its last seen filled in; the orphans
  // gen-demo-db makes (every 40th id) show none and are not called pending.
  await waitFor(() => page.evaluate(() => {
    const rows = [...document.querySelectorAll('table.packets tbody tr')];
    return rows.length > 0 && rows.every((r) => {
      const last = r.querySelector('td.col-4').textContent;
      const observed = r.querySelector('td.col-5').textContent !== '0';
      return observed ? /^\d{4}-\d{2}-\d{2} /.test(last) : last === '\u2014';
    });
  }), { timeoutMs: 10000, what: 'packets with last seen filled in' });
  const cards = await page.$$eval('.card', (cs) => cs.map((c) => c.textContent));
  assert.ok(cards.includes('20,000Transmissions'), `totals: ${cards}`);
  assert.ok(cards.includes('120,000Observations'), `totals: ${cards}`);
  assert.equal(await page.$$eval('table.packets tbody tr', (rs) => rs.length), 25);
  const firstId = await page.$eval('table.packets td.col-0', (td) => Number(td.textContent));
  assert.equal(firstId, 20000, 'newest first');
  await page.click('#packets-older');
  await waitFor(async () => (await page.$eval('table.packets td.col-0', (td) => Number(td.textContent))) === 19975,
    { what: 'the older page' });
  await page.click('#packets-newer');
  await waitFor(async () => (await page.$eval('table.packets td.col-0', (td) => Number(td.textContent))) === 20000,
    { what: 'back to the newest page' });

  await page.screenshot({ path: artifactPath('dashboard-quiet-desktop.png'), fullPage: true });
  await waitFor(() => mobile.page.evaluate(() => document.getElementById('warmup-banner').hidden &&
    document.querySelectorAll('table.packets tbody tr').length > 0), { timeoutMs: 35000, what: 'the quiet page at 360 px' });
  await mobile.page.screenshot({ path: artifactPath('dashboard-quiet-360-dark.png'), fullPage: true });
  const width = await mobile.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `no sideways scrolling at 360 px (page is ${width}px wide)`);

  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(problems, []);
  assert.deepEqual(mobile.problems, []);
});

test('a failed migration shows its error as literal text and × hides it', async (t) => {
  const dir = tempDir('meshscope-e2e-');
  const db = path.join(dir, 'done.db');
  genDemoDb(db, 300, 2000);
  // A database whose backfill is done, plus a failed migration the worker
  // does not know (so it is not re-run) with markup in its error.
  execFileSync(path.join(BINDIR, 'worker', 'meshscope-worker'), ['--db', db, '--run-once'], { stdio: 'ignore' });
  const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>UNIQUE constraint failed';
  execFileSync('sqlite3', [db, "INSERT INTO _async_migrations(name, status, started_at, ended_at, error) VALUES " +
    `('zz_broken_v1', 'failed', datetime('now', '-1 minute'), datetime('now'), '${evil.replace(/'/g, "''")}')`]);
  const stack = await startStack({ db });
  const desktop = await launchBrowser({ viewport: DESKTOP });
  const phone = await launchBrowser({ viewport: PHONE });
  t.after(async () => {
    await desktop.close();
    await phone.close();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const { page, problems } = await openPage(desktop.context);
  await watchCsp(page);
  await page.goto(stack.url + '/');
  const want = `Migration zz_broken_v1 FAILED: ${evil}`;
  const lineText = () => page.evaluate(() => {
    const line = document.querySelector('#warmup-banner:not([hidden]) .warmup-line--failed .warmup-text');
    return line ? line.textContent : null;
  });
  await waitFor(async () => (await lineText()) === want, { timeoutMs: 3000, what: 'the failed line' });
  await waitFor(() => page.evaluate(() => document.querySelector('.migration-error') !== null),
    { what: 'the failed migration in the panel' });
  const markup = await page.evaluate(() => ({
    elements: document.querySelectorAll('img, script:not([src])').length,
    pwned: window.__pwned,
    panel: document.querySelector('.migration-error').textContent,
  }));
  assert.deepEqual(markup, { elements: 0, pwned: undefined, panel: evil });
  await page.screenshot({ path: artifactPath('migration-failed-desktop.png'), fullPage: true });

  const mobile = await openPage(phone.context);
  await mobile.page.goto(stack.url + '/');
  await waitFor(() => mobile.page.evaluate(() => document.querySelector('.warmup-line--failed') !== null &&
    document.querySelector('.migration-error') !== null), { what: 'the failed line at 360 px' });
  await mobile.page.screenshot({ path: artifactPath('migration-failed-360.png'), fullPage: true });
  await mobile.page.screenshot({ path: artifactPath('migration-failed-360-first-screen.png') });

  const button = page.getByRole('button', { name: 'Dismiss failed migration zz_broken_v1' });
  await button.focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.getElementById('warmup-banner').hidden), true);
  // The failure is still in the panel: × hides the banner line, not the record.
  assert.equal(await page.evaluate(() => document.querySelector('.migration--failed') !== null), true);

  // The dismissal is in memory only: a reload shows the line again.
  await page.reload();
  await waitFor(async () => (await lineText()) === want, { timeoutMs: 3000, what: 'the failed line after reload' });

  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(problems, []);
});
