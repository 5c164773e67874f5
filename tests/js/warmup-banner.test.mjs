// The warm-up banner's pure functions and every rule of docs/browser.md, with
// the script loaded the way the banner must load: a plain vm sandbox holding
// only window, module, console and Date.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const SOURCE_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'www', 'warmup-banner.js');
const SOURCE = readFileSync(SOURCE_PATH, 'utf8');

function load(window = {}) {
  const module = { exports: {} };
  const sandbox = { window, module, console, Date };
  vm.createContext(sandbox);
  vm.runInContext(SOURCE, sandbox, { filename: SOURCE_PATH });
  return { api: module.exports, window, module };
}

const { api: B } = load();
// Arrays built inside the sandbox have its Array.prototype; compare as plain data.
const plain = (v) => JSON.parse(JSON.stringify(v));
const messages = (...args) => plain(B.getWarmupMessages(...args));

const NOW = Date.UTC(2025, 9, 9, 12, 0, 0); // 2025-10-09 12:00:00 UTC
const MIN = 60 * 1000;
// Both formats the database writes (docs/database.md, "Times"), for an instant `ms`.
const sqliteTime = (ms) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
const rfc3339 = (ms) => new Date(ms).toISOString().slice(0, 19) + 'Z';

const running = (over = {}) => ({
  name: 'tx_last_seen_backfill_v1', status: 'running', startedAt: '2025-10-09 11:59:00',
  rowsProcessed: 12000, rowsTotal: 71000, elapsedSec: 60, ratePerSec: 200, etaSec: 2, stalled: false,
  ...over,
});
const failed = (over = {}) => ({
  name: 'tx_last_seen_backfill_v1', status: 'failed', startedAt: '2025-10-09 11:50:00',
  endedAt: sqliteTime(NOW - MIN), rowsProcessed: 10, rowsTotal: 20, elapsedSec: 540,
  etaSec: 0, ratePerSec: 0, errorMessage: 'disk I/O error', stalled: false, ...over,
});
const done = (over = {}) => ({
  name: 'a_done_migration', status: 'done', startedAt: '2025-10-09 10:00:00',
  endedAt: '2025-10-09 10:01:00', rowsProcessed: 5, rowsTotal: 5, elapsedSec: 60,
  etaSec: 0, ratePerSec: 0, stalled: false, ...over,
});
const healthz = (migrations, over = {}) => ({
  ready: true, async_migrations: migrations,
  async_migrations_running: migrations.some((m) => m.status === 'running'), ...over,
});

beforeEach(() => B._resetDismissedForTest());

test('loads in a sandbox without document and exposes one object on window and module.exports', () => {
  const { api, window, module } = load();
  assert.equal(window.__warmupBanner, module.exports);
  assert.equal(api, window.__warmupBanner);
  for (const fn of ['getWarmupMessages', 'shouldShowBanner', 'isSteadyState',
    'dismissFailedMigration', '_resetDismissedForTest']) {
    assert.equal(typeof api[fn], 'function', fn);
  }
  assert.equal(api.FAILED_AUTO_DISMISS_MS, 10 * 60 * 1000);
  assert.equal(api.POLL_INTERVAL_MS, 2000);
});

test('never reads window.document, even when a window offers one', () => {
  const window = {};
  Object.defineProperty(window, 'document', { get() { throw new Error('touched window.document'); } });
  assert.doesNotThrow(() => load(window));
  assert.equal(typeof window.__warmupBanner.getWarmupMessages, 'function');
});

test('each load has its own dismissals', () => {
  const a = load().api;
  const b = load().api;
  const h = healthz([failed()]);
  a.dismissFailedMigration('tx_last_seen_backfill_v1');
  assert.equal(a.shouldShowBanner(h, 200, NOW), false);
  assert.equal(b.shouldShowBanner(h, 200, NOW), true);
});

test('counts get en-US thousands separators', () => {
  const cases = [
    [0, '0'], [7, '7'], [999, '999'], [1000, '1,000'], [12000, '12,000'], [71000, '71,000'],
    [1500000, '1,500,000'], [1234567890, '1,234,567,890'], [12.6, '13'], ['4200', '4,200'],
    [-5, '0'], [NaN, '0'], [Infinity, '0'], [null, '0'], [undefined, '0'], ['lots', '0'], [{}, '0'],
  ];
  for (const [input, want] of cases) assert.equal(B.formatCount(input), want, `formatCount(${String(input)})`);
});

