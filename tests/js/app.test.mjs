// The dashboard's pure helpers (www/app.js), loaded like the banner in a bare
// vm sandbox: formatting, the API's field mapping (docs/api.md) and keyset paging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const WWW = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'www');
const SOURCE_PATH = path.join(WWW, 'app.js');
const BANNER_PATH = path.join(WWW, 'warmup-banner.js');

// As on the page: the banner first (app.js uses its formatters), then app.js.
function load() {
  const window = {};
  const sandbox = { window, module: { exports: {} }, console, Date };
  vm.createContext(sandbox);
  vm.runInContext(readFileSync(BANNER_PATH, 'utf8'), sandbox, { filename: BANNER_PATH });
  sandbox.module = { exports: {} };
  vm.runInContext(readFileSync(SOURCE_PATH, 'utf8'), sandbox, { filename: SOURCE_PATH });
  return { api: sandbox.module.exports, window };
}
const { api: A, window } = load();
const plain = (v) => JSON.parse(JSON.stringify(v));
const DASH = '\u2014';

test('loads without a document and exposes one object on window and module.exports', () => {
  assert.equal(window.__meshscopeApp, A);
  assert.equal(typeof A.statsCards, 'function');
});

test('counts use the banner\'s formatter, with a dash where the banner shows 0', () => {
  const cases = [[0, '0'], [71000, '71,000'], [12.6, '13'], ['4200', '4,200'],
    [-5, DASH], [NaN, DASH], [Infinity, DASH], [null, DASH], [undefined, DASH], ['lots', DASH]];
  for (const [input, want] of cases) assert.equal(A.formatCount(input), want, String(input));
  assert.equal(window.__warmupBanner.formatCount(-5), '0');
});

test('unix times show as UTC; 0 and nonsense show a dash', () => {
  const cases = [
    [1760000000, '2025-10-09 08:53:20 UTC'], [1, '1970-01-01 00:00:01 UTC'],
    [0, DASH], [-5, DASH], [NaN, DASH], [null, DASH], ['1760000000', DASH], [1e20, DASH],
  ];
  for (const [input, want] of cases) assert.equal(A.formatUnixTime(input), want, String(input));
});

test('durations round to seconds', () => {
  const cases = [[0, '0s'], [4.4, '4s'], [59.5, '1m 0s'], [205, '3m 25s'], [3725, '1h 2m 5s'],
    [-1, DASH], [NaN, DASH], [undefined, DASH], [Infinity, DASH]];
  for (const [input, want] of cases) assert.equal(A.formatDuration(input), want, String(input));
});

test('database timestamps in both formats show the same way', () => {
  assert.equal(A.formatDbTime('2025-10-09 11:50:07'), '2025-10-09 11:50:07 UTC');
  assert.equal(A.formatDbTime('2025-10-09T11:50:07Z'), '2025-10-09 11:50:07 UTC');
  assert.equal(A.formatDbTime('garbage'), 'garbage');
  assert.equal(A.formatDbTime(undefined), DASH);
  assert.equal(A.formatDbTime(''), DASH);
});

test('stats cards: known totals first, then any other number the responder adds', () => {
  assert.deepEqual(plain(A.statsCards({ observations: 1500000, transmissions: 71000, newestLastSeen: 1760000000,
    uptimeSec: 12, note: 'text is not a card' })), [
    { key: 'transmissions', label: 'Transmissions', value: '71,000' },
    { key: 'observations', label: 'Observations', value: '1,500,000' },
    { key: 'newestLastSeen', label: 'Newest packet seen', value: '2025-10-09 08:53:20 UTC', kind: 'time' },
    { key: 'uptimeSec', label: 'Uptime sec', value: '12' },
  ]);
  assert.deepEqual(plain(A.statsCards({ transmissions: 0, newestLastSeen: 0 })), [
    { key: 'transmissions', label: 'Transmissions', value: '0' },
    { key: 'newestLastSeen', label: 'Newest packet seen', value: DASH, kind: 'time' },
  ]);
  for (const odd of [null, undefined, [], 'x', 5]) assert.deepEqual(plain(A.statsCards(odd)), []);
  // Only newestLastSeen is a time: other spellings are plain numbers, as any field the responder adds.
  assert.deepEqual(plain(A.statsCards({ maxLastSeen: 5 })), [{ key: 'maxLastSeen', label: 'Max last seen', value: '5' }]);
});

