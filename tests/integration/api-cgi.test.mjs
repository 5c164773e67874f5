// The responder's handlers, run as one-shot CGI against database files in
// every state an operator can meet: each test checks the status code, the
// headers and the exact JSON.
import { test, before } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { writeFileSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { cgi, json, sqlite, SCHEMA, FCGI } from '../lib/cgi.mjs';

const MIGRATION_KEYS = ['name', 'status', 'startedAt', 'endedAt', 'lastUpdateAt', 'rowsProcessed',
  'rowsTotal', 'elapsedSec', 'etaSec', 'ratePerSec', 'errorMessage', 'stalled', 'kind'];

let dir;
const dbs = {};

function makeDb(name, sql) {
  const file = path.join(dir, `${name}.db`);
  sqlite(file, sql);
  dbs[name] = file;
  return file;
}

before(() => {
  dir = tempDir('meshscope-cgi-');
  makeDb('running', `${SCHEMA}
    INSERT INTO _async_migrations VALUES ('tx_last_seen_backfill_v1', 'pending_async',
      datetime('now', '-100 seconds'), NULL, NULL, 1000, 5000, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));`);
  makeDb('done', `${SCHEMA}
    INSERT INTO _async_migrations VALUES ('tx_last_seen_backfill_v1', 'done',
      '2024-01-01 00:00:00', '2024-01-01 00:00:40', NULL, 71000, 71000, '2024-01-01T00:00:40Z');`);
  makeDb('failed', `${SCHEMA}
    INSERT INTO _async_migrations VALUES ('tx_last_seen_backfill_v1', 'failed',
      '2024-01-01 00:00:00', '2024-01-01 00:00:10', 'database or disk is full', 500, 71000,
      '2024-01-01T00:00:09Z');`);
  makeDb('unknown', `${SCHEMA}
    INSERT INTO _async_migrations VALUES ('mystery', 'paused', '2024-01-01 00:00:00', NULL,
      'not shown: only failed keeps its error', 5, 10, NULL);`);
  makeDb('malformed', `${SCHEMA}
    INSERT INTO _async_migrations VALUES ('tx_last_seen_backfill_v1', 'pending_async',
      'yesterday-ish', NULL, NULL, 10, 100, NULL);`);
  makeDb('stalled', `${SCHEMA}
    INSERT INTO _async_migrations VALUES ('tx_last_seen_backfill_v1', 'pending_async',
      datetime('now', '-600 seconds'), NULL, NULL, 10, 100,
      strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-120 seconds'));`);
  makeDb('badutf8', `${SCHEMA}
    INSERT INTO _async_migrations VALUES (CAST(X'6dff' AS TEXT), 'failed', '2024-01-01 00:00:00',
      '2024-01-01 00:00:01', CAST(X'626164c0af' AS TEXT), 0, 1, NULL);`);
  makeDb('empty', SCHEMA);
  makeDb('missing', `CREATE TABLE transmissions(id INTEGER PRIMARY KEY, hash TEXT);`);
  makeDb('legacy', `CREATE TABLE _async_migrations(name TEXT PRIMARY KEY, status TEXT NOT NULL,
    started_at TEXT NOT NULL DEFAULT (datetime('now')), ended_at TEXT, error TEXT);
    INSERT INTO _async_migrations(name, status) VALUES ('tx_last_seen_backfill_v1', 'pending_async');`);
  dbs.nodb = path.join(dir, 'never-created.db');
  dbs.garbage = path.join(dir, 'garbage.db');
  writeFileSync(dbs.garbage, 'this is not an SQLite database\n'.repeat(200));
  dbs.noperm = makeDb('noperm', SCHEMA);
  chmodSync(dbs.noperm, 0o000);
  makeDb('packets', `${SCHEMA}
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25)
    INSERT INTO transmissions(id, hash, raw_hex, payload_type, first_seen, last_seen)
      SELECT i, printf('h%02d', i), '00', CASE WHEN i = 3 THEN NULL ELSE i % 4 END,
             1000 + i, CASE WHEN i % 5 = 0 THEN 0 ELSE 2000 + i END FROM n;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60)
    INSERT INTO observations(transmission_id, timestamp) SELECT 1 + (i % 20), 3000 + i FROM n;
    INSERT INTO _async_migrations VALUES ('tx_last_seen_backfill_v1', 'done',
      '2024-01-01 00:00:00', '2024-01-01 00:00:01', NULL, 25, 25, NULL);`);
});

function assertCommonHeaders(res, contentType = 'application/json') {
  assert.equal(res.headers['content-type'], contentType);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(Number(res.headers['content-length']), res.bodyBytes.length);
}

function get(dbName, uri, extra = {}) {
  const res = cgi({ db: dbs[dbName], uri, ...extra });
  return res;
}

function assertMigrationShape(m) {
  for (const key of Object.keys(m)) assert.ok(MIGRATION_KEYS.includes(key), `unexpected key ${key}`);
  // These databases predate recurring jobs: every row is a one-off migration's.
  assert.equal(m.kind, 'migration');
  for (const key of ['elapsedSec', 'etaSec', 'ratePerSec']) {
    assert.equal(typeof m[key], 'number');
    assert.ok(Number.isFinite(m[key]) && m[key] >= 0, `${key} = ${m[key]}`);
  }
}

test('running migration: progress, elapsed, rate and ETA; healthz says running', () => {
  const res = get('running', '/api/healthz');
  assert.equal(res.status, 200);
  assertCommonHeaders(res);
  const body = json(res);
  assert.deepEqual(Object.keys(body).sort(), ['async_migrations', 'async_migrations_running', 'ready']);
  assert.equal(body.ready, true);
  assert.equal(body.async_migrations_running, true);
  const [m] = body.async_migrations;
  assertMigrationShape(m);
  assert.deepEqual(Object.keys(m).sort(), ['elapsedSec', 'etaSec', 'kind', 'lastUpdateAt', 'name', 'ratePerSec',
    'rowsProcessed', 'rowsTotal', 'stalled', 'startedAt', 'status']);
  assert.equal(m.name, 'tx_last_seen_backfill_v1');
  assert.equal(m.status, 'running');
  assert.match(m.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(m.rowsProcessed, 1000);
  assert.equal(m.rowsTotal, 5000);
  assert.ok(m.elapsedSec >= 99 && m.elapsedSec <= 110, `elapsedSec ${m.elapsedSec}`);
  assert.ok(Math.abs(m.ratePerSec - 1000 / m.elapsedSec) < 0.01, `ratePerSec ${m.ratePerSec}`);
  assert.ok(Math.abs(m.etaSec - 4000 / m.ratePerSec) < 2, `etaSec ${m.etaSec}`);
  assert.equal(m.stalled, false);

  const list = get('running', '/api/perf/async-migrations');
  assert.equal(list.status, 200);
  assertCommonHeaders(list);
  const arr = json(list);
  assert.equal(arr.length, 1);
  assert.equal(arr[0].status, 'running');
});

test('done migration: elapsed is endedAt - startedAt, nothing running', () => {
  const body = json(get('done', '/api/healthz'));
  assert.equal(body.async_migrations_running, false);
  assert.deepEqual(body.async_migrations, [{
    kind: 'migration',
    name: 'tx_last_seen_backfill_v1', status: 'done', startedAt: '2024-01-01T00:00:00Z',
    endedAt: '2024-01-01T00:00:40Z', lastUpdateAt: '2024-01-01T00:00:40Z', rowsProcessed: 71000,
    rowsTotal: 71000, elapsedSec: 40, etaSec: 0, ratePerSec: 1775, stalled: false,
  }]);
});

test('failed migration keeps its error message', () => {
  const res = get('failed', '/api/perf/async-migrations');
  assert.equal(res.status, 200);
  assertCommonHeaders(res);
  assert.deepEqual(json(res), [{
    kind: 'migration',
    name: 'tx_last_seen_backfill_v1', status: 'failed', startedAt: '2024-01-01T00:00:00Z',
    endedAt: '2024-01-01T00:00:10Z', lastUpdateAt: '2024-01-01T00:00:09Z', rowsProcessed: 500,
    rowsTotal: 71000, elapsedSec: 10, etaSec: 0, ratePerSec: 50,
    errorMessage: 'database or disk is full', stalled: false,
  }]);
  assert.equal(json(get('failed', '/api/healthz')).async_migrations_running, false);
});

test('an unknown status maps to unknown, never running, and drops the stored error', () => {
  const body = json(get('unknown', '/api/healthz'));
  assert.equal(body.async_migrations_running, false);
  assert.deepEqual(body.async_migrations, [{
    kind: 'migration',
    name: 'mystery', status: 'unknown', startedAt: '2024-01-01T00:00:00Z', rowsProcessed: 5,
    rowsTotal: 10, elapsedSec: 0, etaSec: 0, ratePerSec: 0, stalled: false,
  }]);
});

test('a malformed started_at is reported in errorMessage whatever the status', () => {
  const body = json(get('malformed', '/api/healthz'));
  assert.equal(body.async_migrations_running, true);
  assert.deepEqual(body.async_migrations, [{
    kind: 'migration',
    name: 'tx_last_seen_backfill_v1', status: 'running', rowsProcessed: 10, rowsTotal: 100,
    elapsedSec: 0, etaSec: 0, ratePerSec: 0,
    errorMessage: "started_at: unparseable timestamp 'yesterday-ish'", stalled: false,
  }]);
});

test('a running migration without progress for longer than the threshold is stalled', () => {
  assert.equal(json(get('stalled', '/api/healthz')).async_migrations[0].stalled, true);
  const lenient = cgi({ db: dbs.stalled, uri: '/api/healthz', args: ['--stalled-after-s', '300'] });
  assert.equal(json(lenient).async_migrations[0].stalled, false);
});

test('invalid UTF-8 stored in the database never reaches the JSON', () => {
  const res = get('badutf8', '/api/perf/async-migrations');
  const [m] = json(res); // json() decodes with fatal: true
  assert.equal(m.name, 'm\ufffd');
  assert.equal(m.errorMessage, 'bad\ufffd\ufffd');
});

test('an empty table: ready, [] and nothing running', () => {
  const res = get('empty', '/api/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(json(res), { ready: true, async_migrations: [], async_migrations_running: false });
  const list = get('empty', '/api/perf/async-migrations');
  assert.equal(list.status, 200);
  assert.equal(list.body, '[]');
});

test('a missing table: healthz 503 (no schema yet), async-migrations []', () => {
  const res = get('missing', '/api/healthz');
  assert.equal(res.status, 503);
  assertCommonHeaders(res);
  assert.deepEqual(json(res), { ready: false, reason: 'schema not created yet' });
  const list = get('missing', '/api/perf/async-migrations');
  assert.equal(list.status, 200);
  assert.equal(list.body, '[]');
});

test('no database file: healthz 503, async-migrations [], and the file is not created', () => {
  const res = get('nodb', '/api/healthz');
  assert.equal(res.status, 503);
  assertCommonHeaders(res);
  assert.deepEqual(json(res), { ready: false, reason: 'no database yet' });
  const list = get('nodb', '/api/perf/async-migrations');
  assert.equal(list.status, 200);
  assertCommonHeaders(list);
  assert.equal(list.body, '[]');
  assert.deepEqual(json(get('nodb', '/api/stats')), { transmissions: 0, observations: 0, newestLastSeen: null });
  assert.deepEqual(json(get('nodb', '/api/packets')), { packets: [], next: null });
  assert.equal(existsSync(dbs.nodb), false);
});

function assertReadFailure(dbName, extra = {}) {
  const res = get(dbName, '/api/healthz', extra);
  assert.equal(res.status, 200);
  assertCommonHeaders(res);
  const body = json(res);
  assert.deepEqual(Object.keys(body).sort(),
    ['async_migrations', 'async_migrations_error', 'async_migrations_running', 'ready']);
  assert.equal(body.ready, true);
  assert.deepEqual(body.async_migrations, []);
  assert.equal(body.async_migrations_running, true, 'fail closed');
  assert.equal(typeof body.async_migrations_error, 'string');
  assert.ok(body.async_migrations_error.length > 0);

  const list = get(dbName, '/api/perf/async-migrations', extra);
  assert.equal(list.status, 500);
  assertCommonHeaders(list);
  const err = json(list);
  assert.deepEqual(Object.keys(err), ['error']);
  assert.equal(typeof err.error, 'string');
  return { healthz: body, list: err };
}

test('a file that is not a database: healthz fails closed, async-migrations 500', () => {
  const { healthz } = assertReadFailure('garbage');
  assert.match(healthz.async_migrations_error, /not a database/);
});

test('an unreadable database file: healthz fails closed, async-migrations 500', (t) => {
  // root reads any file; run the responder as nobody so the permission bits count.
  const extra = process.getuid() === 0 ? { uid: 65534 } : {};
  const { healthz } = assertReadFailure('noperm', extra);
  assert.match(healthz.async_migrations_error, /unable to open|cannot open/);
});

test('a legacy five-column table is a read failure, not a crash', () => {
  const { healthz } = assertReadFailure('legacy');
  assert.match(healthz.async_migrations_error, /no such column/);
});

test('packets: keyset pagination by id, newest first, with observation counts', () => {
  const first = get('packets', '/api/packets?limit=10');
  assert.equal(first.status, 200);
  assertCommonHeaders(first);
  const page1 = json(first);
  assert.deepEqual(Object.keys(page1).sort(), ['next', 'packets']);
  assert.deepEqual(page1.packets.map((p) => p.id), [25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
  assert.equal(page1.next, 16);
  assert.deepEqual(page1.packets[5], { id: 20, hash: 'h20', payloadType: 0, firstSeen: 1020, lastSeen: 0, observations: 3 });
  assert.deepEqual(page1.packets[0], { id: 25, hash: 'h25', payloadType: 1, firstSeen: 1025, lastSeen: 0, observations: 0 });
  const page2 = json(get('packets', '/api/packets?limit=10&before=16'));
  assert.deepEqual(page2.packets.map((p) => p.id), [15, 14, 13, 12, 11, 10, 9, 8, 7, 6]);
  assert.equal(page2.next, 6);
  const page3 = json(get('packets', '/api/packets?limit=10&before=6'));
  assert.deepEqual(page3.packets.map((p) => p.id), [5, 4, 3, 2, 1]);
  assert.equal(page3.next, null);
  assert.equal(page3.packets[2].payloadType, null);
  assert.equal(page3.packets[0].observations, 3); // 60 observations over tx 1..20: 3 each
  const exact = json(get('packets', '/api/packets?limit=5&before=6'));
  assert.equal(exact.packets.length, 5);
  assert.equal(exact.next, null, 'no next page when the last page is exactly full');
  const dflt = json(get('packets', '/api/packets'));
  assert.equal(dflt.packets.length, 25);
  assert.equal(dflt.next, null);
});

test('an SQLite error text with CR/LF reaches the log as one line', () => {
  // SQLite quotes the name of a malformed schema entry in its error text.
  const file = makeDb('logforge', `CREATE TABLE _async_migrations(name TEXT);
    PRAGMA writable_schema = ON;
    INSERT INTO sqlite_master VALUES ('view', 'x' || char(13, 10) || 'Set-Cookie: pwn=1' || char(13, 10)
      || '<script>alert(1)</script>', 'x', 0, 'CREATE VIEW nope AS');`);
  const res = cgi({ db: file, uri: '/api/perf' });
  assert.equal(res.status, 200);
  assert.match(res.headers['x-async-migrations-error'], /malformed database schema/);
  const lines = res.stderr.split('\n').filter(Boolean);
  const logged = lines.filter((l) => l.includes('/api/perf: reading _async_migrations'));
  assert.equal(logged.length, 1, res.stderr);
  assert.match(logged[0], /\(x\\x0d\\x0aSet-Cookie: pwn=1\\x0d\\x0a<script>alert\(1\)<\/script>\)/);
  for (const line of lines) assert.match(line, /^\S+ (warn|error|info|debug) +fcgi: /, `a line the logger did not start: ${line}`);
  assert.doesNotMatch(res.stderr, /\r/);
});

test('a FIFO or a held lock at the stats file delays a CGI answer by at most a moment', async () => {
  const fifo = path.join(dir, 'stats.fifo');
  spawnSync('mkfifo', [fifo]);
  let started = Date.now();
  const viaFifo = cgi({ db: dbs.done, uri: '/api/perf', args: ['--stats-file', fifo] });
  assert.equal(viaFifo.status, 200);
  assert.equal(json(viaFifo).pool.shared, false);
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms with a FIFO`);
  assert.match(viaFifo.stderr, /not a regular file/);

  const locked = path.join(dir, 'stats.locked');
  writeFileSync(locked, '');
  const holder = spawn('flock', ['-x', locked, 'sleep', '6'], { stdio: 'ignore' });
  try {
    await waitFor(() => spawnSync('flock', ['-n', '-s', locked, 'true']).status !== 0, { what: 'the lock to be held' });
    started = Date.now();
    const res = cgi({ db: dbs.done, uri: '/api/metrics', args: ['--stats-file', locked] });
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms behind a held lock`);
    assert.match(res.stderr, /cannot lock stats file/);
  } finally {
    holder.kill();
  }
});

test('a socket it cannot listen on is named with the system\'s reason', () => {
  const res = spawnSync(FCGI, ['--db', dbs.done, '--listen', `unix:${dir}/no-such-dir/fcgi.sock`],
    { encoding: 'utf8', timeout: 10000 });
  assert.equal(res.status, 1, res.stderr);
  assert.match(res.stderr, /cannot listen on unix:.*no-such-dir\/fcgi\.sock: No such file or directory/);
});

test('packets lists the row whose id is INT64_MAX, which stats counts', () => {
  const file = makeDb('maxid', `${SCHEMA}
    INSERT INTO transmissions(id, hash, raw_hex, payload_type, first_seen) VALUES
      (1, 'low', '00', 1, 1000), (9223372036854775807, 'top', '01', 1, 2000);`);
  assert.equal(json(cgi({ db: file, uri: '/api/stats' })).transmissions, 2);
  const page = cgi({ db: file, uri: '/api/packets' });
  assert.equal(page.status, 200);
  assert.deepEqual(json(page).packets.map((p) => p.hash), ['top', 'low']);
  assert.match(page.body, /"id":9223372036854775807,/);
  const first = json(cgi({ db: file, uri: '/api/packets?limit=1' }));
  assert.deepEqual(first.packets.map((p) => p.hash), ['top']);
  const rest = cgi({ db: file, uri: '/api/packets?limit=1&before=9223372036854775807' });
  assert.deepEqual(json(rest).packets.map((p) => p.hash), ['low']);
});

test('stats: exact totals and the newest last_seen', () => {
  const res = get('packets', '/api/stats');
  assert.equal(res.status, 200);
  assertCommonHeaders(res);
  assert.deepEqual(json(res), { transmissions: 25, observations: 60, newestLastSeen: 2024 });
  assert.deepEqual(json(get('empty', '/api/stats')), { transmissions: 0, observations: 0, newestLastSeen: null });
});

test('bad parameters get 400 JSON errors that never echo the raw bytes', () => {
  const cases = [
    'limit=abc', 'limit=0', 'limit=501', 'limit=-1', 'limit=1e3', 'limit=+5', 'limit=%20',
    'limit=', 'limit', 'limit=1&limit=2', `limit=${'9'.repeat(30)}`, 'limit=%ff', 'limit=%00',
    'limit=%zz', 'before=0', 'before=abc', 'before=9223372036854775808', 'before=%c0%af',
  ];
  for (const query of cases) {
    const res = get('packets', `/api/packets?${query}`);
    assert.equal(res.status, 400, query);
    assertCommonHeaders(res);
    const body = json(res);
    assert.deepEqual(Object.keys(body), ['error'], query);
    assert.ok(!body.error.includes('\ufffd'), `${query}: ${body.error}`);
  }
});

test('unknown parameters are ignored', () => {
  const res = get('packets', '/api/packets?limit=2&_=1700000000&x=%ff');
  assert.equal(res.status, 200);
  assert.equal(json(res).packets.length, 2);
});

test('unknown paths get 404 JSON, other methods 405 JSON with Allow', () => {
  for (const uri of ['/api/nope', '/api/healthz/', '/api/HEALTHZ', '/', '/api/%ff', '/api/healthz%00']) {
    const res = get('empty', uri);
    assert.equal(res.status, 404, uri);
    assertCommonHeaders(res);
    assert.deepEqual(json(res), { error: 'no such endpoint' });
  }
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'get', 'BREW']) {
    const res = cgi({ db: dbs.empty, method, uri: '/api/healthz' });
    assert.equal(res.status, 405, method);
    assertCommonHeaders(res);
    assert.equal(res.headers.allow, 'GET, HEAD');
    assert.equal(typeof json(res).error, 'string');
  }
});

test('HEAD answers like GET without a body, on every endpoint', () => {
  for (const uri of ['/api/healthz', '/api/perf/async-migrations', '/api/stats', '/api/packets?limit=3',
    '/api/packets?limit=x', '/api/nope']) {
    const getRes = get('packets', uri);
    const headRes = cgi({ db: dbs.packets, method: 'HEAD', uri });
    assert.equal(headRes.status, getRes.status, uri);
    assert.equal(headRes.headers['content-type'], getRes.headers['content-type']);
    assert.equal(headRes.headers['content-length'], getRes.headers['content-length']);
    assert.equal(headRes.bodyBytes.length, 0, uri);
  }
});

test('SCRIPT_NAME + PATH_INFO route like REQUEST_URI', () => {
  const res = cgi({ db: dbs.done, scriptName: '/api', pathInfo: '/healthz', query: '' });
  assert.equal(res.status, 200);
  assert.equal(json(res).ready, true);
});

test('an oversized request target is refused with 400, not a crash', () => {
  const res = get('packets', `/api/packets?limit=1&pad=${'a'.repeat(10000)}`);
  assert.equal(res.status, 400);
  assert.equal(typeof json(res).error, 'string');
});

test('a full pass of requests leaves every database file unchanged byte for byte', () => {
  const names = ['running', 'done', 'failed', 'unknown', 'malformed', 'empty', 'missing', 'legacy', 'packets'];
  const hash = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
  const before = Object.fromEntries(names.map((n) => [n, hash(dbs[n])]));
  const uris = ['/api/healthz', '/api/perf/async-migrations', '/api/stats', '/api/packets?limit=500',
    '/api/packets?limit=1&before=3', '/api/nope'];
  for (const n of names) {
    for (const uri of uris) get(n, uri);
    cgi({ db: dbs[n], method: 'POST', uri: '/api/healthz' });
  }
  for (const n of names) assert.equal(hash(dbs[n]), before[n], n);
});

function promtool(text) {
  const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(res.status, 0, `promtool: ${res.stdout}${res.stderr}`);
  assertNoRepeatedSeries(text);
}

// promtool 2.42 accepts a series given twice; Prometheus would drop all but one.
function assertNoRepeatedSeries(text) {
  const seen = new Set();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const series = line.slice(0, line.lastIndexOf(' '));
    assert.ok(!seen.has(series), `series given twice: ${series}`);
    seen.add(series);
  }
}

