// crashloop.mjs: kill -9 the worker at seeded random moments during a backfill
// while a client keeps ingesting, restart it each time, and check what the
// worker promises at the end (docs/database.md, docs/ingest.md): last_seen equal to the one-statement
// reference on the final data, every acknowledged line present, an intact
// database and the migration done.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { TOP, waitFor } from './stack.mjs';
import { startWorker, observation, Feeder, scalar } from './ingest.mjs';
import {
  migrationStatus, legacyHash, legacyBaseTimestamp, integrityCheck,
  rowsDifferingFromFinalReference,
} from './backfill.mjs';

// mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed.
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The lowest id the backfill has not filled yet. Batches are ascending id
// ranges and fill every row with observations they cover, so every row below
// it is filled and none above it has been reached by the backfill (rows above
// it that ingest filled itself no longer count as last_seen = 0). -1 when none.
function backfillFrontier(db, transmissions) {
  return scalar(db, `SELECT COALESCE(MIN(id), -1) FROM transmissions t WHERE last_seen = 0
    AND id <= ${transmissions}
    AND EXISTS (SELECT 1 FROM observations o WHERE o.transmission_id = t.id)`);
}

/*
 * Lines of five kinds, each tagged with a unique observer so its row can be
 * found: late observations (older than any stored one) of random legacy rows;
 * newer ones; late and newer ones of rows above the backfill's frontier (not
 * reached yet); and new transmissions, a small pool seen several times with
 * timestamps in random order.
 */
function lineSource({ random, transmissions, seed, state }) {
  let seq = 0;
  const pick = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
  return () => {
    const tag = `cl-${seed}-${seq++}`;
    const r = random();
    const aheadFrom = state.frontier < 0 ? transmissions
      : Math.min(transmissions, state.frontier + Math.floor(0.3 * (transmissions - state.frontier)));
    let kind, id, hash, timestamp;
    if (r < 0.45) {
      kind = r < 0.3 ? 'ahead-late' : 'ahead-newer';
      id = pick(aheadFrom, transmissions);
    } else if (r < 0.8) {
      kind = r < 0.65 ? 'late' : 'newer';
      id = pick(1, transmissions);
    } else {
      kind = 'new';
      hash = `cl-${seed}-new-${pick(0, 499)}`;
      timestamp = 1760000000 + pick(-86400, 86400);
    }
    if (id !== undefined) {
      hash = legacyHash(id);
      timestamp = kind.endsWith('late')
        ? legacyBaseTimestamp(id, transmissions) - 1 - pick(0, 86399)
        : legacyBaseTimestamp(id + 1, transmissions) + 3600 + pick(0, 86399);
    }
    return {
      tag, kind, id, cycle: state.cycle,
      line: observation({ hash, raw_hex: '0a0b', observer: tag, timestamp }),
    };
  };
}

/*
 * Runs the loop and returns its figures; throws when a kill lands after the
 * backfill has finished. Options: seed, kills, transmissions, observations;
 * the worker's batches (a fixed batchSize, or 0 for adaptive batches of
 * targetBatchMs) and yield; the kill delay range after the worker accepts
 * ingest connections; the ingest rate and window; and `log` for progress
 * lines. The caller asserts on the figures.
 */
