// The backfill holds itself back on database health (WAL not checkpointed,
// ingest waiting for the writer, a flag file), pauses itself on a critical
// WAL, shows why in the API, and keeps an ETA from the recent rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync, unlinkSync, renameSync } from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { legacyWithReference, rowsDifferingFromReference, migrationStatus, logLines } from '../lib/backfill.mjs';
import { ctl, job, startControlled, installWriteCounter, writeCounts, MIGRATION } from '../lib/control.mjs';
import { cgi, json } from '../lib/cgi.mjs';
import { Feeder, observation } from '../lib/ingest.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const apiMigration = (db) => json(cgi({ db, uri: '/api/perf/async-migrations', args: ['--cache-ttl-ms', '0'] }))
  .find((m) => m.name === MIGRATION);

// Another process with a read transaction open: checkpoints cannot pass its snapshot.
function holdReader(db) {
  const child = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.write('BEGIN; SELECT count(*) FROM transmissions;\n');
  const opened = new Promise((resolve) => child.stdout.once('data', resolve));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { opened, release: async () => { child.stdin.end('COMMIT;\n'); await exited; } };
}

const batchLines = (log) => logLines(log).filter((l) => /tx_last_seen_backfill_v1: batch \d+: /.test(l.text));

test('WAL throttle: a reader pins the WAL, the job throttles within a batch with the reason shown, and resumes when the reader lets go', async (t) => {
  const dir = tempDir('meshscope-wal-');
  const { db, reference } = legacyWithReference(dir, { transmissions: 60000, observations: 240000 });
  const w = await startControlled({ db, dir, args: ['--batch-size', '1000', '--yield-ms', '30',
    '--throttle-wal-mb', '2', '--throttle-ingest-wait-ms', '0', '--log-level', 'debug'] });
  t.after(async () => { await w.stop(); rmSync(dir, { recursive: true, force: true }); });
  await waitFor(() => batchLines(w.log()).length >= 3, { what: 'a few batches' });
  const reader = holdReader(db);
  await reader.opened;
  const batchesAtReader = batchLines(w.log()).length;
  const entered = await waitFor(() => logLines(w.log()).find((l) => /tx_last_seen_backfill_v1: throttled: WAL/.test(l.text)),
    { timeoutMs: 30000, what: 'the WAL throttle' });
  const batches = batchLines(w.log()).filter((l) => l.at <= entered.at).length - batchesAtReader;
  const mb = Number(entered.text.match(/WAL ([\d.]+) MB/)[1]);
  const perBatch = mb / Math.max(batches, 1);
  const over = Math.max(0, Math.ceil((mb - 2) / perBatch));
  console.log(`# WAL throttle entered at ${mb} MB (limit 2 MB) after ${batches} batches of ~${perBatch.toFixed(2)} MB: ${over} batch(es) over the limit`);
  assert.ok(over <= 1, `throttled ${over} batches after the WAL passed its limit`);

  const m = await waitFor(() => { const x = apiMigration(db); return x.throttled ? x : null; },
    { what: 'the API to show the throttle' });
  assert.match(m.throttleReason, /WAL [\d.]+ MB not checkpointed \(limit 2 MB\)/);
  assert.equal(m.status, 'running');
  assert.equal(m.stalled, false);
  const held = batchLines(w.log()).length;
  await sleep(1000);
  assert.equal(batchLines(w.log()).length, held, 'no batch while throttled');
  assert.equal(job(w.socket).state, 'throttled');

  await reader.release();
  await waitFor(() => logLines(w.log()).some((l) => /throttle lifted after/.test(l.text)), { what: 'the throttle to lift' });
  await waitFor(() => migrationStatus(db)?.status === 'done', { timeoutMs: 60000, what: 'the backfill to finish' });
  assert.equal(rowsDifferingFromReference(db, reference), 0);
  const after = migrationStatus(db);
  assert.ok(after.throttledSec > 0.5, JSON.stringify(after));
  assert.equal(logLines(w.log()).filter((l) => /tx_last_seen_backfill_v1: throttled: /.test(l.text)).length, 1, 'one line on entering');
});

