// The long crash loop (`make check-long`): kill -9 the worker at 40 seeded
// random moments of a backfill of the operator-scale database (71,000
// transmissions, 1.5 million observations) under live ingest. The same
// harness as the 10-kill run in tests/integration; the environment can
// change its size: MESHSCOPE_CRASHLOOP_SEED, _KILLS, _TRANSMISSIONS,
// _OBSERVATIONS, _BATCH_SIZE (0: adaptive), _TARGET_BATCH_MS, _YIELD_MS.
import { test } from 'node:test';
import { rmSync } from 'node:fs';
import { tempDir } from '../lib/stack.mjs';
import { assertCrashLoopOutcome, crashLoop } from '../lib/crashloop.mjs';

const env = (name, fallback) => Number(process.env[`MESHSCOPE_CRASHLOOP_${name}`] || fallback);

test('kill -9 at 40 random moments of an operator-scale backfill under live ingest', { timeout: 900000 }, async (t) => {
  const dir = tempDir('meshscope-crashloop-long-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const seed = env('SEED', Math.floor(Math.random() * 2 ** 31));
  const kills = env('KILLS', 40);
  t.diagnostic(`seed ${seed} (replay: MESHSCOPE_CRASHLOOP_SEED=${seed})`);
  const f = await crashLoop({
    dir, seed, kills,
    transmissions: env('TRANSMISSIONS', 71000),
    observations: env('OBSERVATIONS', 1500000),
    batchSize: env('BATCH_SIZE', 0),
    targetBatchMs: env('TARGET_BATCH_MS', 2),
    yieldMs: env('YIELD_MS', 400),
    log: (line) => t.diagnostic(line),
  });
  assertCrashLoopOutcome(f, kills);
});
