// The ingest socket at its edges, against the real worker, a real unix socket
// and a real SQLite file: clients that leave without reading their replies,
// clients that flood bad lines, lines exactly at the cap, repeated
// observations, and a line that fails alone in its group (docs/ingest.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import {
  startWorker, connect, exchange, Replies, observation, sql, scalar, unreadBytes, rssKiB,
  connectionsOf,
} from '../lib/ingest.mjs';

let dir;
before(() => { dir = tempDir('meshscope-ingest-limits-'); });
after(() => { execFileSync('rm', ['-rf', dir]); });

function paths(name) {
  return { db: path.join(dir, `${name}.db`), socket: path.join(dir, `${name}.sock`) };
}

// The memory bound the README documents: per client, 128 KiB of buffers (a
// maximal line with its CR and LF in, 64 KiB of unsent replies out) and its
// bookkeeping; once, a batch and the figures' SQLite pages.
const PER_CLIENT_KIB = 130;
const FIXED_KIB = 1024;

test('every line of a client that closes without reading its replies is stored and counted', async () => {
  const { db, socket } = paths('gone');
  const worker = await startWorker({ db, socket });
  try {
    // 20,000 `ok` replies (60 KB) fit in the worker's reply buffer even if the
    // kernel takes none of them, so the worker never stops reading this client.
    const N = 20000;
    const s = await connect(socket);
    s.on('error', () => {});
    s.pause(); // never reads a reply, like `socat -u` or an exporter that crashed
    const data = Array.from({ length: N },
      (_, i) => `${observation({ hash: `g${i % 400}`, observer: `g${i}` })}\n`).join('');
    await new Promise((resolve) => s.write(data, resolve)); // all handed to the kernel
    s.destroy(); // closes with the replies unread: the worker's next send fails
    await waitFor(() => connectionsOf(socket, worker.pid) === 0,
      { what: 'the worker to finish with the connection' });
    const stored = scalar(db, 'SELECT count(*) FROM observations');
    const [stats] = sql(db, 'SELECT lines_accepted, lines_acked, lines_rejected FROM _ingest_stats');
    assert.equal(stored, N, `${stored} of ${N} lines stored`);
    assert.deepEqual(stats, { lines_accepted: N, lines_acked: N, lines_rejected: 0 });
  } finally {
    await worker.stop();
  }
});

test('clients flooding two-byte bad lines without reading replies stay within the memory bound', async () => {
  const { db, socket } = paths('flood');
  const worker = await startWorker({ db, socket });
  const clients = [];
  try {
    const CLIENTS = 48;
    const baseline = rssKiB(worker.pid);
    // A first line of 64 KiB grows the client's input buffer to its maximum;
    // then `\x80\n`, one invalid byte per line: one 64 KiB read is 32,768 error replies.
    const flood = Buffer.concat([Buffer.from(`${'x'.repeat(65536)}\n`),
      Buffer.alloc(1024 * 1024, Buffer.from([0x80, 0x0a]))]);
    for (let i = 0; i < CLIENTS; i++) {
      const s = await connect(socket);
      s.on('error', () => {});
      s.pause();
      s.write(flood);
      clients.push(s);
    }
    const rejected = () => scalar(db, 'SELECT lines_rejected FROM _ingest_stats') ?? 0;
    // Stalled: no line refused over an interval, bytes waiting unread.
    await waitFor(async () => {
      const before = rejected();
      await new Promise((r) => setTimeout(r, 1200));
      return before > 0 && rejected() === before && unreadBytes(socket, worker.pid) > 0;
    }, { timeoutMs: 25000, what: 'the worker to stop taking lines from the flooding clients' });
    const grownKiB = rssKiB(worker.pid) - baseline;
    console.log(`flood: ${CLIENTS} clients, RSS ${baseline} -> ${baseline + grownKiB} KiB` +
      ` (${(grownKiB / CLIENTS).toFixed(0)} KiB per client)`);
    const boundKiB = CLIENTS * PER_CLIENT_KIB + FIXED_KIB;
    assert.ok(grownKiB <= boundKiB,
      `RSS grew ${grownKiB} KiB for ${CLIENTS} clients, bound ${boundKiB} KiB` +
      ` (${(grownKiB / CLIENTS).toFixed(0)} KiB per client)`);
    // Still serving: a well-behaved client gets its answer.
    assert.deepEqual(await exchange(socket, [observation({ hash: 'after-flood' })]), ['ok']);
  } finally {
    for (const s of clients) s.destroy();
    await worker.stop();
  }
});

// An observation line padded with spaces (allowed after the object) to `len` bytes.
function lineOfLength(len, hash) {
  const body = observation({ hash });
  return body + ' '.repeat(len - body.length);
}

test('a line of exactly the cap is accepted with LF or CRLF; one byte more is refused either way', async () => {
  const { db, socket } = paths('cap');
  const worker = await startWorker({ db, socket });
  try {
    const CAP = 65536;
    const s = await connect(socket);
    const replies = new Replies(s);
    const cases = [
      [`${lineOfLength(CAP, 'cap-lf')}\n`, /^ok$/],
      [`${lineOfLength(CAP, 'cap-crlf')}\r\n`, /^ok$/],
      [`${lineOfLength(CAP + 1, 'over-lf')}\n`, /^error line too long/],
      [`${lineOfLength(CAP + 1, 'over-crlf')}\r\n`, /^error line too long/],
      [`${observation({ hash: 'after' })}\r\n`, /^ok$/],
    ];
    for (const [line, want] of cases) {
      s.write(line);
      assert.match(await replies.next(), want, `${line.length} bytes sent`);
    }
    s.end();
    assert.equal(await replies.next(), null);
    assert.deepEqual(sql(db, 'SELECT hash FROM transmissions ORDER BY hash').map((r) => r.hash),
      ['after', 'cap-crlf', 'cap-lf']);
  } finally {
    await worker.stop();
  }
});