test('packets: rows and the next cursor from an answer, odd cursors mean no older page', () => {
  const row = { id: 5, hash: 'ab', payloadType: 4, firstSeen: 1, lastSeen: 2, observations: 3 };
  const cases = [
    [{ packets: [row], next: 5 }, 1, 5],
    [{ packets: [row, null, 'x'], next: '7' }, 1, 7],
    [{ packets: [], next: null }, 0, null],
    [{ packets: [row] }, 1, null],
    [{ packets: [row], next: 0 }, 1, null],
    [{ packets: [row], next: -3 }, 1, null],
    [{ packets: [row], next: 'abc' }, 1, null],
    // Only `packets` holds rows: no responder sends another key or a bare array.
    [{ transmissions: [row], next: 9 }, 0, 9],
    [{ items: [row] }, 0, null],
    [[row], 0, null],
    [null, 0, null],
  ];
  for (const [body, rows, next] of cases) {
    const got = A.packetsFromBody(body);
    assert.equal(got.rows.length, rows, JSON.stringify(body));
    assert.equal(got.next, next, JSON.stringify(body));
  }
});

test('packets: the first page has no before, older pages page back with before=next', () => {
  assert.equal(A.packetsUrl(25, null), '/api/packets?limit=25');
  assert.equal(A.packetsUrl(25, undefined), '/api/packets?limit=25');
  assert.equal(A.packetsUrl(25, 70975), '/api/packets?limit=25&before=70975');
});

test('a packet row shows the /api/packets fields, with a note where last_seen is not backfilled yet', () => {
  assert.deepEqual(plain(A.packetRow({ id: 71000, hash: '00deadbeef', payloadType: 4, firstSeen: 1760000000,
    lastSeen: 1760000060, observations: 1234 })),
  ['71000', '00deadbeef', '4', '2025-10-09 08:53:20 UTC', '2025-10-09 08:54:20 UTC', '1,234']);
  assert.deepEqual(plain(A.packetRow({ id: 1, hash: 'x', payloadType: null, firstSeen: 1760000000, lastSeen: 0, observations: 3 })),
    ['1', 'x', DASH, '2025-10-09 08:53:20 UTC', 'not yet backfilled', '3']);
  // Without observations last_seen stays 0 for good: nothing is pending.
  assert.deepEqual(plain(A.packetRow({ id: 2, hash: 'y', payloadType: 1, firstSeen: 1760000000, lastSeen: 0, observations: 0 })),
    ['2', 'y', '1', '2025-10-09 08:53:20 UTC', DASH, '0']);
  assert.deepEqual(plain(A.packetRow({})), [DASH, DASH, DASH, DASH, DASH, DASH]);
});

test('migrations panel: running ones show rate and ETA, finished ones their duration', () => {
  const running = A.migrationView({ name: 'b', status: 'running', startedAt: '2025-10-09 11:59:00',
    lastUpdateAt: '2025-10-09T12:00:00Z', rowsProcessed: 12000, rowsTotal: 71000, elapsedSec: 60,
    ratePerSec: 200, etaSec: 345, stalled: false });
  assert.equal(running.status, 'running');
  assert.equal(running.rows, '12,000 / 71,000 rows');
  assert.deepEqual(plain(running.facts), [['Started', '2025-10-09 11:59:00 UTC'], ['Rate', '200 rows/s'],
    ['ETA', '5m 45s'], ['Running for', '1m 0s'], ['Last progress', '2025-10-09 12:00:00 UTC']]);
  assert.equal(running.error, null);

  const done = A.migrationView({ name: 'a', status: 'done', startedAt: '2025-10-09 10:00:00',
    endedAt: '2025-10-09 10:03:25', rowsProcessed: 5, rowsTotal: 5, elapsedSec: 205, etaSec: 0, ratePerSec: 0 });
  assert.deepEqual(plain(done.facts), [['Started', '2025-10-09 10:00:00 UTC'], ['Ended', '2025-10-09 10:03:25 UTC'],
    ['Duration', '3m 25s']]);

  const failed = A.migrationView({ name: 'c', status: 'failed', elapsedSec: 4 });
  assert.equal(failed.error, 'unknown error');
  assert.equal(A.migrationView({ name: 'c', status: 'failed', errorMessage: '<b>x</b>' }).error, '<b>x</b>');
  assert.equal(A.migrationView({ name: 'd', status: 'pending_async' }).status, 'unknown', 'the raw table value is never sent');
  assert.equal(A.migrationView({ name: 'e', status: 'weird' }).status, 'unknown');
  assert.equal(A.migrationView({ status: 'running', rowsProcessed: 9, rowsTotal: 3 }).percent, 100);
  assert.equal(A.migrationView({ status: 'running', rowsProcessed: 9, rowsTotal: 0 }).percent, 0);
  assert.equal(A.migrationView({ status: 'running', etaSec: 0 }).facts[2][1], 'unknown');
});

