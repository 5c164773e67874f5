// /api/observers, /api/packets/ID and /api/traffic run as one-shot CGI over
// crafted databases (docs/api.md): the exact answers, the error statuses and
// that no request scans all observations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../lib/stack.mjs';
import { cgi, json, sqlite } from '../lib/cgi.mjs';
import { WORKER } from '../lib/ingest.mjs';

let dir;
const now = Math.floor(Date.now() / 1000);

// A database with the worker's own schema, then `sql`.
function makeDb(name, sql = '') {
  const db = path.join(dir, `${name}.db`);
  execFileSync(WORKER, ['--db', db, '--run-once'], { stdio: 'ignore' });
  if (sql) sqlite(db, sql);
  return db;
}

before(() => { dir = tempDir('meshscope-obs-cgi-'); });
after(() => rmSync(dir, { recursive: true, force: true }));

test('/api/observers with no observers table, and with an empty one, is an empty list', () => {
  const legacy = path.join(dir, 'legacy.db');
  sqlite(legacy, 'CREATE TABLE transmissions(id INTEGER PRIMARY KEY, hash TEXT);');
  for (const db of [legacy, makeDb('none')]) {
    const res = cgi({ db, uri: '/api/observers' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(json(res).observers, []);
  }
});

test('/api/observers: NULL, empty and non-UTF-8 names, last hour figures and medians', () => {
  const db = makeDb('names', `
    INSERT INTO observers(id, name, packet_count, last_packet) VALUES ('a', NULL, 3, ${now - 10}),
      ('b', '', 1, ${now - 7200}), ('c', CAST(X'6fff6b' AS TEXT), 0, NULL);
    UPDATE observers SET model = 'T-Beam', firmware = 'v1.9', battery_mv = 3900, uptime_s = 60,
      noise_floor = -118.5, status_at = ${now} WHERE id = 'a';
    INSERT INTO transmissions(id, hash, raw_hex, first_seen, last_seen) VALUES (1, 'h', '1100aa', 1, 1);
    INSERT INTO observations(transmission_id, observer, snr, rssi, timestamp) VALUES
      (1, 'a', 1, -100, ${now - 30}), (1, 'a', 3, -90, ${now - 20}), (1, 'a', 8, NULL, ${now - 10}),
      (1, 'b', 5, -80, ${now - 7200});`);
  const res = cgi({ db, uri: '/api/observers' });
  assert.equal(res.status, 200);
  const list = json(res).observers;
  assert.deepEqual(list.map((o) => [o.id, o.name]), [['a', null], ['b', ''], ['c', 'o\ufffdk']]);
  const [a, b] = list;
  assert.equal(a.packetsLastHour, 3);
  assert.equal(a.medianSnrLastHour, 3);
  assert.equal(a.medianRssiLastHour, -95);
  assert.deepEqual([a.model, a.firmware, a.batteryMv, a.uptimeSec, a.noiseFloor],
    ['T-Beam', 'v1.9', 3900, 60, -118.5]);
  assert.equal(b.packetsLastHour, 0);
  assert.equal(b.medianSnrLastHour, null);
});

test('/api/packets/ID: decoded header, 0 and 500 observations, 404 and 400', () => {
  const rows = Array.from({ length: 500 }, (_, i) =>
    `(2, 'o${i % 7}', ${-i / 10}, -100, '["a${i % 10}","b1"]', ${now - i})`).join(',');
  // 0x26: DIRECT route, payload type ADVERT (4); path byte 0x42: hash size 2, 2 hops.
  const db = makeDb('packets', `
    INSERT INTO transmissions(id, hash, raw_hex, payload_type, first_seen, last_seen) VALUES
      (1, 'lonely', '1100aa', 4, 1, 1), (2, 'busy', '2642a1a2b3b4ffee', 4, 1, 1);
    INSERT INTO observations(transmission_id, observer, snr, rssi, path_json, timestamp) VALUES ${rows};`);
  const lonely = json(cgi({ db, uri: '/api/packets/1' }));
  assert.deepEqual(lonely.observations, []);
  const res = cgi({ db, uri: '/api/packets/2' });
  assert.equal(res.status, 200);
  const busy = json(res);
  assert.equal(busy.observations.length, 500);
  assert.deepEqual(busy.observations[0], { observer: 'o2', snr: -49.9, rssi: -100, hops: 2,
    path: ['a9', 'b1'], timestamp: now - 499 });
  assert.deepEqual(busy.decoded, { header: 0x26, routeType: 'DIRECT', payloadType: 9,
    payloadTypeName: 'TRACE', payloadVersion: 0, transportCodes: null, hashSize: 2, hopCount: 2,
    path: ['a1a2', 'b3b4'], payloadLength: 2 });
  const missing = cgi({ db, uri: '/api/packets/99' });
  assert.equal(missing.status, 404);
  assert.deepEqual(json(missing), { error: 'no such packet' });
  for (const bad of ['/api/packets/abc', '/api/packets/-1', '/api/packets/', '/api/packets/1x']) {
    const r = cgi({ db, uri: bad });
    assert.equal(r.status, 400, bad);
    assert.match(json(r).error, /id/);
  }
});

test('/api/traffic: one bucket per minute, default 60, bad parameters 400', () => {
  const minute = Math.floor(now / 60) * 60;
  const db = makeDb('traffic', `
    INSERT INTO transmissions(id, hash, raw_hex, first_seen, last_seen) VALUES (1, 'x', '11', 1, 1), (2, 'y', '11', 1, 1);
    INSERT INTO observations(transmission_id, observer, timestamp) VALUES
      (1, 'a', ${minute}), (1, 'b', ${minute + 1}), (2, 'a', ${minute - 60}), (2, 'a', ${minute - 3600}),
      (1, 'a', 'text'), (1, 'a', ${minute - 86400});`);
  const t = json(cgi({ db, uri: '/api/traffic' }));
  assert.equal(t.buckets.length, 60);
  assert.equal(t.toUnix - t.fromUnix, 3600);
  const last = t.buckets.at(-1);
  assert.deepEqual(last, { startUnix: minute, observations: 2, packets: 1 });
  assert.equal(t.buckets.at(-2).observations, 1);
  assert.equal(t.buckets.reduce((n, b) => n + b.observations, 0), 3);
  // A day's window reaches across midnight UTC and back to the observation a day old.
  const day = json(cgi({ db, uri: '/api/traffic?minutes=1440' }));
  assert.equal(day.buckets.length, 1440);
  assert.equal(day.buckets.reduce((n, b) => n + b.observations, 0), 4);
  assert.equal(json(cgi({ db, uri: '/api/traffic?minutes=1' })).buckets.length, 1);
  for (const q of ['minutes=0', 'minutes=1441', 'minutes=abc', 'minutes=1&minutes=2']) {
    const r = cgi({ db, uri: `/api/traffic?${q}` });
    assert.equal(r.status, 400, q);
  }
});

test('no request scans all observations (EXPLAIN QUERY PLAN)', () => {
  const db = makeDb('plans');
  const plans = [
    'SELECT (CAST(timestamp AS INTEGER) - 1) / 60, count(*), count(DISTINCT transmission_id) FROM observations WHERE timestamp >= 1 AND timestamp < 2 GROUP BY 1',
    'SELECT CAST(observer AS TEXT), snr, rssi FROM observations WHERE timestamp >= 1 AND timestamp <= 2 AND observer IS NOT NULL',
    'SELECT observer, snr, rssi, path_json, timestamp FROM observations WHERE transmission_id = 1 ORDER BY timestamp, id',
  ].map((q) => sqlite(db, `EXPLAIN QUERY PLAN ${q};`));
  for (const p of plans) {
    assert.doesNotMatch(p, /SCAN observations/, p);
    assert.match(p, /SEARCH observations USING (COVERING )?INDEX/, p);
  }
});