test('the running line reads "Migration NAME: done / total rows (ETA Ns)"', () => {
  assert.deepEqual(messages(healthz([running()]), 200, NOW),
    ['Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows (ETA 2s)']);
});

test('the ETA is rounded to whole seconds', () => {
  const cases = [
    [2, '2s'], [1.4, '1s'], [1.5, '2s'], [59.4, '59s'], [59.6, '1m 0s'], [65, '1m 5s'],
    [3725, '1h 2m 5s'], [0.4, '<1s'], [0.6, '1s'],
  ];
  for (const [eta, want] of cases) {
    assert.equal(B.formatEta(eta), want, `formatEta(${eta})`);
    assert.deepEqual(messages(healthz([running({ etaSec: eta })]), 200, NOW),
      [`Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows (ETA ${want})`]);
  }
});

test('an unknown ETA (0, negative, NaN, infinite, missing, not a number) is left out', () => {
  for (const eta of [0, -0, -1, -0.4, NaN, Infinity, -Infinity, null, undefined, '2', {}]) {
    assert.equal(B.formatEta(eta), null, `formatEta(${String(eta)})`);
    assert.deepEqual(messages(healthz([running({ etaSec: eta })]), 200, NOW),
      ['Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows'], `etaSec ${String(eta)}`);
  }
});

test('the percentage is clamped to 0..100 and is 0 when the total is unknown', () => {
  const cases = [
    [0, 100, 0], [50, 100, 50], [100, 100, 100], [150, 100, 100], [12000, 71000, 12000 / 710],
    [5, 0, 0], [0, 0, 0], [-5, 100, 0], [5, -100, 0], [NaN, 100, 0], [5, NaN, 0],
    [undefined, undefined, 0], ['50', '200', 25],
  ];
  for (const [doneRows, total, want] of cases) {
    assert.equal(B.progressPercent(doneRows, total), want, `progressPercent(${doneRows}, ${total})`);
  }
});

test('a running migration with odd or missing fields still gets a sane line', () => {
  const cases = [
    [{ name: 'm', status: 'running' }, 'Migration m: 0 / 0 rows'],
    [{ status: 'running', rowsProcessed: 3, rowsTotal: 9 }, 'Migration (unnamed): 3 / 9 rows'],
    [{ name: '', status: 'running', rowsProcessed: 1, rowsTotal: 2, etaSec: 1 }, 'Migration (unnamed): 1 / 2 rows (ETA 1s)'],
    [{ name: 'm', status: 'running', rowsProcessed: null, rowsTotal: 'x', etaSec: 'soon' }, 'Migration m: 0 / 0 rows'],
    [{ name: 'm', status: 'running', rowsProcessed: -4, rowsTotal: NaN }, 'Migration m: 0 / 0 rows'],
    [{ name: 'm', status: 'running', rowsProcessed: 80, rowsTotal: 71, etaSec: 3 }, 'Migration m: 80 / 71 rows (ETA 3s)'],
    [{ name: 'm', status: 'running', rowsProcessed: 5, rowsTotal: 10, etaSec: 3, stalled: true },
      'Migration m: 5 / 10 rows (stalled: no progress reported recently)'],
  ];
  for (const [m, want] of cases) {
    const h = { ready: true, async_migrations: [m], async_migrations_running: true };
    assert.deepEqual(messages(h, 200, NOW), [want], JSON.stringify(m));
  }
});

test('a paused migration reads "Migration NAME paused (REASON): done / total rows", without an ETA', () => {
  const m = running({ status: 'paused', pauseReason: 'nightly backup', pausedAt: '2025-10-09T11:59:30Z', etaSec: 0 });
  const h = { ready: true, async_migrations: [m], async_migrations_running: true };
  assert.deepEqual(messages(h, 200, NOW), ['Migration tx_last_seen_backfill_v1 paused (nightly backup): 12,000 / 71,000 rows']);
  const [item] = plain(B.getBannerItems(h, 200, NOW));
  assert.equal(item.kind, 'running');
  assert.equal(item.paused, true);
  // The banner stays up, and polling stays fast, while the data is incomplete.
  assert.equal(B.shouldShowBanner(h, 200, NOW), true);
  assert.equal(B.isSteadyState(h, NOW), false);
  assert.equal(B.nextPollDelay(h, 200, NOW), B.POLL_INTERVAL_MS);
  // No reason given: no empty parentheses.
  assert.deepEqual(messages({ ...h, async_migrations: [running({ status: 'paused', pauseReason: ' ' })] }, 200, NOW),
    ['Migration tx_last_seen_backfill_v1 paused: 12,000 / 71,000 rows']);
});

