// Every endpoint of docs/api.md through nginx and a pool of two responders:
// pool-wide figures add up across processes, /api/metrics passes promtool,
// and /api/stats stays exact while rows arrive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startStack, tempDir, waitFor } from '../lib/stack.mjs';
import { sqlite, SCHEMA } from '../lib/cgi.mjs';

let stack;
const TX = 30;
const OBS = 75;

before(async () => {
  const dir = tempDir('meshscope-api-stack-');
  const db = path.join(dir, 'meshscope.db');
  // Every transmission already has last_seen, so a backfill has nothing to do.
  sqlite(db, `PRAGMA journal_mode = WAL; ${SCHEMA}
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${TX})
    INSERT INTO transmissions(hash, raw_hex, payload_type, first_seen, last_seen)
      SELECT printf('hash%03d', i), 'ab', i % 3, 1000 + i, 5000 + i FROM n;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${OBS})
    INSERT INTO observations(transmission_id, timestamp) SELECT 1 + (i % ${TX}), 5000 + (i % ${TX}) FROM n;`);
  stack = await startStack({ db, dir, numprocs: 2 });
  await waitFor(async () => (await fetch(`${stack.url}/api/healthz`)).status === 200,
    { what: 'healthz 200' });
});

after(async () => {
  await stack?.stop();
});

async function getJson(p, init) {
  const res = await fetch(`${stack.url}${p}`, init);
  const text = await res.text();
  return { res, body: text ? JSON.parse(text) : null };
}

function assertApiHeaders(res) {
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
}

test('healthz through nginx: ready, the migrations array and a running flag', async () => {
  const { res, body } = await getJson('/api/healthz');
  assert.equal(res.status, 200);
  assertApiHeaders(res);
  assert.equal(body.ready, true);
  assert.ok(Array.isArray(body.async_migrations));
  assert.equal(typeof body.async_migrations_running, 'boolean');
  assert.equal(body.async_migrations_error, undefined);
});

test('async-migrations through nginx: an array of §4 info objects', async () => {
  const { res, body } = await getJson('/api/perf/async-migrations');
  assert.equal(res.status, 200);
  assertApiHeaders(res);
  assert.ok(Array.isArray(body));
  for (const m of body) {
    assert.equal(typeof m.name, 'string');
    assert.ok(['running', 'done', 'failed', 'unknown'].includes(m.status));
    for (const k of ['rowsProcessed', 'rowsTotal', 'elapsedSec', 'etaSec', 'ratePerSec']) {
      assert.ok(Number.isFinite(m[k]), `${k}: ${m[k]}`);
    }
    assert.equal(typeof m.stalled, 'boolean');
  }
});

test('packets through nginx: keyset pages that join up', async () => {
  const seen = [];
  let before = null;
  for (let page = 0; page < 10; page++) {
    const { res, body } = await getJson(`/api/packets?limit=7${before ? `&before=${before}` : ''}`);
    assert.equal(res.status, 200);
    assertApiHeaders(res);
    seen.push(...body.packets.map((p) => p.id));
    if (body.next === null) break;
    before = body.next;
  }
  assert.equal(seen.length, TX);
  assert.deepEqual(seen, [...seen].sort((a, b) => b - a));
  const { body } = await getJson('/api/packets?limit=1');
  assert.deepEqual(Object.keys(body.packets[0]).sort(),
    ['firstSeen', 'hash', 'id', 'lastSeen', 'observations', 'payloadType']);
  const total = (await Promise.all(seen.map(async (id) =>
    (await getJson(`/api/packets?limit=1&before=${id + 1}`)).body.packets[0].observations)))
    .reduce((a, b) => a + b, 0);
  assert.equal(total, OBS);
});

