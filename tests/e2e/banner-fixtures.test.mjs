// The banner and dashboard in chromium against canned API answers, for the
// states the real stack reaches rarely or slowly: 503 "starting up", network
// errors, the 30-second steady-state poll, the 10-minute auto-dismiss (under a
// fake page clock), and keyset paging of the packets table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startFixtureServer } from '../lib/fixture-server.mjs';
import { launchBrowser, openPage, PHONE } from '../lib/browser.mjs';
import { TOP, waitFor } from '../lib/stack.mjs';

const NAME = 'tx_last_seen_backfill_v1';
const MIN = 60 * 1000;
const sqliteTime = (ms) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
const running = (rows, over = {}) => ({
  name: NAME, status: 'running', startedAt: '2025-10-09 11:59:00', rowsProcessed: rows, rowsTotal: 71000,
  elapsedSec: 6, ratePerSec: 2000, etaSec: (71000 - rows) / 2000, stalled: false, ...over,
});
const failed = (over = {}) => ({
  name: NAME, status: 'failed', startedAt: '2025-10-09 11:50:00', endedAt: sqliteTime(Date.now()),
  rowsProcessed: 10, rowsTotal: 20, elapsedSec: 4, etaSec: 0, ratePerSec: 0, stalled: false,
  errorMessage: 'disk I/O error', ...over,
});
const ready = (migrations) => ({
  ready: true, async_migrations: migrations,
  async_migrations_running: migrations.some((m) => m.status === 'running'),
});

// What each endpoint answers now; tests replace entries as they go.
const state = {};
function resetState() {
  Object.assign(state, {
    healthz: { body: ready([]) },
    migrations: { body: [] },
    stats: { body: { transmissions: 71000, observations: 1500000, newestLastSeen: 1760000000 } },
    packets: (url) => {
      const before = Number(url.searchParams.get('before') || 71001);
      const limit = Number(url.searchParams.get('limit'));
      const packets = [];
      for (let id = before - 1; id > Math.max(0, before - 1 - limit); id--) {
        packets.push({ id, hash: id.toString(16).padStart(16, '0'), payloadType: id % 12,
          firstSeen: 1760000000 - id, lastSeen: id % 2 ? 1760000000 : 0, observations: id % 50 });
      }
      const last = packets[packets.length - 1]?.id;
      return { body: { packets, next: last > 1 ? last : null } };
    },
  });
}
resetState();

let server;
before(async () => {
  server = await startFixtureServer({
    '/api/healthz': () => state.healthz,
    '/api/perf/async-migrations': () => state.migrations,
    '/api/stats': () => state.stats,
    '/api/packets': (url) => state.packets(url),
  }, {
    '/bare.html': '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>bare</title>' +
      '<link rel="stylesheet" href="style.css"><script src="warmup-banner.js"></script></head>' +
      '<body><h1>A page with no banner container</h1></body></html>',
  });
});
after(async () => {
  await server?.close();
});

// Opens a fresh browser on `pathname`; collects CSP violations as well as errors.
async function withPage(pathname, fn, { clock, ...options } = {}) {
  resetState();
  fn.setup?.();
  const browser = await launchBrowser(options);
  try {
    const { page, problems } = await openPage(browser.context);
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective));
    });
    if (clock) await page.clock.install({ time: clock });
    await page.goto(server.url + pathname);
    await fn(page);
    assert.deepEqual(await page.evaluate(() => window.__csp), [], 'no CSP violations');
    assert.deepEqual(problems, [], 'no page errors');
  } finally {
    await browser.close();
  }
}

const bannerText = (page) => page.evaluate(() => {
  const b = document.getElementById('warmup-banner');
  return b && !b.hidden ? b.textContent : '';
});
const healthzRequests = () => server.requests.filter((r) => r.path === '/api/healthz').length;