test('metrics: names that differ only after a NUL, in invalid UTF-8 or as BLOB and TEXT stay distinct series', () => {
  const file = makeDb('lookalikes', `${SCHEMA}
    INSERT INTO _async_migrations(name, status, rows_processed) VALUES
      ('a', 'done', 1), (CAST(X'610062' AS TEXT), 'pending_async', 2), (CAST(X'610063' AS TEXT), 'done', 3),
      (CAST(X'61ff' AS TEXT), 'failed', 4), (CAST(X'61fe' AS TEXT), 'done', 5), (X'61', 'bogus', 6),
      (CAST(X'61efbfbd' AS TEXT), 'done', 7);`);
  const text = cgi({ db: file, uri: '/api/metrics' }).body;
  promtool(text);
  const processed = text.split('\n').filter((l) => l.startsWith('meshscope_async_migration_rows_processed{'));
  assert.equal(processed.length, 7, processed.join('\n'));
  assert.deepEqual(processed.map((l) => Number(l.slice(l.lastIndexOf(' ') + 1))).sort(), [1, 2, 3, 4, 5, 6, 7]);
  // A plain name keeps its plain label; the others carry their exact bytes too.
  assert.match(text, /^meshscope_async_migration_rows_processed\{name="a"\} 1$/m);
  assert.match(text, /^meshscope_async_migration_rows_processed\{name="a\uFFFD",name_raw="text:61ff"\} 4$/m);
  assert.match(text, /^meshscope_async_migration_rows_processed\{name="a",name_raw="blob:61"\} 6$/m);
  assert.match(text, /^meshscope_async_migration_status\{name="a",name_raw="text:610062",status="running"\} 1$/m);
});