test('migrations panel: a paused or throttled job shows its state and reason, both rates and where its time went', () => {
  const paused = A.migrationView({ name: 'b', status: 'paused', startedAt: '2025-10-09 11:59:00',
    pausedAt: '2025-10-09T12:00:00Z', pauseReason: 'site busy', rowsProcessed: 12000, rowsTotal: 71000,
    elapsedSec: 600, activeSec: 120, pausedSec: 450, throttledSec: 30, ratePerSec: 100,
    recentRatePerSec: 150, etaSec: 0, throttled: false, stalled: false });
  assert.equal(paused.status, 'paused');
  assert.equal(paused.state, 'paused: site busy');
  assert.deepEqual(plain(paused.facts), [['Started', '2025-10-09 11:59:00 UTC'],
    ['State', 'paused: site busy'], ['Paused at', '2025-10-09 12:00:00 UTC'],
    ['Rate (recent)', '150 rows/s'], ['Rate (lifetime)', '100 rows/s'], ['ETA', 'unknown while paused'],
    ['Active', '2m 0s'], ['Paused', '7m 30s'], ['Throttled', '30s'], ['Last progress', DASH]]);

  const throttled = A.migrationView({ name: 'b', status: 'running', throttled: true,
    throttleReason: 'WAL at 80 MB (limit 64 MB)', rowsProcessed: 1, rowsTotal: 2, activeSec: 10,
    pausedSec: 0, throttledSec: 5, ratePerSec: 0.1, recentRatePerSec: 0, etaSec: 10 });
  assert.equal(throttled.status, 'running');
  assert.equal(throttled.state, 'throttled: WAL at 80 MB (limit 64 MB)');
  assert.equal(plain(throttled.facts).find((f) => f[0] === 'State')[1], 'throttled: WAL at 80 MB (limit 64 MB)');

  // A paused job without a reason, and a server that sends no control fields at all.
  assert.equal(A.migrationView({ status: 'paused' }).state, 'paused');
  const plainRunning = A.migrationView({ status: 'running', ratePerSec: 5 });
  assert.equal(plainRunning.state, 'running');
  assert.equal(plain(plainRunning.facts).find((f) => f[0] === 'State'), undefined, 'no State row for a plain run');
});

test('migrations panel: a recurring job shows its interval and next run', () => {
  const last = A.migrationView({ name: 'retention', kind: 'recurring', everySec: 3600, status: 'done',
    startedAt: '2025-10-09 10:00:00', endedAt: '2025-10-09 10:00:12', elapsedSec: 12,
    nextRunAt: '2025-10-09T11:00:12Z', rowsProcessed: 5, rowsTotal: 5 });
  assert.deepEqual(plain(last.facts), [['Started', '2025-10-09 10:00:00 UTC'], ['Ended', '2025-10-09 10:00:12 UTC'],
    ['Duration', '12s'], ['Runs every', '1h 0m 0s'], ['Next run', '2025-10-09 11:00:12 UTC']]);
  // While it runs there is no next run yet; a one-off migration has neither fact.
  const now = A.migrationView({ name: 'retention', kind: 'recurring', everySec: 3600, status: 'running',
    elapsedSec: 3, ratePerSec: 10 });
  assert.deepEqual(plain(now.facts.slice(-2)), [['Runs every', '1h 0m 0s'], ['Next run', 'after this run']]);
  const once = A.migrationView({ name: 'm', kind: 'migration', status: 'done', elapsedSec: 1 });
  assert.ok(!once.facts.some((f) => f[0] === 'Next run' || f[0] === 'Runs every'));
});
