// Retention: --retain-days deletes old observations, then old transmissions
// left without any, in batches under the hold target; the result equals the
// reference deletion row for row (mixed timestamp types included), survives
// kill -9 at 10 seeded moments, runs only after the pending migrations while
// ingest writes, and a new database gives its free pages back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { WORKER, MIGRATION, sqlite, legacyWithReference, legacyHash, logLines } from '../lib/backfill.mjs';

const DAY = 86400;
const RETAIN_DAYS = 30;
// Reported, not yet fixed: on a shared machine a retention transaction with a
// 5 ms target holds 100-1400 ms now and then. Its connection commits with
// SQLite's default synchronous=FULL (a WAL fsync inside every hold), keeps the
// automatic checkpoint inside its COMMIT (booked as retention's hold), and
// runs at nice 10, so busy nice-0 processes preempt it while it holds the writer.
// How long retention holds the writer is timing, so the benchmark measures it
// against the target (bench/run, section 8); the suites pin that a run is
// split into many short transactions and print the longest hold.

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

test('a run equals the reference deletion row for row in many transactions, the freelist goes back', async (t) => {
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
  t.diagnostic(`retention: ${batches} transactions, longest hold ${holdMax / 1000} ms`);
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
  // The ingest-wait throttle is off: on a busy CPU the nonstop ingest below
  // keeps it on in 10 s windows, and the run would not end within the wait.
  const worker = await startWorker({ db, socket, args: ['--retain-days', String(RETAIN_DAYS),
    '--target-batch-ms', '5', '--yield-ms', '5', '--throttle-ingest-wait-ms', '0'] });
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

// A legacy database for the scheduler test: gen-demo-db's rows, with
// timestamps of every type moved around the cutoff: a fifth of the
// transmissions keep only old observations (the second phase deletes them
// unless a live line arrives), the rest get recent ones as INTEGER, REAL and
// numeric TEXT, and TEXT that stays TEXT. Returns the file and its highest ids.
function legacyMixed(dir) {
  const { db } = legacyWithReference(dir, { transmissions: 4000, observations: 40000 });
  const recent = Math.floor(Date.now() / 1000) - DAY;
  sqlite(db, `UPDATE observations SET timestamp = CASE
      WHEN transmission_id % 5 = 0 THEN timestamp
      ELSE CASE id % 8 WHEN 0 THEN ${recent} + id % 3600 WHEN 1 THEN timestamp + 0.5
        WHEN 2 THEN CAST(timestamp AS TEXT) WHEN 3 THEN '2020-01-01T00:00:00Z'
        WHEN 4 THEN ${recent} + 0.25 WHEN 5 THEN printf('%d.75', ${recent}) ELSE timestamp END END;
    UPDATE transmissions SET first_seen = CASE id % 7 WHEN 0 THEN ${recent} WHEN 1 THEN first_seen + 0.5
      ELSE first_seen END;`);
  const [obsMax, txMax] = sqlite(db, 'SELECT (SELECT MAX(id) FROM observations), (SELECT MAX(id) FROM transmissions)')
    .split('|').map(Number);
  return { db, obsMax, txMax };
}

// The live lines applied to a copy of the database as ingest stores them (a
// new hash makes a transmission, a known one may learn an earlier
// first_seen), then the reference statements of retention.
function referenceWithLines(snapshot, lines, cutoff) {
  const values = lines.map((l) => `('${l.hash}', '${l.observer}', ${l.timestamp})`).join(',\n');
  sqlite(snapshot, `CREATE TEMP TABLE live(hash TEXT, observer TEXT, ts INTEGER);
    INSERT INTO live VALUES ${values};
    INSERT INTO transmissions(hash, raw_hex, payload_type, first_seen)
      SELECT hash, '0a0b', 4, MIN(ts) FROM live WHERE hash NOT IN (SELECT hash FROM transmissions) GROUP BY hash;
    UPDATE transmissions SET first_seen = MIN(first_seen, (SELECT MIN(ts) FROM live WHERE live.hash = transmissions.hash))
      WHERE hash IN (SELECT hash FROM live);
    INSERT INTO observations(transmission_id, observer, timestamp)
      SELECT t.id, l.observer, l.ts FROM live l JOIN transmissions t USING (hash);
    DELETE FROM observations WHERE timestamp < ${cutoff};
    DELETE FROM transmissions WHERE first_seen < ${cutoff}
      AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.transmission_id = transmissions.id);`);
}

test('on a legacy database with live ingest, retention runs only after the migrations and equals the reference row for row', async (t) => {
  const { startWorker, exchange, observation } = await import('../lib/ingest.mjs');
  const dir = tempDir('meshscope-retention-');
  const { db, obsMax, txMax } = legacyMixed(dir);
  const snapshot = path.join(dir, 'snapshot.db');
  copyFileSync(db, snapshot);
  const now = Math.floor(Date.now() / 1000);
  // Every stored value is a day or more from the worker's cutoff (now - 30 days, taken when retention starts).
  const cutoff = now - RETAIN_DAYS * DAY;
  const old = now - 100 * DAY, recent = now - DAY;
  assert.equal(sqlite(db, `SELECT count(*) FROM observations WHERE timestamp BETWEEN ${cutoff - DAY} AND ${cutoff + DAY}`), '0');
  const legacyOld = Number(sqlite(db, `SELECT count(*) FROM observations WHERE timestamp < ${cutoff}`));

  const socket = path.join(dir, 'ingest.sock');
  // Fixed backfill batches of 25 rows with 25 ms yields: the migrations take
  // seconds. The ingest-wait throttle is off: the steady ingest below would
  // hold the jobs back for 10 s windows, which is another test's subject.
  const worker = await startWorker({ db, socket, args: ['--retain-days', String(RETAIN_DAYS),
    '--batch-size', '25', '--yield-ms', '25', '--throttle-ingest-wait-ms', '0'] });
  t.after(async () => { await worker.stop(); rmSync(dir, { recursive: true, force: true }); });

  // One snapshot of the three rows and of the legacy old observations left.
  const state = () => {
    const [backfill, observers, retention, total, processed, oldLeft] = sqlite(db, `SELECT
      (SELECT status FROM _async_migrations WHERE name = '${MIGRATION}'),
      (SELECT status FROM _async_migrations WHERE name = 'observers_backfill_v1'),
      (SELECT status FROM _async_migrations WHERE name = 'retention'),
      (SELECT rows_total FROM _async_migrations WHERE name = '${MIGRATION}'),
      (SELECT rows_processed FROM _async_migrations WHERE name = '${MIGRATION}'),
      (SELECT count(*) FROM observations WHERE id <= ${obsMax} AND timestamp < ${cutoff});`).split('|');
    const s = { backfill, observers, retention, total: Number(total), processed: Number(processed),
      oldLeft: Number(oldLeft) };
    s.migrating = backfill !== 'done' || observers !== 'done';
    // The scheduler's rule, seen from outside: nothing deleted while a migration is pending,
    // and no retention run while one is.
    assert.ok(!s.migrating || s.oldLeft === legacyOld, `retention deleted during a migration: ${JSON.stringify(s)}`);
    assert.ok(!(s.migrating && s.retention), `retention registered during a migration: ${JSON.stringify(s)}`);
    return s;
  };

  // While the backfill is in its first half, lines of every kind: new hashes
  // old and recent, and legacy transmissions that have only old observations
  // (a recent line keeps one, an old line does not). After that, and while
  // retention runs, recent lines on new hashes only: retention walks the ids
  // there were when it started, so an old line ingested later waits for the next run.
  const lines = [];
  let n = 0, legacy = 0;
  const line = (hash, timestamp) => {
    const l = { hash, timestamp, observer: `live-${n++}` };
    lines.push(l);
    return observation(l);
  };
  let duringBackfill = 0, duringRetention = 0;
  for (let s = state(); s.retention !== 'done'; s = state()) {
    const early = s.backfill === 'pending_async' && (s.total === 0 || s.processed * 2 < s.total);
    const batch = [];
    if (early) {
      batch.push(line(`old-${n}`, old + n), line(`new-${n}`, recent + n));
      for (const ts of [recent + n, old - n]) batch.push(line(legacyHash(5 * ++legacy), ts));
    } else {
      for (let i = 0; i < 5; i++) batch.push(line(`new-${n}`, recent + n));
    }
    const replies = await exchange(socket, batch);
    assert.deepEqual(replies, batch.map(() => 'ok'));
    const after = state();
    if (early) {
      // Committed before the migrations ended, so before retention took its snapshot of the ids.
      assert.ok(after.migrating, `the early lines reached the backfill's end: ${JSON.stringify(after)}`);
      duringBackfill += batch.length;
    }
    if (s.retention === 'pending_async' && after.retention === 'pending_async') duringRetention += batch.length;
  }
  await worker.stop();
  console.log(`live lines: ${lines.length}, ${duringBackfill} during the backfill, ${duringRetention} during retention`);
  assert.ok(duringBackfill >= 40, `${duringBackfill} lines during the backfill`);
  assert.ok(duringRetention > 0, 'lines during the retention run');

  // The order: each migration ended before retention started, in the rows and in the log.
  const rows = sqlite(db, `SELECT name, status, started_at, ended_at FROM _async_migrations
    WHERE name IN ('${MIGRATION}', 'observers_backfill_v1', 'retention')`).split('\n').map((r) => r.split('|'));
  const row = Object.fromEntries(rows.map(([name, status, startedAt, endedAt]) => [name, { status, startedAt, endedAt }]));
  for (const name of [MIGRATION, 'observers_backfill_v1', 'retention']) assert.equal(row[name]?.status, 'done', name);
  assert.ok(row[MIGRATION].endedAt <= row.observers_backfill_v1.startedAt, JSON.stringify(row));
  assert.ok(row.observers_backfill_v1.endedAt <= row.retention.startedAt, JSON.stringify(row));
  const log = logLines(worker.log()).map((l) => l.text);
  const firstRetention = log.findIndex((l) => /retention: /.test(l));
  const lastMigration = log.findLastIndex((l) => /(tx_last_seen_backfill_v1|observers_backfill_v1): /.test(l));
  assert.ok(firstRetention > 0 && lastMigration >= 0 && lastMigration < firstRetention, worker.log());
  assert.match(log[lastMigration], /observers_backfill_v1: done: /);

  // Row for row: the legacy rows by id, the live ones by their observer and hash.
  referenceWithLines(snapshot, lines, cutoff);
  const escaped = snapshot.replace(/'/g, "''");
  const both = (q) => `(SELECT count(*) FROM (${q('main')} EXCEPT ${q('ref')})) + (SELECT count(*) FROM (${q('ref')} EXCEPT ${q('main')}))`;
  const differ = sqlite(db, `ATTACH '${escaped}' AS ref; SELECT
    ${both((s) => `SELECT id, transmission_id, timestamp FROM ${s}.observations WHERE id <= ${obsMax}`)},
    ${both((s) => `SELECT t.hash, o.observer, o.timestamp FROM ${s}.observations o JOIN ${s}.transmissions t
      ON t.id = o.transmission_id WHERE o.id > ${obsMax}`)},
    ${both((s) => `SELECT id, hash, first_seen FROM ${s}.transmissions WHERE id <= ${txMax}`)},
    ${both((s) => `SELECT hash, first_seen FROM ${s}.transmissions WHERE id > ${txMax}`)};`);
  assert.equal(differ, '0|0|0|0', 'legacy observations | live observations | legacy transmissions | live transmissions');
  // Each kind was there to get wrong.
  const kept = sqlite(db, `SELECT (SELECT count(*) FROM observations WHERE id <= ${obsMax}),
    (SELECT count(*) FROM transmissions WHERE id <= ${txMax}),
    (SELECT count(*) FROM observations WHERE id > ${obsMax})`).split('|').map(Number);
  const liveKept = lines.filter((l) => l.timestamp >= cutoff).length;
  assert.ok(kept[0] > 0 && kept[0] < obsMax && kept[1] > 0 && kept[1] < txMax, `${kept}`);
  assert.equal(kept[2], liveKept);
  assert.ok(liveKept < lines.length);
  const [holdMax, batches] = sqlite(db, "SELECT hold_max_us, transactions FROM _writer_stats WHERE source = 'retention'")
    .split('|').map(Number);
  assert.ok(batches > 5, `${batches} retention transactions`);
  t.diagnostic(`retention beside ingest: ${batches} transactions, longest hold ${holdMax / 1000} ms`);
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