test('perf: a failed migrations read leaves the rest flowing, with X-Async-Migrations-Error', () => {
  for (const name of ['legacy', 'garbage']) {
    const res = get(name, '/api/perf');
    assert.equal(res.status, 200, name);
    assertCommonHeaders(res);
    assert.ok(res.headers['x-async-migrations-error'].length > 0, name);
    const body = json(res);
    assert.deepEqual(body.async_migrations, []);
    assert.equal(body.pool.responderCount, 1);
    assert.equal(body.pool.shared, false);
    assert.deepEqual(Object.keys(body.endpoints), ['/api/healthz', '/api/perf/async-migrations', '/api/perf/sqlite', '/api/perf',
      '/api/stats', '/api/packets', '/api/metrics', '/api/observers', '/api/packets/', '/api/traffic',
      'other']);
    assert.deepEqual(body.endpoints['/api/healthz'], { requests: 0, byStatus: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
      latencyMs: { p50: 0, p95: 0, p99: 0 } });
  }
  assert.match(get('legacy', '/api/perf').stderr, /\/api\/perf: reading _async_migrations: no such column/);
});

test('perf: migrations and no error header when the read works; no database is no error', () => {
  const res = get('failed', '/api/perf');
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-async-migrations-error'], undefined);
  const body = json(res);
  assert.equal(body.async_migrations[0].errorMessage, 'database or disk is full');
  assert.equal(body.responders[0].self, true);
  assert.ok(body.responders[0].rssBytes > 0);
  assert.equal(body.ingest, undefined, 'no _ingest_stats table: no ingest section');
  const none = get('nodb', '/api/perf');
  assert.equal(none.status, 200);
  assert.equal(none.headers['x-async-migrations-error'], undefined);
  assert.deepEqual(json(none).async_migrations, []);
});