export async function crashLoop({
  dir, seed, kills = 10, transmissions = 50000, observations = 500000, batchSize = 0,
  targetBatchMs = 5, yieldMs = 15, minDelayMs = 0, maxDelayMs = 1500, window = 32, ingestRate = 1500, log = () => {},
}) {
  const started = Date.now();
  // batchSize 0: the production default, adaptive batches (several statements per transaction).
  const args = [...(batchSize > 0 ? ['--batch-size', String(batchSize)]
    : ['--target-batch-ms', String(targetBatchMs)]), '--yield-ms', String(yieldMs)];
  const db = path.join(dir, 'crashloop.db');
  const socket = path.join(dir, 'ingest.sock');
  execFileSync(path.join(TOP, 'scripts', 'gen-demo-db'), [db, '--transmissions',
    String(transmissions), '--observations', String(observations)], { stdio: 'ignore' });
  const generatedMs = Date.now() - started;
  log(`crash loop: seed ${seed}, ${kills} kills, ${transmissions} transmissions, ` +
    `${observations} observations, worker ${args.join(' ')}, ` +
    `ingest up to ${ingestRate} lines/s`);

  const killRandom = prng(seed);
  const state = { frontier: 1, cycle: 0 };
  const feeder = new Feeder(socket, lineSource({ random: prng(seed ^ 0x5bd1e995), transmissions,
    seed, state }), { window, rate: ingestRate }).start();
  const killLog = [];
  let unreachedAcked = 0;
  let unreachedLateAcked = 0;
  let countedAcks = 0;

  try {
    for (let k = 0; k < kills; k++) {
      state.cycle = k;
      const worker = await startWorker({ db, socket, args });
      const delayMs = minDelayMs + Math.floor(killRandom() * (maxDelayMs - minDelayMs + 1));
      await new Promise((r) => setTimeout(r, delayMs));
      process.kill(worker.pid, 'SIGKILL');
      const { signal } = await worker.exited;
      if (signal !== 'SIGKILL') throw new Error(`kill ${k + 1}: worker ended by ${signal}:\n${worker.log()}`);
      // The database is quiet now: where did the kill land?
      const status = migrationStatus(db)?.status;
      const frontier = backfillFrontier(db, transmissions);
      killLog.push({ kill: k + 1, delayMs, status, frontier, acked: feeder.acked.length });
      log(`kill ${k + 1}/${kills}: ${delayMs} ms after ingest came up; migration ${status}, ` +
        `backfill frontier at id ${frontier}, ${feeder.acked.length} lines acknowledged so far`);
      if (status !== 'pending_async' || frontier < 0) {
        throw new Error(`kill ${k + 1} landed after the backfill finished (status ${status}): ` +
          'use smaller batches or longer yields for this many kills');
      }
      // Lines acknowledged in this life, into rows still above the frontier at
      // its end: the backfill had not reached them when they were committed.
      for (; countedAcks < feeder.acked.length; countedAcks++) {
        const e = feeder.acked[countedAcks];
        if (e.kind.startsWith('ahead') && e.id >= frontier) {
          unreachedAcked++;
          if (e.kind === 'ahead-late') unreachedLateAcked++;
        }
      }
      state.frontier = frontier;
    }

    // The last life: the backfill finishes with ingest still running.
    state.cycle = kills;
    const worker = await startWorker({ db, socket, args });
    await waitFor(() => migrationStatus(db)?.status === 'done',
      { timeoutMs: 180000, intervalMs: 200, what: 'the backfill to finish after the last kill' });
    const ackedAtDone = feeder.acked.length;
    await waitFor(() => feeder.acked.length > ackedAtDone + window,
      { what: 'ingest to go on after the backfill finished' });
    await feeder.stop();
    const exit = await worker.stop('SIGTERM');
    if (exit.code !== 0) throw new Error(`the last worker exited ${JSON.stringify(exit)}:\n${worker.log()}`);
  } finally {
    if (!feeder.stopping) {
      feeder.stopping = true;
      feeder.wake();
    }
  }
  const loopMs = Date.now() - started - generatedMs;

  const checkStarted = Date.now();
  const present = new Map(execFileSync('sqlite3', ['-batch', '-separator', ' ', db,
    "SELECT observer, count(*) FROM observations WHERE observer LIKE 'cl-%' GROUP BY observer"],
  { encoding: 'utf8', maxBuffer: 1 << 30 }).split('\n').filter(Boolean)
    .map((row) => { const [tag, n] = row.split(' '); return [tag, Number(n)]; }));
  const missing = feeder.acked.filter((e) => !present.has(e.tag));
  const duplicated = [...present.values()].filter((n) => n > 1).length;
  const inDoubtPresent = feeder.inDoubt.filter((e) => present.has(e.tag)).length;
  const figures = {
    seed, kills: killLog.length, killLog,
    transmissions, observations,
    sent: feeder.sent, acked: feeder.acked.length, errors: feeder.errors.length,
    unexpectedReplies: feeder.unexpected.length,
    inDoubt: feeder.inDoubt.length, inDoubtPresent, connections: feeder.connections,
    lost: missing.length, missingTags: missing.slice(0, 10).map((e) => e.tag), duplicated,
    ackedByKind: Object.fromEntries(['late', 'newer', 'ahead-late', 'ahead-newer', 'new']
      .map((kind) => [kind, feeder.acked.filter((e) => e.kind === kind).length])),
    unreachedAcked, unreachedLateAcked,
    integrity: integrityCheck(db),
    status: migrationStatus(db)?.status,
    lastSeenOffReference: rowsDifferingFromFinalReference(db, dir),
    generatedMs, loopMs,
  };
  figures.checkMs = Date.now() - checkStarted;
  log(`crash loop figures: ${JSON.stringify({ ...figures, killLog: undefined })}`);
  return figures;
}

// What every crash loop must end with, whatever its size: each kill landed
// mid-backfill, nothing acknowledged was lost or doubled, no error or stray
// reply, an intact database, the migration done with the reference's result,
// and late lines reached rows the backfill had not filled yet.
export function assertCrashLoopOutcome(f, kills) {
  assert.equal(f.kills, kills);
  assert.ok(f.killLog.every((k) => k.status === 'pending_async'), 'every kill landed mid-backfill');
  assert.equal(f.lost, 0, `acknowledged lines lost: ${f.missingTags.join(', ')}`);
  assert.equal(f.errors, 0);
  assert.equal(f.unexpectedReplies, 0);
  assert.equal(f.duplicated, 0);
  assert.equal(f.integrity, 'ok');
  assert.equal(f.status, 'done');
  assert.equal(f.lastSeenOffReference, 0);
  assert.ok(f.unreachedLateAcked > 0, `late lines into rows the backfill had not reached: ${f.unreachedLateAcked}`);
}
