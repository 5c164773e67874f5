// The demo feed under supervisord (scripts/stack --feed-rate): the feeder
// streams into the worker's ingest socket while the demo backfill runs, the
// figures move in /api/perf and /api/metrics, and the feeder rides out a
// worker crash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { TOP, startStack, tempDir, waitFor, alive } from '../lib/stack.mjs';
import { scalar } from '../lib/ingest.mjs';

let stack;
let dir;
before(async () => {
  dir = tempDir('meshscope-ingest-stack-');
  const db = path.join(dir, 'demo.db');
  execFileSync(path.join(TOP, 'scripts', 'gen-demo-db'), [db, '--transmissions', '3000', '--observations', '60000']);
  // A slow backfill, so the feed runs beside it.
  stack = await startStack({ db, numprocs: 2, feedRate: 50, workerArgs: '--batch-size 20 --yield-ms 25' });
});
after(async () => {
  await stack?.stop();
  execFileSync('rm', ['-rf', dir]);
});

async function perf() {
  return (await fetch(`${stack.url}/api/perf`)).json();
}

test('the feeder runs under supervisord and its figures move while the backfill runs', async () => {
  assert.ok(stack.pids().feeder, `feeder RUNNING: ${stack.ctl('status')}`);
  const first = await waitFor(async () => {
    const p = await perf();
    return p.ingest?.linesAcked > 0 ? p : null;
  }, { what: 'ingest figures in /api/perf' });
  const health = await (await fetch(`${stack.url}/api/healthz`)).json();
  assert.equal(health.async_migrations_running, true, 'the backfill is still running');
  const later = await waitFor(async () => {
    const p = await perf();
    return p.ingest.linesAcked > first.ingest.linesAcked ? p : null;
  }, { what: 'linesAcked to grow' });
  assert.ok(later.ingest.commits > first.ingest.commits);
  assert.equal(later.ingest.linesRejected, 0);
  const metrics = await (await fetch(`${stack.url}/api/metrics`)).text();
  const acked = Number(metrics.match(/^meshscope_ingest_lines_acked_total (\d+)$/m)[1]);
  assert.ok(acked >= later.ingest.linesAcked);
});

test('the feeder survives a worker crash and resumes against the restarted worker', async () => {
  const before = stack.pids();
  process.kill(before.worker, 'SIGKILL');
  const restarted = await waitFor(() => {
    const pid = stack.pids().worker;
    return pid && pid !== before.worker ? pid : null;
  }, { what: 'supervisord to restart the worker' });
  assert.ok(alive(restarted));
  const afterRestart = scalar(stack.db, 'SELECT lines_acked FROM _ingest_stats');
  await waitFor(() => scalar(stack.db, 'SELECT lines_acked FROM _ingest_stats') > afterRestart + 20,
    { what: 'acknowledged lines to grow after the restart' });
  assert.equal(stack.pids().feeder, before.feeder, 'the same feeder process reconnected');
  assert.match(stack.log('feeder'), /reconnecting/);
});

test('once the backfill is done, every last_seen is the max of its observations', async () => {
  await waitFor(async () => {
    const h = await (await fetch(`${stack.url}/api/healthz`)).json();
    return h.async_migrations_running === false;
  }, { timeoutMs: 60000, what: 'the backfill to finish' });
  assert.equal(scalar(stack.db, `SELECT count(*) FROM transmissions t WHERE last_seen !=
    COALESCE((SELECT MAX(timestamp) FROM observations WHERE transmission_id = t.id), 0)`), 0);
});
