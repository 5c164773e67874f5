// Writer accounting: every worker write transaction is attributed to its
// source; the published per-source hold sums agree with the migration's own
// per-batch figures, slow holds are logged with their source, and the
// histograms reach /api/perf and /api/metrics (promtool-clean).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { WORKER, MIGRATION, legacyWithReference } from '../lib/backfill.mjs';
import { startWorker, exchange, observation, sql } from '../lib/ingest.mjs';
import { cgi, json } from '../lib/cgi.mjs';

function runOnce(db, args) {
  return new Promise((resolve) => {
    const child = spawn(WORKER, ['--db', db, '--run-once', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => { log += d; });
    child.on('exit', (code) => resolve({ code, log }));
  });
}

test('per-source hold sum of the backfill equals its --stats-json batch holds within 5 %, and both APIs publish it', async (t) => {
  const dir = tempDir('meshscope-writer-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { db } = legacyWithReference(dir, { transmissions: 3000, observations: 30000 });
  const stats = path.join(dir, 'stats.json');
  const run = await runOnce(db, ['--stats-json', stats, '--batch-size', '100', '--yield-ms', '0']);
  assert.equal(run.code, 0, run.log);

  const mig = JSON.parse(readFileSync(stats, 'utf8')).migrations.find((m) => m.name === MIGRATION);
  const batchSum = mig.holds_ms.reduce((a, b) => a + b, 0);
  assert.ok(mig.holds_ms.length >= 20, `${mig.holds_ms.length} batches`);
  const source = `migration:${MIGRATION}`;
  const [row] = sql(db, `SELECT transactions, hold_sum_us FROM _writer_stats WHERE source = '${source}'`);
  assert.ok(row, `a ${source} row in _writer_stats`);
  assert.equal(row.transactions, mig.holds_ms.length, 'one transaction per batch');
  const published = row.hold_sum_us / 1000;
  assert.ok(Math.abs(published - batchSum) <= 0.05 * batchSum,
    `published ${published} ms vs batches ${batchSum} ms`);
  assert.ok(sql(db, "SELECT 1 FROM _writer_stats WHERE source = 'progress' AND transactions > 0").length,
    'progress rows are accounted too');

  const perf = json(cgi({ db, uri: '/api/perf' }));
  const w = perf.writer[source];
  assert.equal(w.transactions, mig.holds_ms.length);
  assert.ok(Math.abs(w.holdSumMs - batchSum) <= 0.05 * batchSum);
  assert.equal(w.holdBuckets.reduce((a, b) => a + b.count, 0), w.transactions);

  const metrics = cgi({ db, uri: '/api/metrics' });
  assert.equal(metrics.status, 200);
  const count = metrics.body.match(new RegExp(`^meshscope_writer_hold_seconds_count\\{source="${source}"\\} (\\d+)$`, 'm'));
  assert.ok(count, metrics.body);
  assert.equal(Number(count[1]), mig.holds_ms.length);
  assert.match(metrics.body, /^meshscope_writer_wait_seconds_bucket\{source="progress",le="\+Inf"\} \d+$/m);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
});

test('a forced 300 ms hold in an ingest commit is logged with its source and lands in the over-200 ms buckets', async (t) => {
  const dir = tempDir('meshscope-writer-');
  const db = path.join(dir, 'new.db');
  const socket = path.join(dir, 'ingest.sock');
  const worker = await startWorker({ db, socket, env: { MESHSCOPE_TEST_PAUSE: 'ingest-commit=300' } });
  t.after(async () => { await worker.stop(); rmSync(dir, { recursive: true, force: true }); });
  const replies = await exchange(socket, [observation({ hash: 'slow1' })]);
  assert.equal(replies.length, 1);
  await waitFor(() => /writer: slow hold of \d+\.\d ms by ingest \(over 200 ms/.test(worker.log()),
    { what: `the slow-hold line (log: ${worker.log()})` });
  const row = await waitFor(() => {
    const [r] = sql(db, "SELECT hold_max_us, hold_buckets FROM _writer_stats WHERE source = 'ingest'");
    return r && r.hold_max_us >= 300000 ? r : null;
  }, { what: 'the ingest row with the slow hold' });
  const buckets = row.hold_buckets.split(' ').map(Number);
  assert.equal(buckets.length, 14);
  assert.ok(buckets.slice(8).reduce((a, b) => a + b, 0) >= 1, row.hold_buckets);
});
