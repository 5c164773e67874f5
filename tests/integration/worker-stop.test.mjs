// SIGTERM in each phase of the worker's writing life (docs/database.md, docs/ingest.md): inside a
// backfill batch, inside the yield between batches, and inside an ingest group
// commit. MESHSCOPE_TEST_PAUSE holds the worker at the named point with the
// write lock taken, and the worker's own log timestamps (same wall clock as
// the test) prove afterwards where the signal landed. Each time: exit 0
// within a bound, the migration left pending_async with a terminal progress
// row equal to the committed rows, and every acknowledged line kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { startWorker, connect, Replies, observation, unreadBytes, sql } from '../lib/ingest.mjs';
import {
  WORKER, legacyWithReference, migrationStatus, sqlite, logLines, integrityCheck,
  rowsDifferingFromFinalReference,
} from '../lib/backfill.mjs';

const TRANSMISSIONS = 10000;
// The debug line the backfill logs after each batch has committed.
const BATCH_LINE = /tx_last_seen_backfill_v1: batch \d+: /;
const FIRST_BATCH_LINE = /tx_last_seen_backfill_v1: batch 1: /;
const PAUSE_MS = 3000;

// Rows of the legacy data the backfill filled. Ingest here only creates new
// transmissions (ids above the backfill's snapshot), so this is the backfill's count.
const backfilled = (db) => Number(sqlite(db,
  `SELECT count(*) FROM transmissions WHERE last_seen != 0 AND id <= ${TRANSMISSIONS}`));

