// The progress row keeps up with the commits: reported right after each batch
// that changed rows, held-back writes made once their second has passed, and
// a heartbeat while batches change nothing, so a busy migration never reads
// as stalled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { WORKER, MIGRATION, migrationStatus, sqlite } from '../lib/backfill.mjs';
import { cgi, json } from '../lib/cgi.mjs';

// A legacy database: `withObservations` transmissions with two observations
// each, then `orphans` transmissions with none (the backfill walks them but
// changes nothing).
function legacyOrphans(db, withObservations, orphans) {
  sqlite(db, `
    CREATE TABLE transmissions(id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE,
      raw_hex TEXT NOT NULL, payload_type INTEGER, first_seen INTEGER NOT NULL);
    CREATE TABLE observations(id INTEGER PRIMARY KEY AUTOINCREMENT,
      transmission_id INTEGER NOT NULL REFERENCES transmissions(id),
      observer TEXT, snr REAL, rssi REAL, path_json TEXT, timestamp INTEGER NOT NULL);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${withObservations + orphans})
      INSERT INTO transmissions(id, hash, raw_hex, first_seen) SELECT i, printf('h%08d', i), 'aa', 1700000000 FROM n;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${withObservations})
      INSERT INTO observations(transmission_id, timestamp)
        SELECT i, 1700000000 + i FROM n UNION ALL SELECT i, 1700000100 + i FROM n;`);
}

function startWorker(db, args) {
  const child = spawn(WORKER, ['--db', db, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { child, log: () => log, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

test('20 rows with observations then 7,480 orphans: the row reaches 20/20 at once and never reads stalled', async (t) => {
  const dir = tempDir('meshscope-progress-');
  const db = path.join(dir, 'orphans.db');
  legacyOrphans(db, 20, 7480);
  const worker = startWorker(db, ['--batch-size', '10', '--yield-ms', '100']);
  t.after(async () => { await worker.stop(); rmSync(dir, { recursive: true, force: true }); });

  // Two batches commit all 20 rows within a few hundred ms; the row must
  // follow within about a second (the write limit), not when the walk ends.
  const started = Date.now();
  await waitFor(() => /tx_last_seen_backfill_v1: starting: 20 rows to fill/.test(worker.log()),
    { what: 'the backfill to start' });
  const reached = await waitFor(() => {
    const m = migrationStatus(db);
    return m?.rowsProcessed === 20 ? m : null;
  }, { timeoutMs: 5000, intervalMs: 100, what: `rows_processed 20 (log: ${worker.log()})` });
  assert.equal(reached.status, 'pending_async', 'the orphan walk is still running');
  assert.equal(reached.rowsTotal, 20);
  assert.ok(Date.now() - started < 5000);

  // The API with a short stall threshold: over 12 s of the orphan walk the
  // heartbeat keeps the row fresh, so it stays running and never stalled.
  const samples = [];
  const until = Date.now() + 12000;
  while (Date.now() < until) {
    const res = cgi({ db, uri: '/api/perf/async-migrations', args: ['--stalled-after-s', '8', '--cache-ttl-ms', '0'] });
    assert.equal(res.status, 200, res.body);
    const m = json(res).find((x) => x.name === MIGRATION);
    samples.push(m);
    assert.equal(m.status, 'running', JSON.stringify(m));
    assert.equal(m.stalled, false, `stalled at ${new Date().toISOString()}: ${JSON.stringify(m)}`);
    assert.equal(m.rowsProcessed, 20);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  // The heartbeat moved last_update_at while no count changed.
  const stamps = new Set(samples.map((m) => m.lastUpdateAt));
  assert.ok(stamps.size >= 2, `last_update_at never moved: ${[...stamps]}`);
});