test('a throttled migration shows "(throttled: REASON)" in place of the ETA', () => {
  const m = running({ throttled: true, throttleReason: 'WAL 80.0 MB not checkpointed (limit 64 MB)', etaSec: 30 });
  const h = { ready: true, async_migrations: [m], async_migrations_running: true };
  assert.deepEqual(messages(h, 200, NOW),
    ['Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows (throttled: WAL 80.0 MB not checkpointed (limit 64 MB))']);
  assert.deepEqual(messages({ ...h, async_migrations: [running({ throttled: true })] }, 200, NOW),
    ['Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows (throttled: database busy)']);
  // throttled: false (or absent) is the plain running line.
  assert.deepEqual(messages({ ...h, async_migrations: [running({ throttled: false, throttleReason: 'old' })] }, 200, NOW),
    ['Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows (ETA 2s)']);
});

test('a stalled paused or throttled migration says stalled: the worker is gone whatever the state', () => {
  const h = (m) => ({ ready: true, async_migrations: [m], async_migrations_running: true });
  assert.deepEqual(messages(h(running({ status: 'paused', pauseReason: 'ops', stalled: true })), 200, NOW),
    ['Migration tx_last_seen_backfill_v1 paused (ops): 12,000 / 71,000 rows (stalled: no progress reported recently)']);
  assert.deepEqual(messages(h(running({ throttled: true, throttleReason: 'x', stalled: true })), 200, NOW),
    ['Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows (stalled: no progress reported recently)']);
});

test('items that are not migration objects, and unknown statuses, add no line', () => {
  // pending_async is the table's raw value, which responders map to running: never sent, never shown.
  const h = { ready: true, async_migrations: [null, 7, 'x', [], done(), { name: 'weird', status: 'unknown' },
    { name: 'raw', status: 'pending_async', rowsProcessed: 1, rowsTotal: 2 }],
    async_migrations_running: false };
  assert.deepEqual(messages(h, 200, NOW), []);
  assert.equal(B.isSteadyState(h, NOW), true);
});

test('a failed line contains FAILED and the error, or "unknown error" without one', () => {
  const cases = [
    [{}, 'Migration tx_last_seen_backfill_v1 FAILED: disk I/O error'],
    [{ errorMessage: undefined }, 'Migration tx_last_seen_backfill_v1 FAILED: unknown error'],
    [{ errorMessage: null }, 'Migration tx_last_seen_backfill_v1 FAILED: unknown error'],
    [{ errorMessage: '' }, 'Migration tx_last_seen_backfill_v1 FAILED: unknown error'],
    [{ errorMessage: '   ' }, 'Migration tx_last_seen_backfill_v1 FAILED: unknown error'],
    [{ errorMessage: 42 }, 'Migration tx_last_seen_backfill_v1 FAILED: unknown error'],
    [{ errorMessage: '<img src=x onerror=alert(1)>' }, 'Migration tx_last_seen_backfill_v1 FAILED: <img src=x onerror=alert(1)>'],
  ];
  for (const [over, want] of cases) {
    const m = failed(over);
    if ('errorMessage' in over && over.errorMessage === undefined) delete m.errorMessage;
    assert.deepEqual(messages(healthz([m]), 200, NOW), [want], JSON.stringify(over));
  }
});