test('an observation identical to a stored one is answered `ok duplicate` and stored once', async () => {
  const { db, socket } = paths('dup');
  let worker = await startWorker({ db, socket });
  const T = 1760000000;
  const a = observation({ hash: 'd1', observer: 'o1', timestamp: T });
  const bare = JSON.stringify({ hash: 'd1', raw_hex: '0a0b', timestamp: T });
  try {
    const replies = await exchange(socket, [
      a,
      a, // the same line again, in the same group
      observation({ hash: 'd1', observer: 'o1', timestamp: T, snr: 3 }), // same identity
      observation({ hash: 'd1', observer: 'o2', timestamp: T }),
      observation({ hash: 'd1', observer: 'o1', timestamp: T + 1 }),
      observation({ hash: 'd1', observer: 'o1', timestamp: T, path: ['a3'] }),
      bare, // no observer, no path
      bare,
    ]);
    assert.deepEqual(replies, ['ok', 'ok duplicate', 'ok duplicate', 'ok', 'ok', 'ok', 'ok',
      'ok duplicate']);
  } finally {
    await worker.stop();
  }
  // Known from the database, not from the worker's memory.
  worker = await startWorker({ db, socket });
  try {
    assert.deepEqual(await exchange(socket, [a, bare]), ['ok duplicate', 'ok duplicate']);
    assert.equal(scalar(db, 'SELECT count(*) FROM observations'), 5);
    const [stats] = sql(db, `SELECT lines_accepted, lines_duplicate, lines_acked, lines_rejected
      FROM _ingest_stats`);
    assert.deepEqual(stats, { lines_accepted: 5, lines_duplicate: 5, lines_acked: 10, lines_rejected: 0 });
  } finally {
    await worker.stop();
  }
});

test('a line that fails in the database fails alone; the rest of its group commits', async () => {
  const { db, socket } = paths('alone');
  // The highest transmission id is INT64_MAX: a new hash can get no id.
  execFileSync('sqlite3', [db, `CREATE TABLE transmissions(id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL UNIQUE, raw_hex TEXT NOT NULL, payload_type INTEGER,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL DEFAULT 0);
    INSERT INTO transmissions VALUES (9223372036854775807, 'known', '00', 4, 1760000000, 1760000000);`]);
  const worker = await startWorker({ db, socket, args: ['--ingest-batch-ms', '200'] });
  try {
    const replies = await exchange(socket, [
      observation({ hash: 'fresh', observer: 'x1' }),
      observation({ hash: 'known', observer: 'x2' }),
      observation({ hash: 'known', observer: 'x3' }),
    ]);
    assert.match(replies[0], /^error database: .*full/);
    assert.deepEqual(replies.slice(1), ['ok', 'ok']);
    assert.deepEqual(sql(db, 'SELECT observer FROM observations ORDER BY observer').map((r) => r.observer),
      ['x2', 'x3']);
    const [stats] = sql(db, 'SELECT lines_accepted, lines_rejected, commits FROM _ingest_stats');
    assert.deepEqual(stats, { lines_accepted: 2, lines_rejected: 1, commits: 1 });
  } finally {
    await worker.stop();
  }
});

test('SIGTERM with a client that reads no replies: the lines read are committed, the worker exits', async () => {
  const { db, socket } = paths('stopstall');
  const worker = await startWorker({ db, socket });
  const s = await connect(socket);
  s.on('error', () => {});
  s.pause(); // reads no replies: the worker runs out of room for them and stops taking lines
  let sent = 0;
  const pump = () => {
    while (sent < 200000) {
      const more = s.write(`${observation({ hash: `s${sent % 300}`, observer: `s${sent}` })}\n`);
      sent++;
      if (!more) return;
    }
  };
  s.on('drain', pump);
  pump();
  const count = () => scalar(db, 'SELECT count(*) FROM observations');
  await waitFor(async () => {
    const before = count();
    await new Promise((r) => setTimeout(r, 1000));
    return before > 0 && count() === before && unreadBytes(socket, worker.pid) > 0;
  }, { timeoutMs: 25000, what: 'the worker to stall on the unread replies' });
  const stalledAt = count();
  const stoppedAt = Date.now();
  worker.child.kill('SIGTERM');
  const { code } = await worker.exited;
  s.destroy();
  assert.equal(code, 0);
  assert.ok(Date.now() - stoppedAt < 8000, `stopped in ${Date.now() - stoppedAt} ms`);
  // Complete lines still waiting in the worker's buffer went in during the 2 s
  // drain (the buffer may also have held none: a stall can fall on a line
  // boundary); every line the worker accepted is stored.
  const stored = count();
  assert.ok(stored >= stalledAt, `${stored} stored, ${stalledAt} when it stalled`);
  assert.equal(scalar(db, 'SELECT lines_accepted FROM _ingest_stats'), stored);
  assert.match(worker.log(), /went without reading \d+ replies/);
});
