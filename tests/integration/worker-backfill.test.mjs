// The backfill under supervisord on a legacy database: killed with SIGKILL
// mid-run it restarts and finishes with the reference result; stopped with
// SIGTERM it leaves its committed batches and an exact progress row behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { startStack, tempDir, waitFor, alive } from '../lib/stack.mjs';
import { WORKER, legacyWithReference, rowsDifferingFromReference, migrationStatus, sqlite,
  logLines } from '../lib/backfill.mjs';

const filledRows = (db) => Number(sqlite(db, 'SELECT count(*) FROM transmissions WHERE last_seen != 0'));
const startLines = (log) => logLines(log).filter((l) => /tx_last_seen_backfill_v1: starting: /.test(l.text));
const rowsToFill = (line) => Number(line.text.match(/starting: (\d+) rows to fill/)[1]);

test('kill -9 mid-backfill: supervisord restarts the worker and it finishes with the reference result', async (t) => {
  const dir = tempDir('meshscope-kill9-');
  const { db, reference } = legacyWithReference(dir);
  // About a hundred batches with short yields: seconds of work to interrupt.
  const stack = await startStack({ db, dir, numprocs: 1, workerArgs: '--batch-size 100 --yield-ms 50' });
  t.after(async () => { await stack.stop(); rmSync(dir, { recursive: true, force: true }); });

  const before = await waitFor(() => {
    const m = migrationStatus(db);
    return m && m.status === 'pending_async' && m.rowsProcessed > 0 ? m : null;
  }, { what: 'backfill progress' });
  const victim = stack.pids().worker;
  assert.ok(victim, 'the worker runs under supervisord');
  process.kill(victim, 'SIGKILL');
  const kept = filledRows(db);
  assert.ok(kept > 0 && kept < before.rowsTotal, `killed mid-run: ${kept} of ${before.rowsTotal} filled`);

  const replacement = await waitFor(() => {
    const pid = stack.pids().worker;
    return pid && pid !== victim ? pid : null;
  }, { what: 'supervisord to restart the worker' });
  assert.ok(alive(replacement));
  const done = await waitFor(() => {
    const m = migrationStatus(db);
    return m?.status === 'done' ? m : null;
  }, { timeoutMs: 60000, what: 'the restarted backfill to finish' });

  assert.equal(rowsDifferingFromReference(db, reference), 0);
  // The restart counted only what was left: committed batches were not redone.
  // (Progress never over-reports, so what the row showed before the kill was committed.)
  const starts = startLines(stack.log('worker'));
  assert.equal(starts.length, 2, stack.log('worker'));
  assert.ok(rowsToFill(starts[1]) <= rowsToFill(starts[0]) - before.rowsProcessed,
    `second run had ${rowsToFill(starts[1])} rows to fill after ${before.rowsProcessed} were reported`);
  assert.equal(done.rowsProcessed, done.rowsTotal);
  assert.equal(done.rowsTotal, rowsToFill(starts[1]));
});

test('SIGTERM mid-backfill: exits within a batch and a yield, leaves pending_async with exact progress', async (t) => {
  const dir = tempDir('meshscope-sigterm-');
  const { db, reference } = legacyWithReference(dir);
  const yieldMs = 2000;
  const stack = await startStack({ db, dir, numprocs: 1, workerArgs: `--batch-size 500 --yield-ms ${yieldMs}` });
  t.after(async () => { await stack.stop(); rmSync(dir, { recursive: true, force: true }); });

  // The first progress row comes after the second batch: the worker is then in a yield.
  await waitFor(() => migrationStatus(db)?.rowsProcessed > 0, { what: 'backfill progress' });
  stack.ctl('stop', 'worker');

  const lines = logLines(stack.log('worker'));
  const term = lines.find((l) => l.text.includes('SIGTERM received'));
  const stopped = lines.find((l) => l.text.includes('stopped (migrations:'));
  assert.ok(term && stopped, stack.log('worker'));
  // A yield that SIGTERM did not cut short would take up to 2000 ms more.
  assert.ok(stopped.at - term.at < yieldMs / 2, `stopped ${stopped.at - term.at} ms after SIGTERM`);
  assert.ok(lines.some((l) => /tx_last_seen_backfill_v1: cancelled: \d+\/\d+ rows/.test(l.text)), stack.log('worker'));

  const row = migrationStatus(db);
  assert.equal(row.status, 'pending_async');
  assert.equal(row.endedAt, undefined);
  // The terminal write carries exactly the committed rows.
  const kept = filledRows(db);
  assert.ok(kept > 0 && kept < row.rowsTotal);
  assert.equal(row.rowsProcessed, kept);
  assert.ok(Date.now() - Date.parse(row.lastUpdateAt) < 60000);

  // The next start finishes from where it stopped.
  const res = spawnSync(WORKER, ['--db', db, '--run-once', '--yield-ms', '0'], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const again = startLines(res.stderr);
  assert.equal(rowsToFill(again[0]), row.rowsTotal - kept);
  assert.equal(migrationStatus(db).status, 'done');
  assert.equal(rowsDifferingFromReference(db, reference), 0);
});