test('metrics: Prometheus text that promtool accepts, in every database state', () => {
  for (const name of ['running', 'done', 'failed', 'unknown', 'malformed', 'stalled', 'badutf8', 'empty',
    'missing', 'legacy', 'nodb', 'garbage']) {
    const res = get(name, '/api/metrics');
    assert.equal(res.status, 200, name);
    assertCommonHeaders(res, 'text/plain; version=0.0.4');
    promtool(res.body);
  }
  const running = get('running', '/api/metrics').body;
  assert.match(running, /^meshscope_async_migration_status\{name="tx_last_seen_backfill_v1",status="running"\} 1$/m);
  assert.match(running, /^meshscope_async_migration_status\{name="tx_last_seen_backfill_v1",status="done"\} 0$/m);
  assert.match(running, /^meshscope_async_migration_rows_processed\{name="tx_last_seen_backfill_v1"\} 1000$/m);
  assert.match(running, /^meshscope_async_migration_rows_planned\{name="tx_last_seen_backfill_v1"\} 5000$/m);
  assert.match(running, /^meshscope_async_migration_eta_seconds\{name="tx_last_seen_backfill_v1"\} [\d.]+$/m);
  assert.match(running, /^meshscope_async_migration_stalled\{name="tx_last_seen_backfill_v1"\} 0$/m);
  assert.match(get('stalled', '/api/metrics').body, /^meshscope_async_migration_stalled\{name="tx_last_seen_backfill_v1"\} 1$/m);
  assert.match(get('unknown', '/api/metrics').body, /^meshscope_async_migration_status\{name="mystery",status="unknown"\} 1$/m);
  const legacy = get('legacy', '/api/metrics');
  assert.ok(legacy.headers['x-async-migrations-error'].length > 0);
  assert.match(legacy.body, /^meshscope_async_migrations_read_error 1$/m);
  assert.match(get('done', '/api/metrics').body, /^meshscope_async_migrations_read_error 0$/m);
});

