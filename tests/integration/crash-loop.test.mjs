// The crash loop in the test command: kill -9 the worker at 10
// seeded random moments of a backfill of 50,000 transmissions while a client
// ingests without pause (late observations, observations of rows the backfill
// has not reached, new transmissions), restarting it each time. Set
// MESHSCOPE_CRASHLOOP_SEED to replay a run; `make check-long` runs a longer one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tempDir } from '../lib/stack.mjs';
import { assertCrashLoopOutcome, crashLoop } from '../lib/crashloop.mjs';

test('kill -9 at 10 random moments of a backfill under live ingest: nothing acknowledged is lost, last_seen is the reference', async (t) => {
  const dir = tempDir('meshscope-crashloop-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const seed = Number(process.env.MESHSCOPE_CRASHLOOP_SEED || Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`seed ${seed} (replay: MESHSCOPE_CRASHLOOP_SEED=${seed})`);
  const f = await crashLoop({
    // Adaptive batches as in production. A batch holds the writer only to store
    // values it read beforehand, so long yields keep ten lives inside the backfill.
    dir, seed, kills: 10, transmissions: 50000, observations: 500000, targetBatchMs: 5, yieldMs: 250,
    log: (line) => t.diagnostic(line),
  });
  assertCrashLoopOutcome(f, 10);
  // The mix really exercised late lines and new transmissions, not only repeats.
  assert.ok(f.ackedByKind.late > 0 && f.ackedByKind.new > 0, JSON.stringify(f.ackedByKind));
  // Kills cut connections with lines in flight; the restarted worker took new ones.
  assert.ok(f.connections > f.kills, `${f.connections} connections`);
});
