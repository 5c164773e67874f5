// The worker's ingest socket against the real binary, a real unix socket and a
// real SQLite file (docs/ingest.md): acknowledgements in order and only after the
// commit, durability across kill -9, malformed lines, back-pressure, SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, existsSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { TOP, tempDir, waitFor } from '../lib/stack.mjs';
import {
  startWorker, connect, exchange, Replies, observation, sql, scalar, unreadBytes, rssKiB, WORKER,
} from '../lib/ingest.mjs';

let dir;
before(() => { dir = tempDir('meshscope-ingest-'); });
after(() => { execFileSync('rm', ['-rf', dir]); });

function paths(name) {
  return { db: path.join(dir, `${name}.db`), socket: path.join(dir, `${name}.sock`) };
}

test('N lines get N replies in order, and N rows with their figures', async () => {
  const { db, socket } = paths('order');
  const worker = await startWorker({ db, socket });
  try {
    const N = 600;
    const lines = [];
    const expected = [];
    for (let i = 0; i < N; i++) {
      // Every 37th line is malformed in a different way; its reply must sit at its position.
      if (i % 37 === 5) {
        lines.push(i % 2 ? '{"hash":' : observation({ hash: `o${i}`, raw_hex: 'abc' }));
        expected.push('error');
      } else {
        lines.push(observation({ hash: `o${i % 150}`, observer: `seq-${i}`, timestamp: 1760000000 + i }));
        expected.push('ok');
      }
    }
    const replies = await exchange(socket, lines);
    assert.equal(replies.length, N);
    replies.forEach((r, i) => {
      assert.ok(r === 'ok' || r.startsWith('error '), `reply ${i}: ${r}`);
      assert.equal(r.split(' ')[0], expected[i], `reply ${i}: ${r}`);
    });
    const okCount = expected.filter((e) => e === 'ok').length;
    assert.equal(scalar(db, 'SELECT count(*) FROM observations'), okCount);
    // Each acknowledged line is its own row, found by its sequence number.
    const seqs = new Set(sql(db, 'SELECT observer FROM observations').map((r) => r.observer));
    expected.forEach((e, i) => { if (e === 'ok') assert.ok(seqs.has(`seq-${i}`), `row ${i}`); });
    assert.equal(scalar(db, 'SELECT count(*) FROM transmissions'), 150);
    // Every transmission's last_seen is the max of its observations.
    assert.equal(scalar(db, `SELECT count(*) FROM transmissions t WHERE last_seen !=
      (SELECT MAX(timestamp) FROM observations WHERE transmission_id = t.id)`), 0);
    const [stats] = sql(db, 'SELECT * FROM _ingest_stats');
    assert.equal(stats.lines_accepted, okCount);
    assert.equal(stats.lines_acked, okCount);
    assert.equal(stats.lines_rejected, N - okCount);
    assert.ok(stats.commits >= 1 && stats.commits <= okCount, JSON.stringify(stats));
    assert.ok(stats.ack_latency_p99_ms >= stats.ack_latency_p50_ms, JSON.stringify(stats));
  } finally {
    await worker.stop();
  }
});

