// control-plane.mjs: the benchmark's control-plane figures, each on its own
// copy of the 1× database with the worker steered over its control socket:
//  - ETA error: the pace changes halfway (`ctl set JOB yield-ms`); once the
//    recent rate has had 10 s to settle, the predicted remaining time (etaSec)
//    is taken at 25/50/75 % of the rest of the run and divided by the time the
//    run then really took. The figure is the ratio farthest from 1.
//  - throttle reaction: batches the job commits after a throttle (its flag
//    file created) or a pause (`ctl pause`) begins, from rowsProcessed and the
//    fixed batch size. The figure is the worse of the two.
import { writeFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../tests/lib/stack.mjs';
import { sqlite } from '../../tests/lib/backfill.mjs';
import { ctl, job, startControlled, MIGRATION } from '../../tests/lib/control.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const SETTLE_MS = 10000;
// About this many batches a run: enough for the ETA to have a rate to go on.
const BATCHES = 200;
const QUIET = ['--throttle-wal-mb', '0', '--throttle-ingest-wait-ms', '0'];

function batchSize(rowsTotal) {
  return Math.max(1, Math.round(rowsTotal / BATCHES));
}

// The rows the backfill will touch: the contract's denominator (docs/database.md),
// counted on the untouched legacy copy, where every transmission is still to
// fill. (A worker paused at once cannot say: the one-pass backfill learns its
// total only after its read pass, which a pause interrupts.)
function rowsTotal(db) {
  return Number(sqlite(db, 'SELECT count(*) FROM transmissions AS t WHERE EXISTS' +
    ' (SELECT 1 FROM observations AS o WHERE o.transmission_id = t.id);'));
}

// One run: fast first half, slow second half; the predicted ÷ actual remaining at 25/50/75 %.
export async function etaError({ db, dir, total, slowYieldMs, say }) {
  const batch = batchSize(total);
  const w = await startControlled({ db, dir, args: ['--batch-size', String(batch), '--yield-ms', '10', ...QUIET] });
  try {
    await waitFor(() => job(w.socket).rowsProcessed >= total / 2, { timeoutMs: 600000, intervalMs: 20, what: 'half the rows' });
    if (ctl(w.socket, 'set', MIGRATION, 'yield-ms', String(slowYieldMs)).status !== 0) throw new Error('ctl set refused');
    await sleep(SETTLE_MS);
    const settled = job(w.socket);
    const rest = settled.rowsTotal - settled.rowsProcessed;
    const samples = [];
    for (const share of [0.25, 0.5, 0.75]) {
      const s = await waitFor(() => {
        const j = job(w.socket);
        if (j.state === 'done') throw new Error(`the run ended before ${share * 100} % of its rest (too few slow batches)`);
        return j.rowsTotal - j.rowsProcessed <= rest * (1 - share) ? j : null;
      }, { timeoutMs: 600000, intervalMs: 20, what: `${share * 100} % of the rest` });
      samples.push({ share, at: Date.now(), eta: s.etaSec });
    }
    await waitFor(() => job(w.socket).state === 'done', { timeoutMs: 600000, intervalMs: 20, what: 'the run to finish' });
    const doneAt = Date.now();
    const ratios = samples.map((s) => s.eta / ((doneAt - s.at) / 1000));
    say(`   ETA ÷ actual at 25/50/75 % of the rest: ${ratios.map((r) => r.toFixed(3)).join(', ')}` +
      ` (batch ${batch}, yield 10 → ${slowYieldMs} ms halfway)`);
    return ratios.reduce((worst, r) => (Math.abs(r - 1) > Math.abs(worst - 1) ? r : worst), 1);
  } finally {
    await w.stop();
  }
}

async function rowsStill(socket, ms) {
  const before = job(socket).rowsProcessed;
  await sleep(ms);
  return job(socket).rowsProcessed === before;
}

// Batches committed after the flag file appears, and after `ctl pause` is sent.
export async function throttleReaction({ db, dir, total, say }) {
  const batch = batchSize(total);
  const flag = path.join(dir, 'bench-hold');
  const w = await startControlled({ db, dir, args: ['--batch-size', String(batch), '--yield-ms', '20',
    '--throttle-flag-file', flag, ...QUIET] });
  try {
    await waitFor(() => job(w.socket).rowsProcessed >= 3 * batch, { timeoutMs: 60000, intervalMs: 10, what: 'a few batches' });
    const f0 = job(w.socket).rowsProcessed;
    writeFileSync(flag, '');
    await waitFor(() => job(w.socket).state === 'throttled', { timeoutMs: 30000, intervalMs: 10, what: 'the flag throttle' });
    if (!(await rowsStill(w.socket, 500))) throw new Error('the job wrote while throttled');
    const flagBatches = Math.ceil((job(w.socket).rowsProcessed - f0) / batch);
    unlinkSync(flag);
    const resumed = job(w.socket).rowsProcessed;
    await waitFor(() => job(w.socket).rowsProcessed >= resumed + 2 * batch, { timeoutMs: 30000, intervalMs: 10, what: 'batches after the throttle' });
    const p0 = job(w.socket).rowsProcessed;
    if (ctl(w.socket, 'pause', MIGRATION, 'bench').status !== 0) throw new Error('ctl pause refused');
    if (!(await rowsStill(w.socket, 500))) throw new Error('the job wrote while paused');
    const pauseBatches = Math.ceil((job(w.socket).rowsProcessed - p0) / batch);
    say(`   batches after the flag file: ${flagBatches}; after ctl pause: ${pauseBatches} (batch ${batch} rows)`);
    return { flagBatches, pauseBatches };
  } finally {
    await w.stop();
  }
}

// Both figures; freshCopy(label) gives a new copy of the 1× database.
export async function measureControlPlane({ freshCopy, dir, quick, say }) {
  const total = rowsTotal(freshCopy('control-count'));
  const eta = await etaError({ db: freshCopy('control-eta'), dir, total, slowYieldMs: quick ? 120 : 300, say });
  const reaction = await throttleReaction({ db: freshCopy('control-throttle'), dir, total, say });
  return { eta, reaction, total };
}
