// meshscope-worker's command line for operators and scripts: --run-once exit
// codes, parameter validation, and the status view.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../lib/stack.mjs';
import { WORKER, legacyWithReference, rowsDifferingFromReference, migrationStatus, sqlite,
  logLines } from '../lib/backfill.mjs';

let dir;
before(() => { dir = tempDir('meshscope-worker-cli-'); });
after(() => rmSync(dir, { recursive: true, force: true }));

const worker = (...args) => spawnSync(WORKER, args, { encoding: 'utf8', timeout: 60000 });
const subdir = (name) => {
  const sub = path.join(dir, name);
  mkdirSync(sub);
  return sub;
};

test('--run-once upgrades a legacy database, fills every eligible row and exits 0', () => {
  const { db, reference } = legacyWithReference(subdir('ok'),
    { transmissions: 2000, observations: 20000 });
  const res = worker('--db', db, '--run-once', '--yield-ms', '0');
  assert.equal(res.status, 0, res.stderr);
  const m = migrationStatus(db);
  assert.equal(m.status, 'done');
  assert.equal(m.rowsProcessed, m.rowsTotal);
  assert.ok(m.endedAt);
  assert.equal(rowsDifferingFromReference(db, reference), 0);
  // One start line, one end line with the figures an operator needs.
  const lines = logLines(res.stderr).map((l) => l.text);
  assert.equal(lines.filter((l) => l.includes('tx_last_seen_backfill_v1: starting:')).length, 1);
  const end = lines.filter((l) => l.includes('tx_last_seen_backfill_v1: done:'));
  assert.equal(end.length, 1);
  assert.match(end[0], /\d+\/\d+ rows in \d+ batches, longest batch hold [\d.]+ ms \(target 30 ms\), work [\d.]+ s, wall time [\d.]+ s/);
  // A second run has nothing to do: done is never re-run.
  const again = worker('--db', db, '--run-once');
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /starting:/);
  assert.equal(migrationStatus(db).endedAt, m.endedAt);
});

test('--run-once exits non-zero when a migration fails, and status shows the error', () => {
  const { db } = legacyWithReference(subdir('fail'), { transmissions: 500, observations: 2000 });
  sqlite(db, `CREATE TRIGGER refuse BEFORE UPDATE ON transmissions
    BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;`);
  const res = worker('--db', db, '--run-once', '--yield-ms', '0');
  assert.equal(res.status, 1, res.stderr);
  const m = migrationStatus(db);
  assert.equal(m.status, 'failed');
  assert.match(m.error, /refused by the test/);
  assert.ok(m.endedAt);
  const table = worker('status', '--db', db);
  assert.equal(table.status, 0);
  assert.match(table.stdout, /tx_last_seen_backfill_v1\s+failed\s+.*refused by the test/);
});

test('invalid batch parameters are refused with a message naming the option', () => {
  const db = path.join(dir, 'never.db');
  for (const [flag, value] of [['--batch-size', '0'], ['--batch-size', '-5'],
    ['--yield-ms', '-1'], ['--target-batch-ms', '0'], ['--target-batch-ms', 'soon']]) {
    const res = worker('--db', db, flag, value, '--run-once');
    assert.equal(res.status, 2, `${flag} ${value}: ${res.stderr}`);
    assert.match(res.stderr, new RegExp(flag));
  }
});

test('status refuses a database that does not exist and does not create it', () => {
  const db = path.join(dir, 'absent.db');
  const res = worker('status', '--db', db);
  assert.equal(res.status, 1);
  assert.match(res.stderr, /cannot open/);
  assert.equal(spawnSync('test', ['-e', db]).status, 1);
});