async function setup(t, name, { env, args }) {
  const dir = tempDir(`meshscope-stop-${name}-`);
  const { db } = legacyWithReference(dir, { transmissions: TRANSMISSIONS, observations: 100000 });
  const socket = path.join(dir, 'ingest.sock');
  const worker = await startWorker({ db, socket, env, args: ['--log-level', 'debug', ...args] });
  t.after(async () => {
    await worker.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const s = await connect(socket);
  s.on('error', () => {});
  return { dir, db, socket, worker, s, replies: new Replies(s) };
}

const lines = (prefix, n) => Array.from({ length: n },
  (_, i) => observation({ hash: `${prefix}-${i}`, observer: `${prefix}-${i}`, timestamp: 1760000000 + i }));

// Sends `ls` in one write and resolves once the worker has read them all.
async function sendAndAwaitRead({ s, socket, worker }, ls) {
  await new Promise((resolve) => s.write(ls.map((l) => `${l}\n`).join(''), resolve));
  await waitFor(() => unreadBytes(socket, worker.pid) === 0, { what: 'the worker to read the lines' });
}

// SIGTERM now; resolves with when it was sent and how the worker ended.
async function terminate(worker) {
  const at = Date.now();
  worker.child.kill('SIGTERM');
  const exit = await worker.exited;
  return { at, ms: Date.now() - at, exit };
}

const find = (log, re) => logLines(log).filter((l) => re.test(l.text));

// What every stop must leave: pending_async, its terminal progress row equal
// to what was committed, acknowledged lines present, an intact file, and a
// next start that finishes with the reference result.
function assertStoppedCleanly(ctx, acked) {
  const { db, dir, worker } = ctx;
  const log = worker.log();
  assert.ok(find(log, /tx_last_seen_backfill_v1: cancelled: \d+\/\d+ rows/).length === 1, log);
  const row = migrationStatus(db);
  assert.equal(row.status, 'pending_async');
  assert.equal(row.endedAt, undefined);
  const filled = backfilled(db);
  assert.ok(filled > 0, 'the committed batches stay');
  assert.equal(row.rowsProcessed, filled, 'the terminal progress write carries the committed rows');
  assert.ok(Date.now() - Date.parse(row.lastUpdateAt) < 60000, row.lastUpdateAt);
  const tags = acked.map((tag) => `'${tag}'`).join(',');
  const present = new Set(sql(db, `SELECT observer FROM observations WHERE observer IN (${tags})`)
    .map((r) => r.observer));
  const lost = acked.filter((tag) => !present.has(tag));
  assert.deepEqual(lost, [], `${lost.length} acknowledged lines lost`);
  assert.equal(integrityCheck(db), 'ok');

  const res = spawnSync(WORKER, ['--db', db, '--run-once', '--yield-ms', '0'], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(migrationStatus(db).status, 'done');
  assert.equal(rowsDifferingFromFinalReference(db, dir), 0);
}

test('SIGTERM inside a backfill batch: the batch commits, then the worker exits', async (t) => {
  const ctx = await setup(t, 'batch', {
    env: { MESHSCOPE_TEST_PAUSE: `backfill-batch=${PAUSE_MS}` },
    args: ['--batch-size', '500', '--yield-ms', '0'],
  });
  const { worker, replies } = ctx;
  // The first batch is held with the write lock taken.
  await waitFor(() => find(worker.log(), /pausing \d+ ms at backfill-batch/).length >= 1,
    { what: 'the worker to pause inside a batch' });
  // Ingest lines read meanwhile wait for the writer; they are answered before the exit.
  const sent = lines('batch', 20);
  await sendAndAwaitRead(ctx, sent);
  const stop = await terminate(worker);
  assert.equal(stop.exit.code, 0, worker.log());
  // The held batch's remaining pause, then the cancel: not another batch, not ingest's busy timeout.
  assert.ok(stop.ms < PAUSE_MS + 3000, `exited ${stop.ms} ms after SIGTERM:\n${worker.log()}`);

  const log = worker.log();
  const pauses = find(log, /pausing \d+ ms at backfill-batch/);
  const batches = find(log, BATCH_LINE);
  // Where the signal landed: the last batch started before it and committed after it.
  assert.equal(batches.length, pauses.length, 'the held batch committed; none started after SIGTERM');
  assert.ok(pauses.at(-1).at <= stop.at && batches.at(-1).at >= stop.at,
    `batch held ${pauses.at(-1).at}..${batches.at(-1).at}, SIGTERM at ${stop.at}`);
  const answers = await replies.all();
  assert.deepEqual(answers, Array(sent.length).fill('ok'));
  assertStoppedCleanly(ctx, sent.map((_, i) => `batch-${i}`));
});

test('SIGTERM inside the yield between batches: the yield is cut short', async (t) => {
  const yieldMs = 60000;
  const ctx = await setup(t, 'yield', { args: ['--batch-size', '500', '--yield-ms', String(yieldMs)] });
  const { worker, replies, s } = ctx;
  // The first batch has committed and logged: the worker now sleeps for a minute.
  await waitFor(() => find(worker.log(), FIRST_BATCH_LINE).length === 1,
    { what: 'the first batch to commit' });
  // Ingest goes on during the yield; these are acknowledged before the stop.
  const sent = lines('yield', 10);
  s.write(sent.map((l) => `${l}\n`).join(''));
  for (let i = 0; i < sent.length; i++) assert.equal(await replies.next(), 'ok');
  const stop = await terminate(worker);
  assert.equal(stop.exit.code, 0, worker.log());
  assert.ok(stop.ms < 3000, `exited ${stop.ms} ms after SIGTERM, in a ${yieldMs} ms yield`);
  const batches = find(worker.log(), BATCH_LINE);
  assert.equal(batches.length, 1, 'no batch ran after the yield began');
  assert.ok(batches[0].at < stop.at);
  assert.equal(await replies.next(), null);
  assertStoppedCleanly(ctx, sent.map((_, i) => `yield-${i}`));
});

test('SIGTERM inside an ingest group commit: it commits and answers, later lines get no false ok', async (t) => {
  const ctx = await setup(t, 'commit', {
    env: { MESHSCOPE_TEST_PAUSE: `ingest-commit=${PAUSE_MS}` },
    // The backfill sits in a long yield after its first batch, so the stop also cuts that short.
    args: ['--batch-size', '500', '--yield-ms', '60000'],
  });
  const { worker, replies, s } = ctx;
  await waitFor(() => find(worker.log(), FIRST_BATCH_LINE).length === 1,
    { what: 'the first batch to commit' });
  const first = lines('commit-a', 20);
  s.write(first.map((l) => `${l}\n`).join(''));
  await waitFor(() => find(worker.log(), /pausing \d+ ms at ingest-commit/).length === 1,
    { what: 'the worker to pause inside a group commit' });
  // Sent while the commit is held: the worker may stop before reading these.
  const second = lines('commit-b', 10);
  s.write(second.map((l) => `${l}\n`).join(''));
  const stop = await terminate(worker);
  assert.equal(stop.exit.code, 0, worker.log());
  // The held commit, then at most one more: the lines that arrived during it
  // and were read in the same wake-up as the signal (each commit is held too).
  assert.ok(stop.ms < 2 * PAUSE_MS + 3000, `exited ${stop.ms} ms after SIGTERM`);

  const log = worker.log();
  const pauses = find(log, /pausing \d+ ms at ingest-commit/);
  assert.ok(pauses.length <= 2, log);
  const pause = pauses[0];
  const stopping = find(log, /ingest: stopping/)[0];
  // The commit was held when the signal came, and the stop began only after it.
  assert.ok(pause.at <= stop.at && stopping.at >= pause.at + PAUSE_MS - 50,
    `commit held from ${pause.at}, SIGTERM at ${stop.at}, stop began ${stopping.at}`);
  const answers = await replies.all();
  // The held commit's lines are all ok; a later line is ok (read, committed) or unanswered, never an error.
  assert.deepEqual(answers.slice(0, first.length), Array(first.length).fill('ok'));
  assert.ok(answers.length <= first.length + second.length);
  assert.ok(answers.every((a) => a === 'ok'), JSON.stringify(answers));
  const acked = [...first, ...second].slice(0, answers.length).map((l) => JSON.parse(l).observer);
  assertStoppedCleanly(ctx, acked);
});