test('a failure shows until exactly 10 minutes after endedAt, in both timestamp formats', () => {
  const cases = [
    // [age of the failure at NOW in ms, visible?]
    [0, true], [MIN, true], [10 * MIN - 1000, true], [10 * MIN, false], [10 * MIN + 1000, false],
    [60 * MIN, false], [-5 * MIN, true], // endedAt in the future (clock skew): still within 10 min
  ];
  for (const [age, visible] of cases) {
    for (const [format, fmt] of [['sqlite', sqliteTime], ['rfc3339', rfc3339]]) {
      const h = healthz([failed({ endedAt: fmt(NOW - age) })]);
      const what = `${format} endedAt ${fmt(NOW - age)}, age ${age} ms`;
      assert.equal(B.shouldShowBanner(h, 200, NOW), visible, what);
      assert.equal(B.isSteadyState(h, NOW), !visible, what);
      assert.equal(messages(h, 200, NOW).length, visible ? 1 : 0, what);
    }
  }
});

test('the 10-minute boundary holds to the millisecond', () => {
  const h = healthz([failed({ endedAt: '2025-10-09T11:50:00Z' })]);
  const ended = Date.UTC(2025, 9, 9, 11, 50, 0);
  assert.equal(B.shouldShowBanner(h, 200, ended + B.FAILED_AUTO_DISMISS_MS - 1), true);
  assert.equal(B.shouldShowBanner(h, 200, ended + B.FAILED_AUTO_DISMISS_MS), false);
});

test('a missing or unparseable endedAt keeps the failure visible (fail closed)', () => {
  const endedAts = [undefined, null, '', 'garbage', 'yesterday', '2025-13-01 00:00:00',
    '2025-02-30 00:00:00', '2025-10-09 24:00:00', '2025-10-09', '12:00:00', 1760000000, {}, []];
  for (const endedAt of endedAts) {
    const m = failed({ endedAt });
    if (endedAt === undefined) delete m.endedAt;
    const h = healthz([m]);
    const farFuture = NOW + 365 * 24 * 60 * MIN;
    assert.equal(B.shouldShowBanner(h, 200, farFuture), true, `endedAt ${JSON.stringify(endedAt)}`);
    assert.equal(B.isSteadyState(h, farFuture), false, `endedAt ${JSON.stringify(endedAt)}`);
  }
});

test('timestamps parse in both database formats and reject garbage', () => {
  const at = Date.UTC(2025, 9, 9, 11, 50, 7);
  const cases = [
    ['2025-10-09 11:50:07', at], ['2025-10-09T11:50:07Z', at], ['2025-10-09t11:50:07z', at],
    ['2025-10-09T11:50:07.250Z', at + 250], ['2025-10-09T13:50:07+02:00', at], ['2025-10-09T09:20:07-02:30', at],
    ['2024-02-29 00:00:00', Date.UTC(2024, 1, 29)],
    ['', NaN], ['garbage', NaN], ['2025-10-09', NaN], ['2025-02-29 00:00:00', NaN], ['2025-10-32 00:00:00', NaN],
    ['2025-10-09 11:60:00', NaN], ['2025-10-09T11:50:07+25:00', NaN], [' 2025-10-09 11:50:07 x', NaN],
    [null, NaN], [undefined, NaN], [1760000000, NaN],
  ];
  for (const [input, want] of cases) {
    assert.equal(B.parseTimestamp(input), want, `parseTimestamp(${JSON.stringify(input)})`);
  }
});

test('dismissing a failure hides it, only it, and a reset (like a reload) shows it again', () => {
  const h = healthz([failed(), failed({ name: 'other_v2', errorMessage: 'boom' })]);
  assert.equal(messages(h, 200, NOW).length, 2);
  B.dismissFailedMigration('tx_last_seen_backfill_v1');
  assert.deepEqual(messages(h, 200, NOW), ['Migration other_v2 FAILED: boom']);
  assert.equal(B.isSteadyState(h, NOW), false);
  B.dismissFailedMigration('other_v2');
  assert.deepEqual(messages(h, 200, NOW), []);
  assert.equal(B.shouldShowBanner(h, 200, NOW), false);
  assert.equal(B.isSteadyState(h, NOW), true);
  B._resetDismissedForTest();
  assert.equal(messages(h, 200, NOW).length, 2);
});

test('dismissal hides the failed line, never the line of a re-run of the same migration', () => {
  B.dismissFailedMigration('tx_last_seen_backfill_v1');
  assert.deepEqual(messages(healthz([running()]), 200, NOW),
    ['Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows (ETA 2s)']);
});

