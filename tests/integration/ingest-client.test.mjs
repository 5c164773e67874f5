// meshscope-ingest against a real worker: `send` (the operators' client) and
// `feed` (the demo feeder: waits for the socket, survives worker restarts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { startWorker, observation, scalar, INGEST_TOOL } from '../lib/ingest.mjs';

let dir;
before(() => { dir = tempDir('meshscope-ingest-client-'); });
after(() => { execFileSync('rm', ['-rf', dir]); });

function paths(name) {
  return { db: path.join(dir, `${name}.db`), socket: path.join(dir, `${name}.sock`) };
}

// Starts meshscope-ingest; output is collected as it comes.
function spawnTool(args, { input } = {}) {
  const child = spawn(INGEST_TOOL, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => { out.stdout += d; });
  child.stderr.on('data', (d) => { out.stderr += d; });
  // 'close', not 'exit': only then has every byte of stdout and stderr been read.
  const exited = new Promise((resolve) => child.on('close', (code) => resolve({ code, ...out })));
  // The tool may exit before reading its input (a missing socket): no EPIPE crash.
  child.stdin.on('error', () => {});
  child.stdin.end(input ?? '');
  return { child, out, exited };
}

// Runs meshscope-ingest to completion; resolves with its exit code and output.
function run(args, options) {
  return spawnTool(args, options).exited;
}

test('send: reports each refused line by its line number and exits 1', async () => {
  const { db, socket } = paths('send');
  const worker = await startWorker({ db, socket });
  try {
    const file = path.join(dir, 'mixed.ndjson');
    writeFileSync(file, [
      observation({ hash: 's1' }),
      '',
      '{"hash":"s2","raw_hex":"abc","timestamp":1760000000}',
      observation({ hash: 's3' }),
      '   ',
      'not json',
      observation({ hash: 's4' }), // no final newline
    ].join('\n'));
    const r = await run(['send', '--socket', socket, file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${file}:3: error field "raw_hex": odd number of hex digits`));
    assert.match(r.stderr, new RegExp(`${file}:6: error invalid JSON`));
    assert.match(r.stdout, /^sent 5 lines: 3 ok, 2 errors, 0 unacknowledged; ack latency p50 [\d.]+ ms, p99 [\d.]+ ms\n$/);
    assert.equal(scalar(db, 'SELECT count(*) FROM observations'), 3);
  } finally {
    await worker.stop();
  }
});

test('send: stdin, every line acknowledged, exits 0', async () => {
  const { db, socket } = paths('stdin');
  const worker = await startWorker({ db, socket });
  try {
    const lines = Array.from({ length: 3000 }, (_, i) => observation({ hash: `in${i % 50}`, observer: `o${i}` }));
    const r = await run(['send', '--socket', socket], { input: `${lines.join('\n')}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sent 3000 lines: 3000 ok, 0 errors, 0 unacknowledged/);
    assert.equal(scalar(db, 'SELECT count(*) FROM observations'), 3000);
  } finally {
    await worker.stop();
  }
});

test('send: a line the worker already holds (`ok duplicate`) counts as acknowledged', async () => {
  const { db, socket } = paths('senddup');
  const worker = await startWorker({ db, socket });
  try {
    const line = observation({ hash: 'dup', observer: 'again' });
    const r = await run(['send', '--socket', socket], { input: `${line}\n${line}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^sent 2 lines: 2 ok, 0 errors, 0 unacknowledged/);
    // Resent later (a client retrying lines whose replies it lost): still acknowledged.
    assert.equal((await run(['send', '--socket', socket], { input: `${line}\n` })).code, 0);
    assert.equal(scalar(db, 'SELECT count(*) FROM observations'), 1);
  } finally {
    await worker.stop();
  }
});

test('send: a missing socket is a clear error, exit 1', async () => {
  const r = await run(['send', '--socket', path.join(dir, 'nobody.sock')], { input: `${observation()}\n` });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot connect to .*nobody\.sock: No such file or directory/);
  const usage = await run(['send']);
  assert.equal(usage.code, 2);
});

test('feed --count: streams realistic observations and reports its latency', async () => {
  const { db, socket } = paths('feedcount');
  // The feeder starts first and waits for the socket.
  const feeding = spawnTool(['feed', '--socket', socket, '--rate', '400', '--count', '400',
    '--seed', '7', '--observers', '5', '--report-secs', '0']);
  await waitFor(() => feeding.out.stderr.includes('waiting for the ingest socket'),
    { what: 'the feeder to wait for the socket' });
  const worker = await startWorker({ db, socket });
  try {
    const r = await feeding.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^acked 400 of 400 lines; ack latency p50 [\d.]+ ms, p99 [\d.]+ ms\n$/);
    assert.equal(scalar(db, 'SELECT count(*) FROM observations'), 400);
    assert.equal(scalar(db, 'SELECT count(DISTINCT observer) FROM observations'), 5);
    const tx = scalar(db, 'SELECT count(*) FROM transmissions');
    assert.ok(tx > 80 && tx < 240, `${tx} transmissions for 400 observations: new ones and repeats`);
    assert.equal(scalar(db, `SELECT count(*) FROM transmissions t WHERE last_seen !=
      (SELECT MAX(timestamp) FROM observations WHERE transmission_id = t.id)`), 0);
  } finally {
    await worker.stop();
  }
});

test('feed: reconnects after the worker restarts and stops cleanly on SIGTERM', async () => {
  const { db, socket } = paths('feedrestart');
  let worker = await startWorker({ db, socket });
  const feeder = spawn(INGEST_TOOL, ['feed', '--socket', socket, '--rate', '200', '--report-secs', '1']);
  let log = '';
  feeder.stderr.on('data', (d) => { log += d; });
  const feederExit = new Promise((resolve) => feeder.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    const count = () => scalar(db, 'SELECT count(*) FROM observations');
    await waitFor(() => count() >= 100, { what: 'the feeder to store 100 observations' });
    await worker.stop();
    const atRestart = count();
    worker = await startWorker({ db, socket });
    await waitFor(() => count() >= atRestart + 100, { what: 'the feeder to resume after the restart' });
    assert.match(log, /reconnecting/);
    feeder.kill('SIGTERM');
    const { code } = await feederExit;
    assert.equal(code, 0);
    assert.match(log, /stopped: .* 0 refused/);
  } finally {
    feeder.kill('SIGKILL');
    await worker.stop();
  }
});
