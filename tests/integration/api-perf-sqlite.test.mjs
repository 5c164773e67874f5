// GET /api/perf/sqlite over good, missing, garbage and locked databases: the
// file's shape and the worker's last checkpoint, answered read-only with the
// same error rules as every other endpoint (JSON errors, no 500 for a
// database that does not exist yet).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { cgi, json, sqlite } from '../lib/cgi.mjs';
import { WORKER } from '../lib/backfill.mjs';

const dir = tempDir('meshscope-perf-sqlite-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a database the worker created: page figures, sizes, WAL mode, and the freelist', () => {
  const db = path.join(dir, 'good.db');
  const run = spawnSync(WORKER, ['--db', db, '--run-once'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const res = cgi({ db, uri: '/api/perf/sqlite' });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = json(res);
  assert.match(body.sqliteVersion, /^3\.\d+\.\d+/);
  assert.equal(body.database, true);
  assert.equal(body.journalMode, 'wal');
  assert.ok(body.pageSize >= 512);
  assert.ok(body.pageCount > 0);
  assert.equal(body.databaseBytes, statSync(db).size);
  assert.equal(body.databaseBytes, body.pageCount * body.pageSize);
  assert.equal(typeof body.walBytes, 'number');
  assert.equal(typeof body.freelistCount, 'number');
  assert.ok(['none', 'full', 'incremental'].includes(body.autoVacuum));
  assert.equal(body.freelistReclaimable, body.autoVacuum === 'incremental');
  assert.ok('lastCheckpoint' in body);
});

test('a legacy database without auto_vacuum says its freelist cannot be returned online', () => {
  const db = path.join(dir, 'legacy.db');
  sqlite(db, 'CREATE TABLE t(x); INSERT INTO t VALUES (1);');
  const body = json(cgi({ db, uri: '/api/perf/sqlite' }));
  assert.equal(body.autoVacuum, 'none');
  assert.equal(body.freelistReclaimable, false);
  assert.match(body.freelistNote, /cannot be returned online.*VACUUM/);
  assert.equal(body.lastCheckpoint, null, 'no worker figures yet');
});

test('the worker\'s last checkpoint, as it published it', () => {
  const db = path.join(dir, 'checkpointed.db');
  sqlite(db, `CREATE TABLE _writer_stats(source TEXT PRIMARY KEY, transactions INTEGER NOT NULL DEFAULT 0,
    wait_sum_us INTEGER NOT NULL DEFAULT 0, hold_sum_us INTEGER NOT NULL DEFAULT 0,
    hold_max_us INTEGER NOT NULL DEFAULT 0, wait_buckets TEXT, hold_buckets TEXT, updated_at TEXT,
    checkpoint_at TEXT, checkpoint_log_frames INTEGER, checkpoint_done_frames INTEGER,
    checkpoint_completed INTEGER);
    INSERT INTO _writer_stats(source, transactions, checkpoint_at, checkpoint_log_frames,
      checkpoint_done_frames, checkpoint_completed) VALUES ('checkpoint', 3, '2026-12-01 10:00:00', 120, 80, 0);`);
  const body = json(cgi({ db, uri: '/api/perf/sqlite' }));
  assert.deepEqual(body.lastCheckpoint,
    { at: '2026-12-01 10:00:00', walFrames: 120, checkpointedFrames: 80, completed: false });
});

test('no database file: 200 with database false, and the file is not created', () => {
  const db = path.join(dir, 'never-created.db');
  const res = cgi({ db, uri: '/api/perf/sqlite' });
  assert.equal(res.status, 200);
  const body = json(res);
  assert.equal(body.database, false);
  assert.match(body.sqliteVersion, /^3\./);
  assert.equal(existsSync(db), false);
});

test('a file that is not a database: a JSON 500, not a crash', () => {
  const db = path.join(dir, 'garbage.db');
  writeFileSync(db, 'this is not an SQLite database\n'.repeat(200));
  const res = cgi({ db, uri: '/api/perf/sqlite' });
  assert.equal(res.status, 500);
  assert.deepEqual(Object.keys(json(res)), ['error']);
  assert.match(json(res).error, /not a database/);
});

test('a database another process holds exclusively: a JSON 503 with Retry-After', async () => {
  const db = path.join(dir, 'locked.db');
  sqlite(db, 'PRAGMA journal_mode = DELETE; CREATE TABLE t(x); INSERT INTO t VALUES (1);');
  const holder = spawn('sqlite3', ['-batch', db], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  holder.stdout.on('data', (d) => { out += d; });
  holder.stdin.write("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO t VALUES (2); SELECT 'held';\n");
  try {
    await waitFor(() => out.includes('held'), { what: 'the exclusive lock' });
    const res = cgi({ db, uri: '/api/perf/sqlite' });
    assert.equal(res.status, 503, res.body);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(typeof json(res).error, 'string');
  } finally {
    holder.stdin.end();
    holder.kill();
  }
});