test('critical WAL: the job pauses itself with the reason and stays paused after the pressure goes', async (t) => {
  const dir = tempDir('meshscope-critical-');
  const { db, reference } = legacyWithReference(dir, { transmissions: 60000, observations: 240000 });
  installWriteCounter(db);
  const w = await startControlled({ db, dir, args: ['--batch-size', '1000', '--yield-ms', '30',
    '--throttle-wal-mb', '0', '--critical-wal-mb', '2'] });
  t.after(async () => { await w.stop(); rmSync(dir, { recursive: true, force: true }); });
  await waitFor(() => writeCounts(db).total > 0, { what: 'the first batch' });
  const reader = holdReader(db);
  await reader.opened;
  const j = await waitFor(() => { const x = job(w.socket); return x.state === 'paused' ? x : null; },
    { timeoutMs: 30000, what: 'the job to pause itself' });
  assert.match(j.pauseReason, /^critical WAL size: [\d.]+ MB not checkpointed \(limit 2 MB\)$/);
  await reader.release();
  const held = writeCounts(db).total;
  await sleep(2000);
  assert.equal(writeCounts(db).total, held, 'it stays paused once the WAL is checkpointed');
  const m = apiMigration(db);
  assert.equal(m.status, 'paused');
  assert.match(m.pauseReason, /critical WAL/);
  assert.equal(ctl(w.socket, 'resume', MIGRATION).status, 0);
  await waitFor(() => migrationStatus(db)?.status === 'done', { timeoutMs: 60000, what: 'the backfill to finish' });
  assert.equal(rowsDifferingFromReference(db, reference), 0);
});