test('a malformed line gets a clear error and the connection stays up', async () => {
  const { db, socket } = paths('malformed');
  const worker = await startWorker({ db, socket });
  try {
    const s = await connect(socket);
    const replies = new Replies(s);
    const cases = [
      ['[1,2,3]', /^error expected a JSON object$/],
      [observation({ hash: 'm1' }), /^ok$/],
      ['{"hash":"m2","raw_hex":"zz","timestamp":1760000000}', /^error field "raw_hex": not a hex digit/],
      [observation({ hash: 'm3', timestamp: 1 }), /^error field "timestamp": out of range/],
      ['{"hash":"m4","raw_hex":"00","timestamp":1760000000,"bogus":1}', /^error unknown field "bogus"$/],
      [`${'x'.repeat(70 * 1024)}`, /^error line too long/],
      [observation({ hash: 'm5' }), /^ok$/],
    ];
    for (const [line, want] of cases) {
      s.write(`${line}\n`);
      assert.match(await replies.next(), want);
    }
    // Invalid UTF-8, as raw bytes.
    s.write(Buffer.concat([Buffer.from('{"hash":"m6","observer":"'), Buffer.from([0xff]),
      Buffer.from('","raw_hex":"00","timestamp":1760000000}\n')]));
    assert.match(await replies.next(), /^error line is not valid UTF-8$/);
    s.write(`${observation({ hash: 'm7' })}\n`);
    assert.equal(await replies.next(), 'ok');
    s.end();
    assert.equal(await replies.next(), null);
    assert.deepEqual(sql(db, 'SELECT hash FROM transmissions ORDER BY hash').map((r) => r.hash),
      ['m1', 'm5', 'm7']);
    assert.equal(scalar(db, 'SELECT lines_rejected FROM _ingest_stats') >= 0, true);
    // Rejected-only figures are flushed within a second even without a commit.
    await waitFor(() => scalar(db, 'SELECT lines_rejected FROM _ingest_stats') === 6,
      { what: 'six rejected lines in _ingest_stats' });
  } finally {
    await worker.stop();
  }
});

test('every acknowledged observation survives kill -9 of the worker', async () => {
  const { db, socket } = paths('kill9');
  let worker = await startWorker({ db, socket });
  const acked = [];
  const s = await connect(socket);
  const replies = new Replies(s);
  s.on('error', () => {});
  // Keep lines flowing so the kill lands while commits are in progress.
  let sent = 0;
  const pump = () => {
    while (sent < 20000) {
      const more = s.write(`${observation({ hash: `k${sent}`, observer: `k${sent}` })}\n`);
      sent++;
      if (!more) return;
    }
  };
  s.on('drain', pump);
  pump();
  let i = 0;
  for (let line; (line = await replies.next()) !== null; i++) {
    if (line === 'ok') acked.push(`k${i}`);
    if (acked.length === 2000) process.kill(worker.pid, 'SIGKILL');
  }
  const { signal } = await worker.exited;
  assert.equal(signal, 'SIGKILL');
  assert.ok(acked.length >= 2000, `acked ${acked.length}`);

  // The restarted worker replaces the dead one's socket and still answers.
  worker = await startWorker({ db, socket });
  try {
    const present = new Set(sql(db, 'SELECT observer FROM observations').map((r) => r.observer));
    const missing = acked.filter((k) => !present.has(k));
    assert.deepEqual(missing, [], `${missing.length} acknowledged observations lost`);
    assert.deepEqual(await exchange(socket, [observation({ hash: 'after-restart' })]), ['ok']);
  } finally {
    await worker.stop();
  }
});

test('SIGTERM commits and answers the lines already read, then exits 0', async () => {
  const { db, socket } = paths('sigterm');
  // A long group-commit window: only the stop can commit these lines in time.
  const worker = await startWorker({ db, socket, args: ['--ingest-batch-ms', '60000'] });
  const s = await connect(socket);
  const replies = new Replies(s);
  const N = 50;
  await new Promise((resolve) => s.write(
    Array.from({ length: N }, (_, i) => `${observation({ hash: `t${i}` })}\n`).join(''), resolve));
  await waitFor(() => unreadBytes(socket, worker.pid) === 0, { what: 'the worker to read the lines' });
  const stoppedAt = Date.now();
  worker.child.kill('SIGTERM');
  const all = await replies.all();
  const { code } = await worker.exited;
  assert.equal(code, 0);
  assert.ok(Date.now() - stoppedAt < 10000, 'stopped within supervisord stopwaitsecs');
  assert.deepEqual(all, Array(N).fill('ok'));
  assert.equal(scalar(db, 'SELECT count(*) FROM observations'), N);
  assert.equal(existsSync(socket), false, 'the socket file is removed');
  assert.match(worker.log(), /ingest: stopped/);
});

