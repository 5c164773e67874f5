// WAL housekeeping: once the WAL is past --throttle-wal-mb the worker
// truncates it at a quiet moment, but only when a checkpoint can complete:
// a reader pinning an old snapshot keeps it, and once it lets go the WAL
// goes back to zero bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { startWorker, sql } from '../lib/ingest.mjs';

const walBytes = (db) => (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);

test('a reader holding an old snapshot keeps the WAL; once it lets go the TRUNCATE checkpoint happens', async (t) => {
  const dir = tempDir('meshscope-wal-');
  const db = path.join(dir, 'w.db');
  const socket = path.join(dir, 'ingest.sock');
  const worker = await startWorker({ db, socket, args: ['--throttle-wal-mb', '1'] });
  t.after(async () => { await worker.stop(); rmSync(dir, { recursive: true, force: true }); });

  // The periodic reader: a read transaction opened before the big write.
  const reader = spawn('sqlite3', ['-batch', db], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  reader.stdout.on('data', (d) => { out += d; });
  reader.stdin.write("BEGIN; SELECT 'snap', count(*) FROM transmissions;\n");
  await waitFor(() => out.includes('snap'), { what: 'the reader snapshot' });

  execFileSync('sqlite3', ['-batch', db], { input: 'CREATE TABLE scratch(b); INSERT INTO scratch VALUES (randomblob(3000000));' });
  assert.ok(walBytes(db) > 1024 * 1024, `WAL ${walBytes(db)} bytes`);

  // The worker tried and could not complete: published as an incomplete checkpoint.
  await waitFor(() => {
    const [r] = sql(db, "SELECT checkpoint_completed FROM _writer_stats WHERE source = 'checkpoint'");
    return r && r.checkpoint_completed === 0;
  }, { what: `an incomplete checkpoint published (log: ${worker.log()})` });
  assert.ok(walBytes(db) > 1024 * 1024, 'not truncated while the reader holds its snapshot');

  reader.stdin.write("COMMIT;\n.quit\n");
  await new Promise((resolve) => reader.on('exit', resolve));
  await waitFor(() => /WAL housekeeping: truncated the WAL/.test(worker.log()),
    { what: `the TRUNCATE checkpoint (log: ${worker.log()})` });
  assert.ok(walBytes(db) < 1024 * 1024, `WAL ${walBytes(db)} bytes after the truncation`);
  assert.equal(execFileSync('sqlite3', [db, 'PRAGMA integrity_check'], { encoding: 'utf8' }).trim(), 'ok');
});