test('a dismissal tied to one endedAt does not hide a later failure of the same migration', () => {
  const first = failed({ endedAt: sqliteTime(NOW - 2 * MIN) });
  B.dismissFailedMigration(first.name, first.endedAt);
  assert.equal(B.shouldShowBanner(healthz([first]), 200, NOW), false);
  const later = failed({ endedAt: sqliteTime(NOW - MIN), errorMessage: 'again' });
  assert.deepEqual(messages(healthz([later]), 200, NOW), ['Migration tx_last_seen_backfill_v1 FAILED: again']);
});

test('dismissing with odd arguments changes nothing', () => {
  const h = healthz([failed()]);
  for (const name of [undefined, null, 42, {}]) B.dismissFailedMigration(name);
  B.dismissFailedMigration('no_such_migration');
  assert.equal(B.shouldShowBanner(h, 200, NOW), true);
});

test('steady state: ready, nothing running, no visible failure', () => {
  const cases = [
    ['ready with no migrations', { ready: true, async_migrations: [], async_migrations_running: false }, true],
    ['only done migrations', healthz([done()]), true],
    ['an old failure past 10 minutes', healthz([failed({ endedAt: sqliteTime(NOW - 11 * MIN) })]), true],
    ['a migration running', healthz([running()]), false],
    ['a fresh failure', healthz([failed()]), false],
    ['not ready', { ready: false, reason: 'no database yet' }, false],
    ['ready missing', { async_migrations: [] }, false],
    ['ready is a string', { ready: 'true', async_migrations: [] }, false],
    ['async_migrations_running alone', { ready: true, async_migrations: [], async_migrations_running: true }, false],
    ['running flag without a list', { ready: true, async_migrations_running: true }, false],
    ['a migrations read error', { ready: true, async_migrations: [], async_migrations_running: true,
      async_migrations_error: 'database is locked' }, false],
    ['null', null, false], ['undefined', undefined, false], ['an array', [], false], ['a string', 'ok', false],
  ];
  for (const [what, h, steady] of cases) {
    assert.equal(B.isSteadyState(h, NOW), steady, what);
  }
});

test('back-compat: a healthz without migration fields means nothing is running', () => {
  for (const h of [{ ready: true }, { ready: true, async_migrations: null }, { ready: true, async_migrations: 'n/a' },
    { ready: true, async_migrations_running: false }]) {
    assert.equal(B.isSteadyState(h, NOW), true, JSON.stringify(h));
    assert.equal(B.isSteadyState(h), true, `${JSON.stringify(h)} without nowMs`);
    assert.equal(B.shouldShowBanner(h, 200, NOW), false, JSON.stringify(h));
    assert.deepEqual(messages(h, 200, NOW), []);
  }
});

test('async_migrations_running: true alone keeps the banner up', () => {
  for (const h of [{ ready: true, async_migrations_running: true },
    { ready: true, async_migrations: [done()], async_migrations_running: true }]) {
    assert.equal(B.shouldShowBanner(h, 200, NOW), true, JSON.stringify(h));
    assert.deepEqual(messages(h, 200, NOW), ['A data migration is running']);
  }
});

test('a migrations read error is shown and keeps the banner up', () => {
  const h = { ready: true, async_migrations: [], async_migrations_running: true, async_migrations_error: 'database is locked' };
  assert.deepEqual(messages(h, 200, NOW), ['Migration status unavailable: database is locked']);
});

test('isSteadyState without nowMs uses the current time', () => {
  const fresh = healthz([failed({ endedAt: rfc3339(Date.now() - MIN) })]);
  const old = healthz([failed({ endedAt: rfc3339(Date.now() - 20 * MIN) })]);
  assert.equal(B.isSteadyState(fresh), false);
  assert.equal(B.isSteadyState(old), true);
  assert.equal(B.shouldShowBanner(fresh, 200), true);
  assert.equal(B.shouldShowBanner(old, 200), false);
});

test('a 503 ready:false answer shows a "starting up" line', () => {
  assert.deepEqual(messages({ ready: false, reason: 'no database yet' }, 503, NOW),
    ['meshscope is starting up (no database yet)']);
  assert.deepEqual(messages({ ready: false }, 503, NOW), ['meshscope is starting up']);
  assert.deepEqual(messages(null, 503, NOW), ['meshscope is starting up']);
  assert.deepEqual(messages({ ready: false, reason: 42 }, undefined, NOW), ['meshscope is starting up']);
  assert.equal(B.shouldShowBanner({ ready: false }, 503, NOW), true);
});