test('flag-file throttle: enters and leaves with the reason in the API and the metrics', async (t) => {
  const dir = tempDir('meshscope-flag-');
  const { db } = legacyWithReference(dir, { transmissions: 30000, observations: 120000 });
  const flag = path.join(dir, 'hold-migrations');
  const w = await startControlled({ db, dir, args: ['--batch-size', '500', '--yield-ms', '50', '--throttle-flag-file', flag] });
  t.after(async () => { await w.stop(); rmSync(dir, { recursive: true, force: true }); });
  await waitFor(() => (migrationStatus(db)?.rowsProcessed ?? 0) > 0, { what: 'progress' });
  writeFileSync(flag, '');
  const m = await waitFor(() => { const x = apiMigration(db); return x.throttled ? x : null; }, { what: 'the flag throttle in the API' });
  assert.equal(m.throttleReason, `flag file ${flag} exists`);
  const metrics = cgi({ db, uri: '/api/metrics', args: ['--cache-ttl-ms', '0'] }).body;
  assert.match(metrics, new RegExp(`^meshscope_async_migration_throttled\\{name="${MIGRATION}"\\} 1$`, 'm'));
  assert.match(metrics, new RegExp(`^meshscope_async_migration_paused\\{name="${MIGRATION}"\\} 0$`, 'm'));
  assert.match(metrics, /^# TYPE meshscope_async_migration_throttled_seconds_total counter$/m);
  assert.match(metrics, /^meshscope_async_migration_recent_rate\{name="tx_last_seen_backfill_v1"\} [\d.e+]+$/m);
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
  if (!promtool.error) assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
  unlinkSync(flag);
  await waitFor(() => !apiMigration(db).throttled, { what: 'the throttle to lift' });
  const lines = logLines(w.log()).map((l) => l.text);
  assert.equal(lines.filter((l) => l.includes(`throttled: flag file ${flag} exists`)).length, 1);
  assert.equal(lines.filter((l) => /throttle lifted after [\d.]+ s/.test(l)).length, 1);
});

// The pool's stats file as fcgi/poolstats lays it out (common/poolstats_file.h): a
// header, the retired sums, 64 slots. Only the header and the retired latency
// histogram of endpoint 0 are filled in: the worker sums every slot and the retired part.
// Derived from common/poolstats_layout.h and poolstats_file.h, so a change of
// POOLSTATS_MAX_ENDPOINTS there is one change here.
const ENDPOINTS = 16, CLASSES = 4, BUCKETS = 18, SLOTS = 64;
const COUNTERS_BYTES = 8 * (ENDPOINTS * CLASSES + ENDPOINTS * (BUCKETS + 1) + ENDPOINTS);
const align64 = (n) => Math.ceil(n / 64) * 64;
const HEADER_BYTES = 24; // magic, layout, slot_count, slot_size
const SLOT_BYTES = align64(32 + COUNTERS_BYTES);
const POOL_FILE_BYTES = align64(HEADER_BYTES + COUNTERS_BYTES) + SLOTS * SLOT_BYTES;
const RETIRED_LATENCY_OFFSET = HEADER_BYTES + 8 * ENDPOINTS * CLASSES;
const BUCKET_250_MS = 12; // upper bound 250000 us
function writePoolStats(file, slowRequests) {
  const b = Buffer.alloc(POOL_FILE_BYTES);
  b.writeBigUInt64LE(0x3174617473687365n, 0); // magic "eshstat1"
  b.writeUInt32LE(SLOTS, 16);                  // slot_count
  b.writeUInt32LE(SLOT_BYTES, 20);             // slot_size
  b.writeBigUInt64LE(BigInt(slowRequests), RETIRED_LATENCY_OFFSET + 8 * BUCKET_250_MS);
  writeFileSync(`${file}.tmp`, b);
  renameSync(`${file}.tmp`, file);
}

test('reader-p99 throttle: slow answers in the pool stats file throttle the job with the reason shown, and it leaves once they age out of 10 s', async (t) => {
  const dir = tempDir('meshscope-reader-p99-');
  const { db } = legacyWithReference(dir, { transmissions: 60000, observations: 240000 });
  const stats = path.join(dir, 'fcgi.stats');
  writePoolStats(stats, 0);
  // 300 batches 200 ms apart: the job outlives the throttle's 10 s window even
  // on an idle machine, where the backfill's own work takes well under a second.
  const w = await startControlled({ db, dir, args: ['--batch-size', '200', '--yield-ms', '200',
    '--throttle-ingest-wait-ms', '0', '--throttle-reader-p99-ms', '100', '--pool-stats-file', stats] });
  t.after(async () => { await w.stop(); rmSync(dir, { recursive: true, force: true }); });
  await waitFor(() => (migrationStatus(db)?.rowsProcessed ?? 0) > 0, { what: 'progress' });
  await sleep(1100); // a snapshot of the quiet pool to compare with
  writePoolStats(stats, 1000);
  const m = await waitFor(() => { const x = apiMigration(db); return x.throttled ? x : null; },
    { what: 'the reader throttle in the API' });
  assert.match(m.throttleReason, /^readers answer in 248\.5 ms at p99 \(limit 100 ms\)$/);
  assert.equal(job(w.socket).state, 'throttled');
  const enteredAt = Date.now();
  await waitFor(() => !apiMigration(db).throttled, { timeoutMs: 20000, what: 'the throttle to lift' });
  const heldMs = Date.now() - enteredAt;
  assert.ok(heldMs >= 7000, `lifted after ${heldMs} ms: the slow answers should count for 10 s`);
  const lines = logLines(w.log()).map((l) => l.text);
  assert.equal(lines.filter((l) => /throttled: readers answer in 248\.5 ms at p99 \(limit 100 ms\)/.test(l)).length, 1);
  assert.equal(lines.filter((l) => /throttle lifted after [\d.]+ s.*reader p99 0\.0 ms/.test(l)).length, 1, lines.join('\n'));
});

test('reader-p99 throttle: a stats file that is not one (wrong size) is warned about and never throttles', async (t) => {
  const dir = tempDir('meshscope-reader-bad-');
  const { db } = legacyWithReference(dir, { transmissions: 6000, observations: 24000 });
  const stats = path.join(dir, 'fcgi.stats');
  writeFileSync(stats, Buffer.alloc(4096, 0xff));
  const w = await startControlled({ db, dir, args: ['--batch-size', '500', '--yield-ms', '10',
    '--throttle-ingest-wait-ms', '0', '--throttle-reader-p99-ms', '1', '--pool-stats-file', stats] });
  t.after(async () => { await w.stop(); rmSync(dir, { recursive: true, force: true }); });
  await waitFor(() => migrationStatus(db)?.status === 'done', { timeoutMs: 60000, what: 'the backfill to finish' });
  const lines = logLines(w.log()).map((l) => l.text);
  assert.equal(lines.filter((l) => /throttled: /.test(l)).length, 0);
  assert.ok(lines.some((l) => /reader p99 throttle: stats file .* has 4096 bytes/.test(l)), lines.join('\n'));
});

test('ingest throttle: while live ingest waits for the writer the job holds back, and it carries on once the waits are gone', async (t) => {
  const dir = tempDir('meshscope-ingest-throttle-');
  const { db } = legacyWithReference(dir, { transmissions: 40000, observations: 160000 });
  const socket = path.join(dir, 'ingest.sock');
  const w = await startControlled({ db, dir, args: ['--ingest-socket', socket, '--batch-size', '300',
    '--yield-ms', '50', '--throttle-ingest-wait-ms', '20'] });
  let n = 0;
  const feeder = new Feeder(socket, () => ({ line: observation({ hash: `it${n++}`, timestamp: 1770000000 + n }) }), { rate: 100 }).start();
  t.after(async () => { feeder.stopping = true; feeder.wake(); await w.stop(); rmSync(dir, { recursive: true, force: true }); });
  await waitFor(() => (migrationStatus(db)?.rowsProcessed ?? 0) > 0, { what: 'progress' });
  // Another writer holds the write lock for a few hundred ms at a time: ingest's commits wait.
  // Asynchronous, so the feeder keeps sending (and ingest keeps waiting) meanwhile.
  const hog = spawn('sqlite3', [db], { stdio: ['pipe', 'ignore', 'inherit'] });
  hog.stdin.end('.timeout 10000\n' + Array.from({ length: 3 }, () => 'BEGIN IMMEDIATE; WITH RECURSIVE r(i) AS (SELECT 1'
    + ' UNION ALL SELECT i + 1 FROM r WHERE i < 1500000) SELECT count(*) FROM r; COMMIT;').join('\n'));
  assert.equal(await new Promise((resolve) => hog.on('exit', resolve)), 0);
  const m = await waitFor(() => { const x = apiMigration(db); return x.throttled ? x : null; }, { what: 'the ingest throttle' });
  assert.match(m.throttleReason, /^ingest waits [\d.]+ ms for the writer at p99 \(limit 20 ms\)$/);
  // The waits age out of the 10 s window and the job carries on.
  await waitFor(() => logLines(w.log()).some((l) => /throttle lifted after/.test(l.text)), { timeoutMs: 30000, what: 'the throttle to lift' });
  assert.ok(feeder.acked.length > 0);
});

test('ETA from the recent rate: after the pace drops, the recent ETA is within 15 % of the truth while the lifetime one is not', async (t) => {
  const dir = tempDir('meshscope-eta-');
  const { db } = legacyWithReference(dir, { transmissions: 26000, observations: 78000 });
  const w = await startControlled({ db, dir, args: ['--batch-size', '200', '--yield-ms', '20',
    '--throttle-ingest-wait-ms', '0', '--throttle-wal-mb', '0'] });
  t.after(async () => { await w.stop(); rmSync(dir, { recursive: true, force: true }); });
  await waitFor(() => (job(w.socket).rowsProcessed ?? 0) > 15000, { timeoutMs: 30000, what: 'the fast phase' });
  const before = job(w.socket);
  assert.equal(ctl(w.socket, 'set', MIGRATION, 'yield-ms', '300').status, 0);
  const changedAt = Date.now();
  const samples = [];
  for (const at of [3000, 6000, 10000]) {
    await sleep(changedAt + at - Date.now());
    const j = job(w.socket);
    samples.push({ at, t: Date.now(), remaining: j.rowsTotal - j.rowsProcessed, recentEta: j.etaSec,
      lifetimeEta: (j.rowsTotal - j.rowsProcessed) / j.ratePerSec, recent: j.recentRatePerSec, lifetime: j.ratePerSec });
  }
  await waitFor(() => job(w.socket).state === 'done', { timeoutMs: 60000, what: 'the backfill to finish' });
  const doneAt = Date.now();
  const report = samples.map((s) => {
    const actual = (doneAt - s.t) / 1000;
    return { ...s, actual, recentErr: (s.recentEta - actual) / actual, lifetimeErr: (s.lifetimeEta - actual) / actual };
  });
  for (const r of report) {
    console.log(`# ${r.at / 1000} s after the change: actual ${r.actual.toFixed(1)} s, recent ETA ${r.recentEta.toFixed(1)} s (${(100 * r.recentErr).toFixed(0)} %), lifetime ETA ${r.lifetimeEta.toFixed(1)} s (${(100 * r.lifetimeErr).toFixed(0)} %)`);
  }
  console.log(`# before the change: recent ${before.recentRatePerSec.toFixed(0)} rows/s, lifetime ${before.ratePerSec.toFixed(0)} rows/s`);
  const last = report[report.length - 1];
  assert.ok(Math.abs(last.recentErr) <= 0.15, `recent ETA off by ${(100 * last.recentErr).toFixed(0)} %`);
  assert.ok(Math.abs(last.lifetimeErr) > 0.15, `lifetime ETA off by only ${(100 * last.lifetimeErr).toFixed(0)} %`);
});
