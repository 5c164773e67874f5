// Retention: --retain-days deletes old observations, then old transmissions
// left without any, in batches under the hold target; the result equals the
// reference deletion row for row (mixed timestamp types included), survives
// kill -9 at seeded moments, and a new database gives its free pages back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { WORKER, sqlite } from '../lib/backfill.mjs';

const DAY = 86400;
const RETAIN_DAYS = 30;

// A database the worker created (auto_vacuum INCREMENTAL), filled with `n`
// transmissions of `perTx` observations each. Timestamps come in every type
// the column can hold: INTEGER, REAL, numeric TEXT (turned into INTEGER or
// REAL by the column's INTEGER affinity) and TEXT that stays TEXT (it sorts
// above every number, so the reference keeps it). An odd transmission has
// only old observations, so with an old first_seen (also INTEGER or REAL) the
// second phase deletes it; an even one keeps a recent observation.
function filled(dir, name, n, perTx = 4) {
  const db = path.join(dir, name);
  const made = spawnSync(WORKER, ['--db', db, '--run-once'], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const now = Math.floor(Date.now() / 1000);
  const old = now - 100 * DAY, recent = now - DAY;
  sqlite(db, `
    WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ${n})
      INSERT INTO transmissions(id, hash, raw_hex, first_seen, last_seen)
        SELECT i, printf('h%08d', i), hex(randomblob(40)),
          CASE i % 3 WHEN 0 THEN ${recent} WHEN 1 THEN ${old} ELSE ${old} + 0.5 END, 0 FROM k;
    WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ${n * perTx}),
      o(i, t, j) AS (SELECT i, (i - 1) / ${perTx} + 1, (i - 1) % ${perTx} FROM k)
      INSERT INTO observations(transmission_id, observer, path_json, timestamp)
        SELECT t, 'obs', hex(randomblob(30)), CASE
          WHEN t % 2 = 1 OR (j > 0 AND NOT (j = 1 AND t % 4 = 0)) THEN CASE i % 4
            WHEN 0 THEN ${old} + i WHEN 1 THEN ${old} + 0.5 WHEN 2 THEN '${old}' ELSE '${old}.5' END
          WHEN j = 0 THEN CASE (t / 2) % 3
            WHEN 0 THEN ${recent} WHEN 1 THEN ${recent} + 0.25 ELSE '${recent}' END
          ELSE '2020-01-01T00:00:00Z' END FROM o;`);
  return db;
}

function referenceOf(db, dir) {
  const ref = path.join(dir, 'reference.db');
  sqlite(db, 'PRAGMA wal_checkpoint(TRUNCATE);');
  copyFileSync(db, ref);
  const cutoff = Math.floor(Date.now() / 1000) - RETAIN_DAYS * DAY;
  sqlite(ref, `DELETE FROM observations WHERE timestamp < ${cutoff};
    DELETE FROM transmissions WHERE first_seen < ${cutoff}
      AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.transmission_id = transmissions.id);`);
  return ref;
}

function differing(db, ref) {
  return Number(sqlite(db, `ATTACH '${ref}' AS ref;
    SELECT (SELECT count(*) FROM (SELECT * FROM main.observations EXCEPT SELECT * FROM ref.observations))
         + (SELECT count(*) FROM (SELECT * FROM ref.observations EXCEPT SELECT * FROM main.observations))
         + (SELECT count(*) FROM (SELECT * FROM main.transmissions EXCEPT SELECT * FROM ref.transmissions))
         + (SELECT count(*) FROM (SELECT * FROM ref.transmissions EXCEPT SELECT * FROM main.transmissions));`));
}

function runOnce(db, args = []) {
  return spawnSync(WORKER, ['--db', db, '--run-once', '--retain-days', String(RETAIN_DAYS), ...args],
    { encoding: 'utf8' });
}

test('a run equals the reference deletion row for row, holds stay under the target, the freelist goes back', async (t) => {
  const dir = tempDir('meshscope-retention-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = filled(dir, 'r.db', 20000);
  const ref = referenceOf(db, dir);
  const deletedObs = Number(sqlite(db, 'SELECT count(*) FROM observations')) -
    Number(sqlite(ref, 'SELECT count(*) FROM observations'));
  assert.ok(deletedObs > 10000, `${deletedObs} observations to delete`);
  assert.equal(sqlite(db, 'PRAGMA auto_vacuum'), '2', 'a new database is INCREMENTAL');

  const run = runOnce(db, ['--target-batch-ms', '5']);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /retention: deleted \d+ observations/);
  assert.equal(differing(db, ref), 0);
  assert.equal(sqlite(db, 'PRAGMA integrity_check'), 'ok');
  const [holdMax, batches] = sqlite(db, "SELECT hold_max_us, transactions FROM _writer_stats WHERE source = 'retention'").split('|').map(Number);
  assert.ok(batches > 5, `${batches} retention transactions`);
  console.log(`retention: ${batches} transactions, longest hold ${holdMax / 1000} ms`);
  assert.ok(holdMax < 200000, `longest retention hold ${holdMax / 1000} ms`);
  assert.equal(sqlite(db, 'PRAGMA freelist_count'), '0', 'free pages returned');
  assert.ok(Number(sqlite(ref, 'PRAGMA freelist_count')) > 0, 'the plain DELETE leaves a freelist');
  assert.equal(sqlite(db, "SELECT status FROM _async_migrations WHERE name = 'retention'"), 'done');
});

// Rows left in both tables, and the retention row's status, read in one snapshot.
function remaining(db) {
  const [obs, tx, status] = sqlite(db, `SELECT (SELECT count(*) FROM observations),
    (SELECT count(*) FROM transmissions),
    (SELECT status FROM _async_migrations WHERE name = 'retention');`).split('|');
  return { obs: Number(obs), tx: Number(tx), status };
}

test('kill -9 at 10 seeded moments over both phases, then a completed run equals the reference', async (t) => {
  const dir = tempDir('meshscope-retention-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Two observations a transmission: the second phase (transmissions) is a
  // third of the ids walked. With a 1 ms hold target a run is over a hundred
  // transactions, each followed by a 10 ms yield in which a poll sees it.
  const db = filled(dir, 'k.db', 40000, 2);
  const ref = referenceOf(db, dir);
  const full = remaining(db), goal = remaining(ref);
  const obsToDelete = full.obs - goal.obs, txToDelete = full.tx - goal.tx;
  assert.ok(obsToDelete > 0 && txToDelete > 0, `${obsToDelete} observations, ${txToDelete} transmissions to delete`);
  // How far the deletion has come, 0 to 1: each phase is one half, so kills spread over both.
  const progress = (r) => 0.5 * (full.obs - r.obs) / obsToDelete + 0.5 * (full.tx - r.tx) / txToDelete;

  // Ten moments, one in each tenth of [0.03, 0.9] (the top is left free so
  // that a kill a transaction or two late still lands before the run ends).
  let seed = 14;
  const next = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const moments = Array.from({ length: 10 }, (_, k) => 0.03 + 0.87 * (k + next()) / 10);
  const landed = [];
  for (const [k, moment] of moments.entries()) {
    const atStart = progress(remaining(db));
    const child = spawn(WORKER, ['--db', db, '--retain-days', String(RETAIN_DAYS), '--target-batch-ms', '1',
      '--yield-ms', '10'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '', exit = null;
    child.stderr.on('data', (d) => { log += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => { exit = { code, signal }; resolve(); }));
    // Past the moment and past where the last kill left it: this run deleted something.
    await waitFor(() => {
      if (exit) throw new Error(`worker exited (${JSON.stringify(exit)}): ${log}`);
      const p = progress(remaining(db));
      return p >= moment && p > atStart;
    }, { timeoutMs: 20000, intervalMs: 1, what: `deletion progress ${moment.toFixed(3)} (kill ${k}; log: ${log})` });
    child.kill('SIGKILL');
    await exited;
    assert.equal(exit.signal, 'SIGKILL', `kill ${k} landed before the worker exited on its own: ${log}`);
    const after = remaining(db), at = progress(after);
    landed.push(at);
    assert.ok(at > atStart, `kill ${k}: the run had started (progress ${atStart} -> ${at})`);
    assert.ok(at < 1, `kill ${k}: the run had not finished (${after.obs} observations, ${after.tx} transmissions left)`);
    assert.equal(after.status, 'pending_async', `kill ${k}: the run's row is not done`);
    assert.equal(sqlite(db, 'PRAGMA integrity_check'), 'ok', `after kill ${k}`);
  }
  console.log(`kills due at ${moments.map((p) => p.toFixed(3)).join(' ')}\n  landed at ${landed.map((p) => p.toFixed(3)).join(' ')} of the deletion`);
  assert.ok(landed.filter((p) => p < 0.5).length >= 3 && landed.filter((p) => p > 0.5).length >= 3,
    `kills in both phases: ${landed.join(' ')}`);
  const run = runOnce(db);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(differing(db, ref), 0);
  assert.equal(sqlite(db, 'PRAGMA integrity_check'), 'ok');
});

test('with ingest writing new rows meanwhile, the old rows still equal the reference and new ones all stay', async (t) => {
  const { startWorker, exchange, observation } = await import('../lib/ingest.mjs');
  const dir = tempDir('meshscope-retention-');
  const db = filled(dir, 'i.db', 20000);
  const ref = referenceOf(db, dir);
  const socket = path.join(dir, 'ingest.sock');
  const worker = await startWorker({ db, socket,
    args: ['--retain-days', String(RETAIN_DAYS), '--target-batch-ms', '5', '--yield-ms', '5'] });
  t.after(async () => { await worker.stop(); rmSync(dir, { recursive: true, force: true }); });
  const now = Math.floor(Date.now() / 1000);
  let sent = 0;
  await waitFor(async () => {
    const lines = [];
    for (let i = 0; i < 20; i++) lines.push(observation({ hash: `new${sent + i}`, timestamp: now }));
    const replies = await exchange(socket, lines);
    sent += replies.length;
    return sqlite(db, "SELECT status FROM _async_migrations WHERE name = 'retention'") === 'done' && sent > 0;
  }, { timeoutMs: 60000, intervalMs: 1, what: `the retention run (log: ${worker.log()})` });
  await worker.stop();
  assert.equal(Number(sqlite(db, "SELECT count(*) FROM transmissions WHERE hash LIKE 'new%'")), sent);
  assert.equal(Number(sqlite(db, `ATTACH '${ref}' AS ref;
    SELECT (SELECT count(*) FROM (SELECT * FROM main.observations WHERE id <= 80000 EXCEPT SELECT * FROM ref.observations))
         + (SELECT count(*) FROM (SELECT * FROM ref.observations EXCEPT SELECT * FROM main.observations WHERE id <= 80000))
         + (SELECT count(*) FROM (SELECT * FROM main.transmissions WHERE id <= 20000 EXCEPT SELECT * FROM ref.transmissions))
         + (SELECT count(*) FROM (SELECT * FROM ref.transmissions EXCEPT SELECT * FROM main.transmissions WHERE id <= 20000));`)), 0);
  assert.equal(sqlite(db, 'PRAGMA integrity_check'), 'ok');
});

test('ctl status and meshscope-worker status list the migrations then retention; a stored pause holds the next run', async (t) => {
  const dir = tempDir('meshscope-retention-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = filled(dir, 'c.db', 2000);
  const ctlSock = path.join(dir, 'ctl.sock');
  const ctl = (...args) => spawnSync(WORKER, ['ctl', '--socket', ctlSock, '--json', ...args], { encoding: 'utf8' });
  const start = () => {
    const child = spawn(WORKER, ['--db', db, '--retain-days', String(RETAIN_DAYS), '--control-socket', ctlSock],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => { log += d; });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    return { log: () => log, stop: async () => { child.kill('SIGTERM'); await exited; } };
  };
  let worker = start();
  t.after(() => worker.stop()); // also the first one, should an assertion fail before its stop
  await waitFor(() => sqlite(db, "SELECT status FROM _async_migrations WHERE name = 'retention'") === 'done',
    { what: 'the first retention run' });
  const listed = JSON.parse(ctl('status').stdout);
  const names = listed.jobs.map((j) => j.name);
  assert.equal(names[0], 'tx_last_seen_backfill_v1', 'the migrations first, in registry order');
  assert.equal(names.at(-1), 'retention', 'then the recurring job');
  assert.equal(names.filter((n) => n === 'retention').length, 1);
  assert.equal(ctl('pause', 'retention', 'maintenance').status, 0);
  await worker.stop();
  const status = spawnSync(WORKER, ['status', '--db', db], { encoding: 'utf8' });
  assert.match(status.stdout, /^retention\s+done/m);

  // New old rows, a restart: the stored pause keeps retention from deleting them.
  const before = Number(sqlite(db, 'SELECT count(*) FROM observations'));
  sqlite(db, 'INSERT INTO observations(transmission_id, timestamp) VALUES (1, 1000);');
  worker = start();
  await waitFor(() => JSON.parse(ctl('status').stdout || '{}').jobs?.find((j) => j.name === 'retention')?.paused === true,
    { what: 'retention listed paused after the restart' });
  assert.equal(Number(sqlite(db, 'SELECT count(*) FROM observations')), before + 1, 'nothing deleted while paused');
  assert.equal(ctl('resume', 'retention').status, 0);
  await waitFor(() => Number(sqlite(db, 'SELECT count(*) FROM observations')) === before,
    { what: `the resumed run to delete the old row (log: ${worker.log()})` });
});