test('stats stay exact on every responder as rows arrive', async () => {
  const read = async () => (await getJson('/api/stats')).body;
  // Ask often enough that both responders have counted once.
  for (let i = 0; i < 6; i++) {
    const s = await read();
    assert.equal(s.transmissions, TX);
    assert.equal(s.observations, OBS);
    assert.equal(s.newestLastSeen, 5000 + TX);
  }
  // A second writer adds rows; each responder must add exactly the new ones.
  sqlite(stack.db, `.timeout 5000
    INSERT INTO transmissions(hash, raw_hex, first_seen, last_seen) VALUES ('late1', 'ab', 1, 9001), ('late2', 'ab', 1, 9002);
    INSERT INTO observations(transmission_id, timestamp) VALUES (1, 9001), (2, 9002), (3, 9003);`);
  for (let i = 0; i < 6; i++) {
    const { res, body } = await getJson('/api/stats');
    assert.equal(res.status, 200);
    assertApiHeaders(res);
    assert.deepEqual(body, { transmissions: TX + 2, observations: OBS + 3, newestLastSeen: 9002 });
  }
});

async function perf() {
  const { res, body } = await getJson('/api/perf');
  assert.equal(res.status, 200);
  return body;
}

test('perf through nginx describes the pool: counts from every responder add up', async () => {
  const base = await perf();
  assert.equal(base.pool.shared, true);
  assert.equal(base.pool.responderCount, 2);
  const supervised = Object.entries(stack.pids()).filter(([n]) => n.startsWith('fcgi:')).map(([, p]) => p).sort();
  assert.deepEqual(base.responders.map((r) => r.pid).sort(), supervised);
  for (const r of base.responders) {
    assert.ok(r.rssBytes > 0 && Number.isFinite(r.uptimeSec));
  }
  // /api/stats: every request reaches the pool (healthz is microcached by nginx).
  const before = base.endpoints['/api/stats'].requests;
  const perPidBefore = Object.fromEntries(base.responders.map((r) => [r.pid, r.requests]));

  // Concurrent bursts until both responders have answered some (the kernel picks the acceptor).
  // A responder's total also counts the /api/perf calls made here, so it has
  // answered stats only when it grew by more than all of those together.
  // The pool's view of who answered is judged on that same snapshot: a later
  // /api/perf call may land on either responder and raise the bar again.
  let sent = 0;
  let perfCalls = 0;
  const answeredStats = (now) => now.responders.filter((r) => r.requests - (perPidBefore[r.pid] ?? 0) > perfCalls);
  const answered = await waitFor(async () => {
    const burst = await Promise.all(Array.from({ length: 20 }, () => fetch(`${stack.url}/api/stats`)));
    for (const r of burst) { assert.equal(r.status, 200); await r.arrayBuffer(); }
    sent += burst.length;
    const now = await perf();
    perfCalls++;
    const who = answeredStats(now);
    return who.length >= 2 ? who : null;
  }, { what: 'requests answered by both responders', intervalMs: 10 });
  assert.deepEqual(answered.map((r) => r.pid).sort(), supervised, 'both supervised responders answered stats');

  const after = await perf();
  const h = after.endpoints['/api/stats'];
  assert.equal(h.requests, before + sent, 'pool-wide stats count = before + sent');
  assert.equal(h.byStatus['2xx'], base.endpoints['/api/stats'].byStatus['2xx'] + sent);
  assert.ok(h.latencyMs.p50 > 0 && h.latencyMs.p50 <= h.latencyMs.p95 && h.latencyMs.p95 <= h.latencyMs.p99);
  // Counts only grow: every responder still shows at least what it showed then.
  for (const r of answered) {
    assert.ok(after.responders.find((a) => a.pid === r.pid).requests >= r.requests, `pids: ${JSON.stringify(after.responders)}`);
  }
  assert.equal(after.responders.filter((r) => r.self).length, 1);
  assert.ok(Array.isArray(after.async_migrations));
  assert.ok(existsSync(path.join(stack.dir, 'fcgi.stats')));
});