test('the served HTML has no inline script or style', () => {
  const html = readFileSync(path.join(TOP, 'www', 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'every script has a src');
  assert.doesNotMatch(html, /<style/i);
  assert.doesNotMatch(html, /\sstyle=/i);
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
});

test('a running migration shows as a role=status live region with a progress bar that advances', async () => {
  await withPage('/', async (page) => {
    state.healthz = { body: ready([running(12000)]) };
    await page.reload();
    await waitFor(async () => (await bannerText(page)).includes('12,000 / 71,000 rows'), { what: 'the running line' });
    const banner = await page.evaluate(() => {
      const b = document.getElementById('warmup-banner');
      const bar = b.querySelector('progress');
      return { role: b.getAttribute('role'), live: b.getAttribute('aria-live'), text: b.querySelector('.warmup-text').textContent,
        value: bar.value, max: bar.max, label: bar.getAttribute('aria-label'), details: b.querySelector('.warmup-details').textContent };
    });
    assert.deepEqual(banner, { role: 'status', live: 'polite',
      text: `Migration ${NAME}: 12,000 / 71,000 rows (ETA 30s)`, value: 12000, max: 71000,
      label: `Progress of migration ${NAME}`, details: '16% \u00b7 2,000 rows/s' });

    state.healthz = { body: ready([running(50000)]) };
    const started = Date.now();
    await waitFor(async () => (await bannerText(page)).includes('50,000 / 71,000 rows (ETA 11s)'),
      { timeoutMs: 5000, what: 'the banner to follow the progress' });
    assert.ok(Date.now() - started < 4000, 'polled about every 2 s while running');
    assert.equal(await page.evaluate(() => document.querySelector('#warmup-banner progress').value), 50000);

    state.healthz = { body: ready([{ ...running(71000), status: 'done', endedAt: sqliteTime(Date.now()) }]) };
    await waitFor(async () => page.evaluate(() => document.getElementById('warmup-banner').hidden),
      { timeoutMs: 5000, what: 'the banner to go away once done' });
  });
});

test('a paused and a throttled migration read as the operator set them, and keep the banner up', async () => {
  await withPage('/', async (page) => {
    state.healthz = { body: { ...ready([running(12000, { status: 'paused', pauseReason: 'nightly backup',
      pausedAt: '2025-10-09T11:59:30Z', etaSec: 0, throttled: false })]), async_migrations_running: true } };
    await page.reload();
    await waitFor(async () => (await bannerText(page)).includes('paused'), { what: 'the paused line' });
    const paused = await page.evaluate(() => {
      const b = document.getElementById('warmup-banner');
      return { text: b.querySelector('.warmup-text').textContent, details: b.querySelector('.warmup-details').textContent,
        classes: b.querySelector('.warmup-line').className, hidden: b.hidden };
    });
    assert.deepEqual(paused, { text: `Migration ${NAME} paused (nightly backup): 12,000 / 71,000 rows`,
      details: '16% \u00b7 2,000 rows/s', classes: 'warmup-line warmup-line--running warmup-line--paused', hidden: false });

    state.healthz = { body: ready([running(20000, { throttled: true, throttleReason: 'WAL 70.2 MB not checkpointed (limit 64 MB)' })]) };
    await waitFor(async () => (await bannerText(page)).includes('throttled'), { timeoutMs: 5000, what: 'the throttled line' });
    const text = await page.evaluate(() => document.querySelector('#warmup-banner .warmup-text').textContent);
    assert.equal(text, `Migration ${NAME}: 20,000 / 71,000 rows (throttled: WAL 70.2 MB not checkpointed (limit 64 MB))`);
  });
});

test('a failed migration shows FAILED and its error as literal text; no markup is created or run', async () => {
  const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>';
  await withPage('/', async (page) => {
    state.healthz = { body: ready([failed({ errorMessage: evil })]) };
    state.migrations = { body: [failed({ errorMessage: evil })] };
    await page.reload();
    await waitFor(async () => (await bannerText(page)).includes('FAILED'), { what: 'the failed line' });
    await waitFor(() => page.evaluate(() => document.querySelector('.migration-error') !== null),
      { what: 'the migrations panel' });
    const seen = await page.evaluate(() => ({
      banner: document.querySelector('#warmup-banner .warmup-text').textContent,
      panel: document.querySelector('.migration-error').textContent,
      markup: document.querySelectorAll('#warmup-banner img, #warmup-banner script, #warmup-banner b, ' +
        '#migrations img, #migrations script, #migrations b').length,
      pwned: window.__pwned,
    }));
    assert.deepEqual(seen, { banner: `Migration ${NAME} FAILED: ${evil}`, panel: evil, markup: 0, pwned: undefined });
  });
});

test('the × button has an accessible label, works from the keyboard, and a reload brings the line back', async () => {
  await withPage('/', async (page) => {
    state.healthz = { body: ready([failed(), failed({ name: 'other_v2', errorMessage: 'boom' })]) };
    await page.reload();
    await waitFor(async () => (await bannerText(page)).includes('other_v2 FAILED: boom'), { what: 'two failed lines' });
    const labels = await page.$$eval('#warmup-banner button', (bs) => bs.map((b) => b.getAttribute('aria-label')));
    assert.deepEqual(labels, [`Dismiss failed migration ${NAME}`, 'Dismiss failed migration other_v2']);

    // Tab to the first ×: it is the first focusable element on the page.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')),
      `Dismiss failed migration ${NAME}`);
    await page.keyboard.press('Enter');
    assert.doesNotMatch(await bannerText(page), new RegExp(`${NAME} FAILED`));
    assert.match(await bannerText(page), /other_v2 FAILED: boom/);
    // Focus moved on to the remaining ×, which Space operates.
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')),
      'Dismiss failed migration other_v2');
    await page.keyboard.press('Space');
    assert.equal(await page.evaluate(() => document.getElementById('warmup-banner').hidden), true);

    // Still dismissed after the next poll; shown again after a reload.
    const after = await page.evaluate(() => Date.now());
    await page.clock.fastForward(30500);
    await waitFor(() => page.evaluate((t) => Number(document.getElementById('warmup-banner').dataset.renderedAt) > t,
      after), { what: 'a render after the next poll' });
    assert.equal(await page.evaluate(() => document.getElementById('warmup-banner').hidden), true);
    await page.reload();
    await waitFor(async () => (await bannerText(page)).includes(`${NAME} FAILED`), { what: 'the line after reload' });
  }, { clock: Date.now() });
});