test('a network error shows a retry line and keeps what was last known', () => {
  assert.deepEqual(messages(null, 'error', NOW), ['Cannot reach meshscope; retrying']);
  assert.deepEqual(messages(undefined, 0, NOW), ['Cannot reach meshscope; retrying']);
  assert.deepEqual(messages(healthz([running()]), 'error', NOW), ['Cannot reach meshscope; retrying',
    'Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows (ETA 2s)']);
});

test('another HTTP failure says so and keeps what was last known', () => {
  assert.deepEqual(messages(null, 502, NOW), ['Health check failed (HTTP 502); retrying']);
  assert.deepEqual(messages(healthz([failed()]), 500, NOW), ['Health check failed (HTTP 500); retrying',
    'Migration tx_last_seen_backfill_v1 FAILED: disk I/O error']);
});

test('before the first answer there is nothing to show', () => {
  assert.deepEqual(messages(null, undefined, NOW), []);
  assert.deepEqual(messages(undefined, undefined, undefined), []);
});

test('running and failed lines appear in the order the API lists them', () => {
  const h = healthz([failed({ name: 'a_failed' }), done(), running({ name: 'b_running', etaSec: 0 })]);
  assert.deepEqual(messages(h, 200, NOW),
    ['Migration a_failed FAILED: disk I/O error', 'Migration b_running: 12,000 / 71,000 rows']);
});

test('banner items carry the progress figures the progress bar shows', () => {
  const [item] = B.getBannerItems(healthz([running()]), 200, NOW);
  assert.deepEqual(plain(item), {
    kind: 'running', name: 'tx_last_seen_backfill_v1',
    text: 'Migration tx_last_seen_backfill_v1: 12,000 / 71,000 rows (ETA 2s)',
    rowsProcessed: 12000, rowsTotal: 71000, percent: 12000 / 710, rate: '200 rows/s', eta: '2s', stalled: false,
    paused: false, throttled: false,
  });
  assert.equal(B.formatRate(1234.4), '1,234 rows/s');
  for (const r of [0, -1, NaN, Infinity, null, '5']) assert.equal(B.formatRate(r), null, String(r));
});

test('polling is fast while a migration runs or the server starts up, slow otherwise, never stopped', () => {
  const idle = B.IDLE_POLL_INTERVAL_MS;
  assert.equal(idle, 30000);
  const cases = [
    ['running', healthz([running()]), 200, B.POLL_INTERVAL_MS],
    ['running flag alone', { ready: true, async_migrations_running: true }, 200, B.POLL_INTERVAL_MS],
    ['starting up', { ready: false }, 503, B.POLL_INTERVAL_MS],
    ['steady', healthz([done()]), 200, idle],
    ['back-compat healthz', { ready: true }, 200, idle],
    ['network error', null, 'error', idle],
    ['failure without endedAt', healthz([failed({ endedAt: null })]), 200, idle],
    ['failure expiring in 5 s', healthz([failed({ endedAt: rfc3339(NOW - 10 * MIN + 5000) })]), 200, 5050],
  ];
  for (const [what, h, status, want] of cases) {
    assert.equal(B.nextPollDelay(h, status, NOW), want, what);
  }
});

// Ingest liveness lines (docs/browser.md): per source, in name order.
const liveHealthz = (ingest_liveness) => ({ ready: true, async_migrations: [], ingest_liveness });
const secAgo = (s) => (NOW - s * 1000) / 1000;

test('liveness: a receipt strictly more than 5 minutes old shows "No packets", N rounded down', () => {
  assert.deepEqual(messages(liveHealthz({ a: { lastReceiptUnix: secAgo(300), lastMessageUnix: secAgo(300) } }), 200, NOW), []);
  assert.deepEqual(messages(liveHealthz({ a: { lastReceiptUnix: secAgo(301), lastMessageUnix: secAgo(301) } }), 200, NOW),
    ['No packets from a in 5 min.']);
  assert.deepEqual(messages(liveHealthz({ a: { lastReceiptUnix: secAgo(779) } }), 200, NOW),
    ['No packets from a in 12 min.']);
  assert.equal(B.shouldShowBanner(liveHealthz({ a: { lastReceiptUnix: secAgo(301) } }), 200, NOW), true);
  assert.equal(B.isSteadyState(liveHealthz({ a: { lastReceiptUnix: secAgo(301) } }), NOW), false);
  assert.equal(B.isSteadyState(liveHealthz({ a: { lastReceiptUnix: secAgo(300) } }), NOW), true);
});

