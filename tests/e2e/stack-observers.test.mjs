// The analyzer's views in chromium against the real stack: two MQTT sources
// (mosquitto brokers with the demo publisher) bridged by meshscope-mqtt into
// the worker, read back through nginx and the pool. One source's publisher
// stops; the bridge's wall clock (libfaketime) and the page's clock then move
// 400 s ahead, so that source is 6 minutes silent while the other keeps
// receiving. Screenshots of each view at desktop and 360 px in tests/artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { startStack, tempDir, waitFor } from '../lib/stack.mjs';
import { launchBrowser, openPage, artifactPath, DESKTOP, PHONE } from '../lib/browser.mjs';
import { startBroker, startBridge, DEMO } from '../lib/mosquitto.mjs';
import { sql } from '../lib/ingest.mjs';

const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';
const AHEAD_S = 400;

// The demo names its observers DEMO000..., so the sources share the first three.
function startDemo(broker, region, seed, observers = 3) {
  const child = spawn(DEMO, ['--broker', `mqtt://127.0.0.1:${broker.port}`, '--rate', '4',
    '--observers', String(observers), '--region', region, '--seed', String(seed)], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { child, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

async function bannerLines(page) {
  return page.evaluate(() => {
    const b = document.getElementById('warmup-banner');
    return b && !b.hidden ? [...b.querySelectorAll('li')].map((li) => li.textContent) : [];
  });
}

test('observers, a packet\'s detail, the traffic chart and a silent source in the banner', { skip: !existsSync(FAKETIME) && 'libfaketime is not installed (scripts/deps --test)' }, async (t) => {
  const dir = tempDir('meshscope-e2e-obs-');
  const liveness = path.join(dir, 'liveness.json');
  const stack = await startStack({ db: path.join(dir, 'db'), numprocs: 2, fcgiArgs: `--liveness-file ${liveness}` });
  const brokers = [await startBroker(), await startBroker()];
  const clockFile = path.join(dir, 'faketime');
  writeFileSync(clockFile, '+0\n');
  const config = path.join(dir, 'bridge.conf');
  writeFileSync(config, `[source alpha]\nbroker = mqtt://127.0.0.1:${brokers[0].port}\n` +
    `[source beta]\nbroker = mqtt://127.0.0.1:${brokers[1].port}\n`);
  const bridge = await startBridge({ socket: path.join(stack.dir, 'ingest.sock'), liveness,
    // The watchdog reads the (faked) wall clock: off, so the silent source is
    // not reconnected and handed its retained status messages, which count as receipts.
    args: ['--config', config, '--silent-reconnect-s', '0'], env: { LD_PRELOAD: FAKETIME, FAKETIME_TIMESTAMP_FILE: clockFile,
      FAKETIME_NO_CACHE: '1', DONT_FAKE_MONOTONIC: '1' } });
  const demos = [startDemo(brokers[0], 'SEA', 1), startDemo(brokers[1], 'PDX', 2, 5)];
  const desktop = await launchBrowser({ viewport: DESKTOP });
  const phone = await launchBrowser({ viewport: PHONE, colorScheme: 'dark' });
  t.after(async () => {
    await desktop.close();
    await phone.close();
    for (const d of demos) await d.stop();
    await bridge.stop();
    for (const b of brokers) await b.stop();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // Both sources deliver, and some transmission was heard by more than one observer.
  const busy = await waitFor(() => {
    const rows = sql(stack.db, `SELECT transmission_id AS id, count(DISTINCT observer) AS n FROM observations
      GROUP BY transmission_id HAVING n > 1 ORDER BY id LIMIT 1`);
    const observers = sql(stack.db, 'SELECT count(*) AS n FROM observers')[0]?.n;
    return rows.length && observers >= 5 ? rows[0] : null;
  }, { timeoutMs: 30000, what: 'observations from both sources, one heard twice' });

  for (const [name, ctx] of [['desktop', desktop], ['360px', phone]]) {
    const { page, problems } = await openPage(ctx.context, stack.url + '/');
    await waitFor(() => page.evaluate(() => document.querySelectorAll('#observers-table tbody tr').length >= 5),
      { what: `the observers panel (${name})` });
    // The chart has its own request; it may land after the observers table.
    await waitFor(() => page.evaluate(() => document.querySelectorAll('rect.traffic-bar').length > 0),
      { what: `the traffic chart (${name})` });
    assert.equal(await page.locator('rect.traffic-bar').count(), 60, 'one bar per minute of the last hour');
    assert.match(await page.locator('#traffic-chart title').first().textContent(), /last 60 minutes/);
    await page.screenshot({ path: artifactPath(`observers-dashboard-${name}.png`), fullPage: true });

    // A packet's detail, from its id in the URL: every observer that heard it.
    const expected = sql(stack.db, `SELECT observer FROM observations WHERE transmission_id = ${busy.id}
      ORDER BY timestamp, id`).map((r) => r.observer);
    await page.goto(`${stack.url}/#packet=${busy.id}`);
    await waitFor(() => page.evaluate(() => document.querySelectorAll('#packet-detail tbody tr').length > 0),
      { what: `the packet detail (${name})` });
    const shown = await page.evaluate(() => [...document.querySelectorAll('#packet-detail tbody tr')]
      .map((tr) => tr.firstChild.textContent));
    assert.deepEqual(shown, expected);
    assert.match(await page.locator('#packet-detail .detail-fields').textContent(), /Route/);
    await page.screenshot({ path: artifactPath(`packet-detail-${name}.png`), fullPage: false });
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#packet-detail').isHidden(), true, 'Escape closes the detail');
    assert.equal(new URL(page.url()).hash, '', 'closing leaves the packet URL');
    // A row click opens it too.
    await page.locator('#packets-table tr[data-id]').first().click();
    await waitFor(() => page.evaluate(() => !document.getElementById('packet-detail').hidden));
    assert.match(new URL(page.url()).hash, /^#packet=\d+$/);
    await page.locator('#packet-detail .detail-close').click();
    assert.equal(await page.locator('#packet-detail').isHidden(), true, 'the close button closes it');
    assert.deepEqual(problems, []);
    await page.close();
  }

  // Pages open in steady state; then beta's publisher stops and the bridge's
  // wall clock and the pages' move ahead.
  const pages = [];
  for (const ctx of [desktop, phone]) {
    const { page } = await openPage(ctx.context);
    await page.clock.install(); // real time, ticking, until fastForward moves it
    await page.goto(stack.url + '/');
    await waitFor(() => page.evaluate(() => document.getElementById('warmup-banner')?.dataset.state === 'steady'),
      { what: 'the banner in steady state' });
    pages.push(page);
  }
  await demos[1].stop();
  writeFileSync(clockFile, `+${AHEAD_S}\n`);
  await waitFor(async () => {
    const h = await (await fetch(`${stack.url}/api/healthz`)).json();
    const a = h.ingest_liveness?.alpha?.lastReceiptUnix;
    return a && a > Date.now() / 1000 + AHEAD_S - 30;
  }, { timeoutMs: 20000, what: 'alpha receiving on the moved clock' });
  // The pages' clocks jump ahead as if 400 s had passed, which fires the idle
  // poll that came due meanwhile (setSystemTime alone would leave it up to 30 s
  // away, racing the test's timeout on a loaded machine).
  for (const page of pages) await page.clock.fastForward(AHEAD_S * 1000);
  const started = Date.now();
  for (const [i, page] of pages.entries()) {
    // A poll already in flight at the jump schedules the next one 30 s on:
    // each further attempt moves the page's clock past that too (at most
    // 3 × 30 s, so beta has been silent 6 to 8 minutes).
    let lines = null;
    for (let attempt = 0; attempt < 4 && lines === null; attempt++) {
      if (attempt > 0) await page.clock.fastForward(30000);
      lines = await waitFor(async () => {
        const l = await bannerLines(page);
        return l.some((x) => x.startsWith('No packets from beta')) ? l : null;
      }, { timeoutMs: 4000, intervalMs: 200, what: 'the banner line for beta' }).catch(() => null);
    }
    assert.ok(lines !== null, 'the banner line for beta after the polls the jumps fired');
    t.diagnostic(`banner line ${Date.now() - started} ms after the clocks moved: ${JSON.stringify(lines)}`);
    assert.ok(lines.some((x) => /^No packets from beta in [678] min\.$/.test(x)), JSON.stringify(lines));
    assert.ok(!lines.some((x) => x.includes('alpha')), `alpha stays quiet: ${JSON.stringify(lines)}`);
    await page.screenshot({ path: artifactPath(`banner-silent-source-${i === 0 ? 'desktop' : '360px'}.png`) });
  }
});