test('many concurrent clients each get their replies in order, in shared group commits', async () => {
  const { db, socket } = paths('concurrent');
  const worker = await startWorker({ db, socket });
  try {
    const clients = 24;
    const perClient = 150;
    const results = await Promise.all(Array.from({ length: clients }, (_, c) => exchange(socket,
      Array.from({ length: perClient }, (_, i) => (i === 7 ? 'not json'
        : observation({ hash: `c${c}-${i % 10}`, observer: `c${c}-${i}`, timestamp: 1760000000 + i }))))));
    results.forEach((replies, c) => {
      assert.equal(replies.length, perClient, `client ${c}`);
      replies.forEach((r, i) => assert.equal(r.split(' ')[0], i === 7 ? 'error' : 'ok', `client ${c} line ${i}`));
    });
    assert.equal(scalar(db, 'SELECT count(*) FROM observations'), clients * (perClient - 1));
    const [stats] = sql(db, 'SELECT commits, commit_rows_max, lines_acked FROM _ingest_stats');
    assert.equal(stats.lines_acked, clients * (perClient - 1));
    // Group commit: lines from concurrent clients share transactions.
    assert.ok(stats.commit_rows_max > 1 && stats.commits < stats.lines_acked, JSON.stringify(stats));
  } finally {
    await worker.stop();
  }
});

test('a client that does not read its replies is slowed down; worker memory stays bounded', async () => {
  const { db, socket } = paths('backpressure');
  const worker = await startWorker({ db, socket });
  try {
    const s = await connect(socket);
    s.on('error', () => {});
    s.pause(); // read no replies
    // Each line its own observation (a repeat would be answered `ok duplicate`).
    const line = (i) => `${observation({ hash: 'bp', observer: 'x'.repeat(100), timestamp: 1760000000 + i })}\n`;
    const total = 120000; // ~20 MB of input
    let sent = 0;
    // Write as fast as the socket takes it: node's 'drain' paces the pump.
    const pump = () => {
      while (sent < total) {
        const more = s.write(line(sent));
        sent++;
        if (!more) return;
      }
      s.end();
    };
    s.on('drain', pump);
    pump();
    const count = () => scalar(db, 'SELECT count(*) FROM observations');
    // The worker stops taking lines: bytes wait unread in its socket and no
    // commit happens. Absence of progress can only be seen over an interval.
    await waitFor(async () => {
      const before = count();
      await new Promise((r) => setTimeout(r, 1000));
      return count() === before && unreadBytes(socket, worker.pid) > 0;
    }, { timeoutMs: 30000, what: 'the worker to stall on the unread replies' });
    const stalledAt = count();
    assert.ok(stalledAt < total / 2, `${stalledAt} of ${total} lines taken without replies being read`);
    const rss = rssKiB(worker.pid);
    assert.ok(rss < 64 * 1024, `worker RSS ${rss} KiB`);
    assert.ok(sent < total, 'the client was held back');
    // Reading the replies releases it; everything is then committed and answered.
    const replies = new Replies(s);
    s.resume();
    let oks = 0;
    for (let r; (r = await replies.next()) !== null;) if (r === 'ok') oks++;
    assert.equal(oks, total);
    assert.equal(count(), total);
    assert.ok(rssKiB(worker.pid) < 64 * 1024);
  } finally {
    await worker.stop();
  }
});

test('the socket mode and group are configurable', async () => {
  const { db, socket } = paths('perms');
  const worker = await startWorker({
    db, socket, args: ['--ingest-socket-mode', '0620', '--ingest-socket-group', 'daemon'],
  });
  try {
    const st = statSync(socket);
    assert.equal(st.mode & 0o777, 0o620);
    assert.equal(st.gid, 1);
  } finally {
    await worker.stop();
  }
});