test('ingest figures: reported when _ingest_stats has its row, omitted quietly otherwise', () => {
  const file = makeDb('ingest', `${SCHEMA}
    CREATE TABLE _ingest_stats(id INTEGER PRIMARY KEY CHECK (id = 1), lines_accepted INTEGER NOT NULL DEFAULT 0,
      lines_rejected INTEGER NOT NULL DEFAULT 0, lines_acked INTEGER NOT NULL DEFAULT 0,
      commits INTEGER NOT NULL DEFAULT 0, commit_rows_max INTEGER NOT NULL DEFAULT 0,
      ack_latency_p50_ms REAL NOT NULL DEFAULT 0, ack_latency_p99_ms REAL NOT NULL DEFAULT 0, updated_at TEXT);`);
  const perfOf = () => json(cgi({ db: file, uri: '/api/perf' }));
  assert.equal(perfOf().ingest, undefined, 'table without its row');
  sqlite(file, `INSERT INTO _ingest_stats VALUES (1, 1200, 3, 1190, 40, 64, 0.75, 12.5, '2024-01-01T00:00:00Z');`);
  assert.deepEqual(perfOf().ingest, { linesAccepted: 1200, linesRejected: 3, linesAcked: 1190, commits: 40,
    commitRowsMax: 64, ackLatencyP50Ms: 0.75, ackLatencyP99Ms: 12.5, updatedAt: '2024-01-01T00:00:00Z' });
  const text = cgi({ db: file, uri: '/api/metrics' }).body;
  promtool(text);
  assert.match(text, /^meshscope_ingest_lines_accepted_total 1200$/m);
  assert.match(text, /^meshscope_ingest_lines_rejected_total 3$/m);
  assert.match(text, /^meshscope_ingest_ack_latency_p99_seconds 0.0125$/m);
  assert.doesNotMatch(get('done', '/api/metrics').body, /meshscope_ingest_/);
});

test('metrics: the database and WAL file sizes, so a WAL that checkpoints cannot shrink shows', () => {
  const db = makeDb('walsize', `${SCHEMA} PRAGMA journal_mode = WAL;`);
  const walBody = (wal) => {
    writeFileSync(`${db}-wal`, Buffer.alloc(wal));
    return get('walsize', '/api/metrics').body.toString();
  };
  const sample = (text, name) => Number(text.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1]);
  const text = walBody(0);
  assert.equal(sample(text, 'meshscope_sqlite_database_bytes'), readFileSync(db).length);
  assert.equal(sample(text, 'meshscope_sqlite_wal_bytes'), 0);
  // Only the file's size counts (a zero-filled log has no valid header, so
  // SQLite reads the database without it).
  assert.equal(sample(walBody(65536), 'meshscope_sqlite_wal_bytes'), 65536);
  const noDb = cgi({ db: path.join(dir, 'absent.db'), uri: '/api/metrics' }).body.toString();
  assert.doesNotMatch(noDb, /meshscope_sqlite_/, 'nothing is reported before the worker made the file');
});
