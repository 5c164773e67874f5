// observers_backfill_v1 (docs/database.md): on a legacy database the observers
// table ends equal to its reference GROUP BY, on the demo data, on trap-shaped
// data, and after kill -9 at seeded moments while ingest keeps writing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { TOP, tempDir, waitFor } from '../lib/stack.mjs';
import { WORKER, startWorker, observation, Feeder, exchange } from '../lib/ingest.mjs';
import { prng } from '../lib/crashloop.mjs';
import { migrationStatus, integrityCheck, sqlite } from '../lib/backfill.mjs';
import { OBSERVERS_MIGRATION, observersOffReference, skipLastSeenBackfill } from '../lib/observers.mjs';

function runOnce(db, args = []) {
  return execFileSync(WORKER, ['--db', db, '--run-once', '--yield-ms', '0', ...args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function rowOf(db) {
  return JSON.parse(sqlite(db, `SELECT json_object('status', status, 'processed', rows_processed,
    'total', rows_total) FROM _async_migrations WHERE name = '${OBSERVERS_MIGRATION}'`));
}

test('the legacy demo database ends equal to the reference with an honest denominator', () => {
  const dir = tempDir();
  try {
    const db = path.join(dir, 'demo.db');
    execFileSync(path.join(TOP, 'scripts', 'gen-demo-db'), [db, '--transmissions', '5000',
      '--observations', '100000'], { stdio: 'ignore' });
    runOnce(db, ['--batch-size', '20']); // 1280 observations a batch
    assert.deepEqual(rowOf(db), { status: 'done', processed: 100000, total: 100000 });
    assert.equal(observersOffReference(db), 0);
    assert.equal(Number(sqlite(db, 'SELECT count(*) FROM observers')), 23);
    assert.equal(integrityCheck(db), 'ok');
    // A second start does not run it again and changes nothing.
    const before = sqlite(db, 'SELECT group_concat(id || packet_count) FROM observers');
    runOnce(db);
    assert.equal(sqlite(db, 'SELECT group_concat(id || packet_count) FROM observers'), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trap-shaped data (NULL, empty, typed and blob observers, odd timestamps, id gaps) ends equal to the reference', () => {
  const dir = tempDir();
  try {
    const db = path.join(dir, 'trap.db');
    sqlite(db, `
      CREATE TABLE transmissions(id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE,
        raw_hex TEXT NOT NULL, payload_type INTEGER, first_seen INTEGER NOT NULL);
      CREATE TABLE observations(id INTEGER PRIMARY KEY AUTOINCREMENT,
        transmission_id INTEGER NOT NULL REFERENCES transmissions(id),
        observer TEXT, snr REAL, rssi REAL, path_json TEXT, timestamp INTEGER NOT NULL);
      INSERT INTO transmissions VALUES (1, 'a', '00', 0, 100);
      INSERT INTO observations(id, transmission_id, observer, timestamp) VALUES
        (-5, 1, 'neg', 10), (0, 1, 'neg', 11), (1, 1, NULL, 5), (2, 1, '', 6),
        (3, 1, 7, 7), (4, 1, '7', 8), (5, 1, x'6f62', 9), (6, 1, 'ob', 'late'),
        (7, 1, 2.5, 1.5), (8, 999, 'orphan', 12), (1000000, 1, 'gap', 13),
        (4611686018427387904, 1, 'gap', 14), (4611686018427387905, 1, 'n\u00e9', -3);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
      INSERT INTO observations(id, transmission_id, observer, timestamp)
      SELECT 1000000 + i * 1000000000000000, 1,
        CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN 7 WHEN 2 THEN x'6f62' WHEN 3 THEN 'gap' ELSE '' END,
        CASE i % 3 WHEN 0 THEN i WHEN 1 THEN i + 0.5 ELSE 'late' END FROM n;`);
    runOnce(db, ['--batch-size', '1']); // 64 observations a batch, across id gaps of 10^15
    assert.equal(migrationStatus(db, OBSERVERS_MIGRATION).status, 'done');
    assert.equal(observersOffReference(db), 0);
    const total = Number(sqlite(db, 'SELECT count(*) FROM observations WHERE observer IS NOT NULL'));
    assert.deepEqual(rowOf(db), { status: 'done', processed: total, total });
    assert.equal(integrityCheck(db), 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 at seeded moments under ingest, then the table equals the reference', async () => {
  const dir = tempDir();
  const seed = Number(process.env.MESHSCOPE_SEED || 16016);
  const random = prng(seed);
  try {
    const db = path.join(dir, 'crash.db');
    const socket = path.join(dir, 'ingest.sock');
    execFileSync(path.join(TOP, 'scripts', 'gen-demo-db'), [db, '--transmissions', '5000',
      '--observations', '200000'], { stdio: 'ignore' });
    skipLastSeenBackfill(db);
    // Ingest writes to the observers the backfill is adding up, and to new ones.
    let seq = 0;
    const lines = prng(seed ^ 0x9e3779b9);
    const feeder = new Feeder(socket, () => {
      const n = seq++;
      const observer = lines() < 0.7 ? `observer-${Math.floor(lines() * 23)}` : `new-${n % 5}`;
      return { tag: n, line: observation({ hash: `ob-${n}`, observer, timestamp: 1760000000 + n }) };
    }, { window: 16, rate: 800 }).start();
    const args = ['--batch-size', '30', '--yield-ms', '20']; // 1920 observations a batch
    const kills = [];
    try {
      for (let k = 0; k < 5; k++) {
        const worker = await startWorker({ db, socket, args });
        await waitFor(() => migrationStatus(db, OBSERVERS_MIGRATION)?.status === 'pending_async',
          { what: 'the observers backfill to be registered' });
        const delayMs = 100 + Math.floor(random() * 600);
        await new Promise((r) => setTimeout(r, delayMs));
        process.kill(worker.pid, 'SIGKILL');
        await worker.exited;
        const through = Number(sqlite(db, 'SELECT done_through FROM _observers_backfill'));
        kills.push({ delayMs, through, status: migrationStatus(db, OBSERVERS_MIGRATION).status });
      }
      const worker = await startWorker({ db, socket, args });
      await waitFor(() => migrationStatus(db, OBSERVERS_MIGRATION)?.status === 'done',
        { timeoutMs: 60000, intervalMs: 100, what: 'the observers backfill to finish' });
      const acked = feeder.acked.length;
      await waitFor(() => feeder.acked.length > acked + 16, { what: 'ingest to go on after it' });
      await feeder.stop();
      await worker.stop('SIGTERM');
    } finally {
      feeder.stopping = true;
      feeder.wake();
    }
    assert.ok(kills.some((k) => k.status === 'pending_async' && k.through > 0 && k.through < 200000),
      `a kill landed mid-backfill: ${JSON.stringify(kills)} (seed ${seed})`);
    assert.equal(feeder.errors.length, 0);
    const stored = Number(sqlite(db, "SELECT count(*) FROM observations WHERE id > 200000"));
    assert.ok(stored >= feeder.acked.length, 'every acknowledged line is stored');
    assert.equal(observersOffReference(db), 0, `off the reference after kills ${JSON.stringify(kills)} (seed ${seed})`);
    assert.equal(integrityCheck(db), 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('observer_status lines fill the status fields; an older status changes nothing; packets keep counting', async () => {
  const dir = tempDir();
  try {
    const db = path.join(dir, 'status.db');
    const socket = path.join(dir, 'ingest.sock');
    const worker = await startWorker({ db, socket });
    try {
      const status = (over) => JSON.stringify({ kind: 'observer_status', observer: 'OBS1',
        timestamp: 1760000100, ...over });
      const replies = await exchange(socket, [
        status({ observer_name: 'Roof', region: 'SEA', model: 'T-Beam', firmware: 'v1.9', battery_mv: 4100,
          uptime_s: 60, noise_floor: -112.5 }),
        status({ timestamp: 1760000000, firmware: 'old', battery_mv: 1 }),
        observation({ hash: 's1', observer: 'OBS1', timestamp: 1760000050, region: 'SEA' }),
        observation({ hash: 's2', observer: 'OBS1', timestamp: 1760000040 }),
        status({ hash: 'x' }),
      ]);
      assert.deepEqual(replies.slice(0, 4), ['ok', 'ok', 'ok', 'ok']);
      assert.match(replies[4], /^error unknown field "hash"/);
    } finally {
      await worker.stop();
    }
    assert.equal(sqlite(db, `SELECT json_array(name, region, model, firmware, battery_mv, uptime_s,
      noise_floor, status_at, first_packet, last_packet, packet_count) FROM observers WHERE id = 'OBS1'`),
    '["Roof","SEA","T-Beam","v1.9",4100,60,-112.5,1760000100,1760000040,1760000050,2]');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