test('keyboard focus on × survives the re-render as a running migration advances', async () => {
  await withPage('/', async (page) => {
    state.healthz = { body: ready([running(100, { name: 'b_running' }), failed()]) };
    await page.reload();
    await waitFor(async () => (await bannerText(page)).includes('100 / 71,000 rows'), { what: 'both lines' });
    await page.keyboard.press('Tab');
    const focused = () => page.evaluate(() => document.activeElement.getAttribute('aria-label'));
    assert.equal(await focused(), `Dismiss failed migration ${NAME}`);
    state.healthz = { body: ready([running(200, { name: 'b_running' }), failed()]) };
    await waitFor(async () => (await bannerText(page)).includes('200 / 71,000 rows'), { timeoutMs: 5000, what: 'the update' });
    assert.equal(await focused(), `Dismiss failed migration ${NAME}`);
  });
});

test('503 shows "starting up", a network error a retry line, and the banner recovers', async () => {
  const T = Date.UTC(2025, 9, 9, 12, 0, 0);
  const setup = () => { state.healthz = { status: 503, body: { ready: false, reason: 'no database yet' } }; };
  const scenario = async (page) => {
    await waitFor(async () => (await bannerText(page)) === 'meshscope is starting up (no database yet)',
      { what: 'the starting-up line' });
    state.healthz = { destroy: true };
    await page.clock.fastForward(2000); // starting up polls at the fast pace
    await waitFor(async () => (await bannerText(page)) === 'Cannot reach meshscope; retrying',
      { what: 'the retry line' });
    state.healthz = { body: ready([running(100)]) };
    await page.clock.fastForward(30000); // after an error, the idle pace
    await waitFor(async () => (await bannerText(page)).includes('100 / 71,000 rows'), { what: 'the running line' });
    state.healthz = { body: ready([]) };
    await page.clock.fastForward(2000);
    await waitFor(() => page.evaluate(() => document.getElementById('warmup-banner').hidden), { what: 'steady state' });
  };
  scenario.setup = setup;
  await withPage('/', scenario, { clock: T });
});