test('metrics through nginx pass promtool and agree with perf', async () => {
  // Count a 404 and a 400 so those series are non-zero too.
  await (await fetch(`${stack.url}/api/nope`)).arrayBuffer();
  await (await fetch(`${stack.url}/api/packets?limit=abc`)).arrayBuffer();
  const res = await fetch(`${stack.url}/api/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const text = await res.text();
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  for (const line of text.split('\n')) {
    if (line && !line.startsWith('#')) assert.match(line, /^meshscope_/);
  }
  const sample = (re) => {
    const m = text.match(re);
    assert.ok(m, `no sample matching ${re}`);
    return Number(m[1]);
  };
  assert.ok(sample(/^meshscope_http_requests_total\{endpoint="other",code="4xx"\} (\d+)$/m) >= 1);
  assert.ok(sample(/^meshscope_http_requests_total\{endpoint="\/api\/packets",code="4xx"\} (\d+)$/m) >= 1);
  assert.equal(sample(/^meshscope_responders (\d+)$/m), 2);
  const count = sample(/^meshscope_http_request_duration_seconds_count\{endpoint="\/api\/healthz"\} (\d+)$/m);
  const inf = sample(/^meshscope_http_request_duration_seconds_bucket\{endpoint="\/api\/healthz",le="\+Inf"\} (\d+)$/m);
  assert.equal(count, inf);
  const p = await perf();
  // healthz is not requested in between, so both views agree exactly.
  assert.equal(count, p.endpoints['/api/healthz'].requests);
  const migrations = (await getJson('/api/perf/async-migrations')).body;
  for (const m of migrations) {
    assert.match(text, new RegExp(`^meshscope_async_migration_status\\{name="${m.name}",status="${m.status}"\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^meshscope_async_migration_rows_processed\\{name="${m.name}"\\} `, 'm'));
  }
  assert.match(text, /^meshscope_async_migrations_read_error 0$/m);
});

test('live-ingest figures appear in perf and metrics once _ingest_stats has its row', async () => {
  sqlite(stack.db, `.timeout 5000
    INSERT OR IGNORE INTO _ingest_stats(id, lines_accepted, lines_rejected, lines_acked, commits,
      commit_rows_max, ack_latency_p50_ms, ack_latency_p99_ms, updated_at)
    VALUES (1, 10, 1, 10, 3, 5, 1.5, 4.25, '2024-01-01T00:00:00Z');`);
  const row = () => JSON.parse(sqlite(stack.db, '.mode json\nSELECT * FROM _ingest_stats WHERE id = 1;'))[0];
  await waitFor(async () => {
    const p = await perf();
    const expected = row();
    return p.ingest && p.ingest.linesAccepted === expected.lines_accepted &&
      p.ingest.linesRejected === expected.lines_rejected && p.ingest.commits === expected.commits;
  }, { what: 'perf.ingest to mirror _ingest_stats' });
  const text = await (await fetch(`${stack.url}/api/metrics`)).text();
  assert.match(text, /^meshscope_ingest_lines_accepted_total \d+$/m);
  assert.match(text, /^meshscope_ingest_ack_latency_p99_seconds [\d.e+-]+$/m);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
});

test('bad requests through nginx get JSON 400/404/405 from a responder, never HTML', async () => {
  const cases = [
    ['GET', '/api/packets?limit=0', 400], ['GET', '/api/packets?before=x', 400],
    ['GET', '/api/packets?limit=%ff', 400], ['GET', `/api/packets?limit=${'1'.repeat(40)}`, 400],
    ['GET', '/api/nope', 404], ['GET', '/api/%ff%fe', 404], ['GET', '/api/healthz/extra', 404],
    ['POST', '/api/healthz', 405], ['PUT', '/api/stats', 405], ['DELETE', '/api/packets', 405],
  ];
  for (const [method, p, status] of cases) {
    const { res, body } = await getJson(p, { method });
    assert.equal(res.status, status, `${method} ${p}`);
    assertApiHeaders(res);
    assert.equal(typeof body.error, 'string', `${method} ${p}`);
  }
});

test('HEAD through nginx works wherever GET does', async () => {
  for (const p of ['/api/healthz', '/api/perf', '/api/perf/async-migrations', '/api/stats',
    '/api/packets?limit=2', '/api/metrics']) {
    const res = await fetch(`${stack.url}${p}`, { method: 'HEAD' });
    assert.equal(res.status, 200, p);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  }
});

test('healthz is microcached for 1 s: a thousand requests reach the pool a few times, every answer under a second old', async () => {
  const COUNT = 1000;
  const count = async (endpoint) => (await perf()).endpoints[endpoint].requests;
  const before = await count('/api/healthz');
  const started = Date.now();
  let next = 0;
  let maxAgeMs = 0;
  const statuses = {};
  const cacheStates = {};
  const worker = async () => {
    while (next < COUNT) {
      next++;
      // Age when asked: how old an answer nginx chose to hand out (the client's own delays aside).
      const askedAt = Date.now();
      const res = await fetch(`${stack.url}/api/healthz`);
      const body = await res.json();
      const age = askedAt - Number(res.headers.get('x-generated-at-ms'));
      maxAgeMs = Math.max(maxAgeMs, age);
      statuses[res.status] = (statuses[res.status] || 0) + 1;
      cacheStates[res.headers.get('x-cache')] = (cacheStates[res.headers.get('x-cache')] || 0) + 1;
      assert.equal(body.ready, true);
      assert.equal(res.headers.get('cache-control'), 'no-store', 'browsers must not cache it themselves');
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
  const seconds = (Date.now() - started) / 1000;
  const reached = (await count('/api/healthz')) - before;
  console.log(`# healthz microcache: ${COUNT} requests in ${seconds.toFixed(2)} s, ${reached} reached the pool, ` +
    `oldest answer ${maxAgeMs} ms, ${JSON.stringify(cacheStates)}`);
  assert.deepEqual(statuses, { 200: COUNT });
  // At most one fill per wall-clock second the burst touched, plus one per responder race.
  assert.ok(reached >= 1 && reached <= Math.ceil(seconds) + 2, `${reached} requests reached the pool in ${seconds} s`);
  // An entry lives until the end of the second it was made in; while one request
  // refreshes it the others get the old one (use_stale updating) for that refresh's few ms.
  assert.ok(maxAgeMs <= 1100, `an answer ${maxAgeMs} ms old`);
  // Nothing else is cached: every stats request reaches the pool.
  const statsBefore = await count('/api/stats');
  for (let i = 0; i < 20; i++) assert.equal((await fetch(`${stack.url}/api/stats`)).status, 200);
  assert.equal((await count('/api/stats')) - statsBefore, 20);
});

test('a killed responder takes no counts with it', async () => {
  const before = (await perf()).endpoints['/api/healthz'].requests;
  const victim = stack.pids()['fcgi:fcgi_00'];
  process.kill(victim, 'SIGKILL');
  await waitFor(() => {
    const pid = stack.pids()['fcgi:fcgi_00'];
    return pid && pid !== victim;
  }, { what: 'a replacement fcgi_00' });
  await waitFor(async () => (await perf()).pool.responderCount === 2, { what: 'two live responders' });
  const after = await perf();
  assert.equal(after.endpoints['/api/healthz'].requests, before);
  assert.ok(!after.responders.some((r) => r.pid === victim));
});

test('responder resident memory stays within the 8 MiB target', async () => {
  const p = await perf();
  for (const r of p.responders) {
    const ps = spawnSync('ps', ['-o', 'rss=', '-p', String(r.pid)], { encoding: 'utf8' });
    const rssKiB = Number(ps.stdout.trim());
    console.log(`responder pid ${r.pid}: ps rss ${rssKiB} KiB, published ${Math.round(r.rssBytes / 1024)} KiB`);
    assert.ok(rssKiB > 0 && rssKiB <= 8 * 1024, `pid ${r.pid} rss ${rssKiB} KiB`);
  }
});
