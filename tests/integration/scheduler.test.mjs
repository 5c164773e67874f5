// One scheduler for every writer job: the recurring ones (retention) run after
// the migrations, their row says how often they run and when next, through
// the API and `meshscope-worker status`, and a recurring run, even paused,
// never makes the site look as if it were warming up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { startStack, tempDir, waitFor } from '../lib/stack.mjs';
import { legacyWithReference, sqlite, WORKER, MIGRATION } from '../lib/backfill.mjs';
import { ctl, startControlled } from '../lib/control.mjs';
import { cgi, json } from '../lib/cgi.mjs';

const RETENTION = 'retention';
const ARGS = ['--yield-ms', '0', '--retain-days', '1', '--retain-every-min', '2'];

function api(db, uri) {
  const res = cgi({ db, uri });
  assert.equal(res.status, 200, res.body);
  return json(res);
}

const entry = (list, name) => list.find((m) => m.name === name);
const unix = (rfc3339) => Date.parse(rfc3339) / 1000;

test('a recurring job says how often and when it runs next, and its run never warms the site up', async (t) => {
  const dir = tempDir('meshscope-scheduler-');
  const { db } = legacyWithReference(dir, { transmissions: 2000, observations: 10000 });
  let w = await startControlled({ db, dir, args: ARGS });
  t.after(async () => { await w.stop(); rmSync(dir, { recursive: true, force: true }); });

  // Retention runs once the migrations are done, and records its next run.
  await waitFor(() => sqlite(db, `SELECT count(*) FROM _async_migrations WHERE name = '${RETENTION}'
    AND status = 'done' AND next_run_at IS NOT NULL;`).trim() === '1', { what: 'the first retention run' });
  const list = api(db, '/api/perf/async-migrations');
  const backfill = entry(list, MIGRATION);
  const retention = entry(list, RETENTION);
  assert.equal(backfill.kind, 'migration');
  assert.equal(backfill.nextRunAt, undefined);
  assert.equal(retention.kind, 'recurring');
  assert.equal(retention.status, 'done');
  assert.equal(retention.everySec, 120);
  assert.ok(unix(retention.startedAt) >= unix(backfill.endedAt), 'retention started after the backfill ended');
  const gap = unix(retention.nextRunAt) - unix(retention.endedAt);
  assert.ok(gap >= 119 && gap <= 121, `next run ${gap} s after the run ended`);

  const status = spawnSync(WORKER, ['status', '--db', db], { encoding: 'utf8' });
  assert.equal(status.status, 0, status.stderr);
  const line = status.stdout.split('\n').find((l) => l.startsWith(RETENTION));
  assert.match(line, new RegExp(`next run ${retention.nextRunAt}`));
  const statusJson = JSON.parse(spawnSync(WORKER, ['status', '--db', db, '--json'], { encoding: 'utf8' }).stdout);
  assert.equal(entry(statusJson, RETENTION).nextRunAt, retention.nextRunAt);

  // Paused by an operator, and restarted: the new run waits, pending, and the site stays steady.
  assert.equal(ctl(w.socket, 'pause', RETENTION, 'maintenance window').status, 0);
  await w.stop();
  w = await startControlled({ db, dir, args: ARGS });
  await waitFor(() => entry(api(db, '/api/perf/async-migrations'), RETENTION).status === 'paused',
    { what: 'the restarted retention run to wait, paused' });
  const healthz = api(db, '/api/healthz');
  assert.equal(healthz.ready, true);
  assert.equal(healthz.async_migrations_running, false, 'a paused recurring run does not warm the site up');
  const paused = entry(healthz.async_migrations, RETENTION);
  assert.equal(paused.kind, 'recurring');
  assert.equal(paused.pauseReason, 'maintenance window');
  assert.equal(paused.nextRunAt, undefined, 'no next run while one is on');

  // Resumed, the run completes and is scheduled again.
  assert.equal(ctl(w.socket, 'resume', RETENTION).status, 0);
  await waitFor(() => {
    const r = entry(api(db, '/api/perf/async-migrations'), RETENTION);
    return r.status === 'done' && r.nextRunAt !== undefined;
  }, { what: 'the resumed run to finish and be scheduled' });
});

test('/api/stats stays exact on every responder when retention deletes rows', async (t) => {
  const dir = tempDir('meshscope-retention-stats-');
  const { db } = legacyWithReference(dir, { transmissions: 2000, observations: 10000 });
  const old = Math.floor(Date.now() / 1000) - 10 * 86400;
  // Many observations are ten days old, but not the newest ones: the highest ids stay, so only
  // a count that notices deletions can be right. Retention is paused until the responders have counted.
  const now = Math.floor(Date.now() / 1000);
  sqlite(db, `UPDATE observations SET timestamp = CASE WHEN id % 2 = 0 AND id < 9000 THEN ${old} ELSE ${now} END;
    UPDATE transmissions SET first_seen = CASE WHEN id % 4 = 0 AND id < 1800 THEN ${old} ELSE ${now} END;
    CREATE TABLE _job_control(name TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0, paused_at TEXT,
      pause_reason TEXT, target_batch_ms INTEGER, yield_ms INTEGER, batch_size INTEGER,
      max_rows_per_sec INTEGER, updated_at TEXT);
    INSERT INTO _job_control(name, paused, paused_at, pause_reason) VALUES ('${RETENTION}', 1, '2026-01-01T00:00:00Z', 'test');`);
  const stack = await startStack({ db, numprocs: 2, workerArgs: ARGS.join(' ') });
  t.after(async () => { await stack.stop(); rmSync(dir, { recursive: true, force: true }); });
  const socket = path.join(stack.dir, 'control.sock');
  const stats = async () => (await (await fetch(`${stack.url}/api/stats`)).json());
  const truth = () => {
    const [tx, obs] = sqlite(db, 'SELECT (SELECT count(*) FROM transmissions), (SELECT count(*) FROM observations);')
      .trim().split('|').map(Number);
    return { transmissions: tx, observations: obs };
  };
  await waitFor(() => sqlite(db, `SELECT status FROM _async_migrations WHERE name = '${RETENTION}';`).trim() === 'pending_async',
    { what: 'the retention run to wait at its start, paused' });
  // Both responders count the full tables (the kernel picks the acceptor: enough requests reach both).
  const before = truth();
  for (let i = 0; i < 20; i++) {
    const s = await stats();
    assert.equal(s.observations, before.observations);
  }
  assert.equal(ctl(socket, 'resume', RETENTION).status, 0);
  await waitFor(() => sqlite(db, `SELECT status FROM _async_migrations WHERE name = '${RETENTION}';`).trim() === 'done',
    { what: 'the retention run to finish' });
  const after = truth();
  assert.ok(after.observations < before.observations && after.observations > 0,
    `retention deleted some observations: ${before.observations} -> ${after.observations}`);
  for (let i = 0; i < 20; i++) {
    const s = await stats();
    assert.deepEqual({ transmissions: s.transmissions, observations: s.observations }, after, `request ${i}`);
  }
});