test('a live socket is not stolen by a second worker', async () => {
  const { db, socket } = paths('twice');
  const worker = await startWorker({ db, socket });
  try {
    const second = await new Promise((resolve) => {
      const c = spawn(WORKER, ['--db', db, '--ingest-socket', socket]);
      let err = '';
      c.stderr.on('data', (d) => { err += d; });
      c.on('exit', (code) => resolve({ code, err }));
    });
    assert.notEqual(second.code, 0);
    assert.match(second.err, /another process is listening/);
    assert.deepEqual(await exchange(socket, [observation({ hash: 'still-first' })]), ['ok']);
  } finally {
    await worker.stop();
  }
});

// scripts/gen-demo-db's hash for legacy transmission i.
function legacyHash(i) {
  const h = Number((BigInt(i) * 2654435761n) % 4294967296n);
  return i.toString(16).padStart(8, '0') + h.toString(16).padStart(8, '0');
}

test('ingest beside a running backfill: the backfill ends, last_seen is exact everywhere, no ack lost', async () => {
  const { db, socket } = paths('backfill');
  const LEGACY = 4000;
  execFileSync(path.join(TOP, 'scripts', 'gen-demo-db'),
    [db, '--transmissions', String(LEGACY), '--observations', '80000']);
  // Small batches and yields stretch the backfill over many transactions.
  const worker = await startWorker({ db, socket, args: ['--batch-size', '10', '--yield-ms', '10'] });
  try {
    const migration = () => sql(db, `SELECT status, rows_processed, rows_total FROM _async_migrations
      WHERE name = 'tx_last_seen_backfill_v1'`)[0];
    const s = await connect(socket);
    const replies = new Replies(s);
    const acked = [];
    let seq = 0;
    const during = []; // backfill progress seen while ingest rounds ran beside it
    for (let round = 0; round < 400; round++) {
      const before = migration();
      const lines = [];
      for (let k = 0; k < 40; k++, seq++) {
        const legacy = 1 + ((seq * 7919) % LEGACY);
        let hash, timestamp;
        switch (seq % 4) {
          case 0: // a late observation, older than anything the legacy row has
            hash = legacyHash(legacy); timestamp = 1757000000 + (seq % 1000); break;
          case 1: // a newer observation of a legacy row, reached or not
            hash = legacyHash(legacy); timestamp = 1760100000 + seq; break;
          default: // new transmissions, their observations out of order
            hash = `n${seq % 97}`; timestamp = 1760200000 - (seq % 13) * 10;
        }
        lines.push(observation({ hash, observer: `b${seq}`, timestamp }));
      }
      s.write(lines.map((l) => `${l}\n`).join(''));
      for (let k = 0; k < lines.length; k++) {
        const r = await replies.next();
        assert.equal(r, 'ok');
        acked.push(`b${seq - lines.length + k}`);
      }
      const after = migration();
      if (before.status === 'pending_async' && after.status === 'pending_async') {
        during.push(after.rows_processed);
      }
      if (after.status !== 'pending_async' && round >= 10) break;
    }
    s.end();
    assert.equal(await replies.next(), null);
    // Progress rows are written about once a second: growth between the first
    // and the last overlapping round means backfill batches committed between ingest commits.
    assert.ok(during.length >= 3 && during[during.length - 1] > during[0],
      `backfill progress during ingest: ${during}`);
    await waitFor(() => migration().status === 'done', { what: 'the backfill to finish' });

    const present = new Set(sql(db, "SELECT observer FROM observations WHERE observer LIKE 'b%'")
      .map((r) => r.observer));
    assert.deepEqual(acked.filter((o) => !present.has(o)), []);
    assert.equal(scalar(db, `SELECT count(*) FROM transmissions t WHERE last_seen !=
      COALESCE((SELECT MAX(timestamp) FROM observations WHERE transmission_id = t.id), 0)`), 0);
    // Legacy rows that only got late, older observations kept their own newer maximum.
    assert.ok(scalar(db, `SELECT count(*) FROM transmissions WHERE last_seen BETWEEN 1757402000 AND 1760003600`) > 0);
  } finally {
    await worker.stop();
  }
});