test('in steady state it polls every 30 s, never stops, and a later failure auto-dismisses 10 min after endedAt', async () => {
  const T = Date.UTC(2025, 9, 9, 12, 0, 0);
  await withPage('/', async (page) => {
    await waitFor(() => healthzRequests() >= 1, { what: 'the first poll' });
    await waitFor(() => page.evaluate(() => document.getElementById('warmup-banner').dataset.state === 'steady'),
      { what: 'the first render' });
    const first = healthzRequests();
    await page.clock.fastForward(25000);
    await new Promise((r) => setTimeout(r, 300)); // let a (wrong) early poll reach the server
    assert.equal(healthzRequests(), first, 'no poll before 30 s in steady state');
    await page.clock.fastForward(5500);
    await waitFor(() => healthzRequests() === first + 1, { what: 'the 30 s poll' });

    // A failure that appears later shows up without a reload.
    const endedAt = Math.floor((await page.evaluate(() => Date.now())) / 1000) * 1000; // whole seconds, as stored
    state.healthz = { body: ready([failed({ endedAt: sqliteTime(endedAt) })]) };
    await page.clock.fastForward(30500);
    await waitFor(async () => (await bannerText(page)).includes('FAILED: disk I/O error'), { what: 'the late failure' });

    // 15 s before the 10 minutes are up it is still there (after a fresh poll) ...
    const target = endedAt + 10 * MIN - 15000;
    await page.clock.fastForward(target - await page.evaluate(() => Date.now()));
    // The poll timer due during the jump fires at `target`; a render at or after it is a fresh one.
    await waitFor(() => page.evaluate((t) => Number(document.getElementById('warmup-banner').dataset.renderedAt) >= t,
      target), { what: 'a render near the boundary' });
    const renderedAt = await page.evaluate(() => Number(document.getElementById('warmup-banner').dataset.renderedAt));
    assert.ok(renderedAt - endedAt < 10 * MIN, `rendered ${renderedAt - endedAt} ms after endedAt`);
    assert.match(await bannerText(page), /FAILED/);
    // ... and once they are up it goes without any help: the poll is timed to the expiry.
    await page.clock.fastForward(16000);
    await waitFor(() => page.evaluate(() => document.getElementById('warmup-banner').hidden),
      { what: 'the auto-dismiss' });
  }, { clock: T });
});

test('the banner mounts itself on a page without a container', async () => {
  await withPage('/bare.html', async (page) => {
    state.healthz = { body: ready([running(500)]) };
    await page.reload();
    await waitFor(async () => (await bannerText(page)).includes('500 / 71,000 rows'), { what: 'the running line' });
    const mounted = await page.evaluate(() => {
      const b = document.getElementById('warmup-banner');
      return { role: b.getAttribute('role'), first: document.body.firstElementChild === b };
    });
    assert.deepEqual(mounted, { role: 'status', first: true });
  });
});

test('an error body that is not JSON keeps the banner alive', async () => {
  await withPage('/', async (page) => {
    state.healthz = { status: 502, body: '<html>bad gateway</html>' };
    await page.reload();
    await waitFor(async () => (await bannerText(page)) === 'Health check failed (HTTP 502); retrying',
      { what: 'the failure line' });
  });
});