test('liveness: fresh receipts but stored messages older than 5 minutes show "not being stored"', () => {
  assert.deepEqual(messages(liveHealthz({ s: { lastReceiptUnix: secAgo(10), lastMessageUnix: secAgo(300) } }), 200, NOW), []);
  assert.deepEqual(messages(liveHealthz({ s: { lastReceiptUnix: secAgo(10), lastMessageUnix: secAgo(301) } }), 200, NOW),
    ['Packets from s are not being stored (last stored 5 min ago).']);
  assert.deepEqual(messages(liveHealthz({ s: { lastReceiptUnix: secAgo(0), lastMessageUnix: secAgo(3599) } }), 200, NOW),
    ['Packets from s are not being stored (last stored 59 min ago).']);
});

test('liveness: sources in name order, each with its own line', () => {
  assert.deepEqual(messages(liveHealthz({
    zeta: { lastReceiptUnix: secAgo(600) },
    alpha: { lastReceiptUnix: secAgo(5), lastMessageUnix: secAgo(900) },
    mid: { lastReceiptUnix: secAgo(5), lastMessageUnix: secAgo(5) },
  }), 200, NOW), ['Packets from alpha are not being stored (last stored 15 min ago).',
    'No packets from zeta in 10 min.']);
});

test('liveness: missing or malformed input adds nothing and breaks nothing', () => {
  const bad = [undefined, null, 'x', 42, [], [{ lastReceiptUnix: secAgo(900) }]];
  for (const v of bad) {
    assert.deepEqual(messages(liveHealthz(v), 200, NOW), [], JSON.stringify(v));
    assert.equal(B.isSteadyState(liveHealthz(v), NOW), true);
  }
  const times = [0, -5, NaN, Infinity, '1760000000', String(secAgo(900)), secAgo(-60), null, {}, true];
  for (const t of times) {
    assert.deepEqual(messages(liveHealthz({ a: { lastReceiptUnix: t } }), 200, NOW), [], String(t));
    assert.deepEqual(messages(liveHealthz({ a: { lastReceiptUnix: secAgo(1), lastMessageUnix: t } }), 200, NOW), [], String(t));
  }
  assert.deepEqual(messages(liveHealthz({ a: null, b: 'x', c: [] }), 200, NOW), []);
  // Liveness lines follow the migration lines.
  const h = { ...healthz([running()]), ingest_liveness: { a: { lastReceiptUnix: secAgo(400) } } };
  assert.equal(messages(h, 200, NOW).at(-1), 'No packets from a in 6 min.');
});

test('a recurring job (retention) never warms the site up; its failure is shown like a migration\'s', () => {
  const retention = (over = {}) => running({ name: 'retention', kind: 'recurring', everySec: 3600,
    rowsProcessed: 10, rowsTotal: 100, ...over });
  // Running, paused or throttled: the data is whole, so no banner and the idle poll pace.
  for (const m of [retention(), retention({ status: 'paused', pauseReason: 'busy hour' }),
    retention({ throttled: true, throttleReason: 'WAL' })]) {
    const h = { ready: true, async_migrations: [m], async_migrations_running: false };
    assert.deepEqual(messages(h, 200, NOW), [], JSON.stringify(m));
    assert.equal(B.shouldShowBanner(h, 200, NOW), false);
    assert.equal(B.nextPollDelay(h, 200, NOW), B.IDLE_POLL_INTERVAL_MS);
  }
  // Beside a running migration, only the migration has a line.
  const both = healthz([running(), retention()]);
  assert.deepEqual(messages(both, 200, NOW).length, 1);
  assert.match(messages(both, 200, NOW)[0], /tx_last_seen_backfill_v1/);
  // A failed run is shown, as a failed migration is.
  const broken = failed({ name: 'retention', kind: 'recurring', everySec: 3600 });
  const lines = messages({ ready: true, async_migrations: [broken], async_migrations_running: false }, 200, NOW);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /retention/);
});