test('the dashboard shows totals, every migration and the newest packets, and pages back with before=next', async () => {
  await withPage('/', async (page) => {
    state.migrations = { body: [
      { ...running(71000), name: 'a_done_v1', status: 'done', endedAt: '2025-10-09 12:03:25', elapsedSec: 205 },
      running(12000),
    ] };
    await page.reload();
    await waitFor(() => page.evaluate(() => document.querySelectorAll('table.packets tbody tr').length === 25),
      { what: 'the packets table' });
    const cards = await page.$$eval('.card', (cs) => cs.map((c) => c.textContent));
    assert.deepEqual(cards, ['71,000Transmissions', '1,500,000Observations', '2025-10-09 08:53:20 UTCNewest packet seen']);
    await waitFor(() => page.evaluate(() => document.querySelectorAll('.migration').length === 2), { what: 'migrations' });
    const migrations = await page.$$eval('.migration', (ms) => ms.map((m) => m.textContent));
    assert.match(migrations[0], /a_done_v1.*done.*Duration3m 25s/);
    assert.match(migrations[1], new RegExp(`${NAME}.*running.*12,000 / 71,000 rows.*Rate2,000 rows/s.*ETA30s`));

    const firstIds = () => page.$$eval('table.packets tbody td.col-0', (tds) => tds.map((td) => Number(td.textContent)));
    assert.deepEqual((await firstIds()).slice(0, 2), [71000, 70999]);
    assert.equal(await page.isDisabled('#packets-newer'), true);
    await page.click('#packets-older');
    await waitFor(async () => (await firstIds())[0] === 70975, { what: 'the older page' });
    assert.ok(server.requests.some((r) => r.path === '/api/packets' && r.query === '?limit=25&before=70976'),
      'paged with before = the previous answer\'s next');
    await page.click('#packets-older');
    await waitFor(async () => (await firstIds())[0] === 70950, { what: 'the page after' });
    await page.click('#packets-newer');
    await waitFor(async () => (await firstIds())[0] === 70975, { what: 'back one page' });

    // Live: the totals follow the API without a reload.
    state.stats = { body: { transmissions: 71001, observations: 1500002, newestLastSeen: 1760000000 } };
    await waitFor(async () => (await page.$$eval('.card-value', (cs) => cs[0].textContent)) === '71,001',
      { timeoutMs: 8000, what: 'the live totals' });
  });
});

test('prefers-reduced-motion turns transitions off', async () => {
  // Chromium computes no style for ::-webkit-progress-value, so this reads the
  // × button's transition; the same reduced-motion rule covers the progress bar.
  const transition = (page) => page.evaluate(() =>
    getComputedStyle(document.querySelector('#warmup-banner .warmup-dismiss')).transitionDuration);
  for (const [reducedMotion, want] of [['no-preference', '0.15s, 0.15s'], ['reduce', '0s']]) {
    await withPage('/', async (page) => {
      state.healthz = { body: ready([failed()]) };
      await page.reload();
      await waitFor(() => page.evaluate(() => document.querySelector('#warmup-banner .warmup-dismiss') !== null),
        { what: 'the × button' });
      assert.equal(await transition(page), want, reducedMotion);
    }, { reducedMotion });
  }
});

test('at 360 px nothing overflows the page sideways', async () => {
  await withPage('/', async (page) => {
    state.healthz = { body: ready([running(12000), failed({ errorMessage: 'x'.repeat(200) })]) };
    await page.reload();
    await waitFor(() => page.evaluate(() => document.querySelectorAll('table.packets tbody tr').length > 0 &&
      document.querySelectorAll('#warmup-banner li').length === 2), { what: 'the page to fill' });
    const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, view: window.innerWidth }));
    assert.ok(widths.doc <= widths.view, `page is ${widths.doc}px wide in a ${widths.view}px viewport`);
  }, { viewport: PHONE });
});
