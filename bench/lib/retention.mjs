// retention.mjs: the benchmark's retention figures, beside the backfill's, on
// two copies of the same migrated 1× database (docs/benchmark.md):
//  - the reference: `benchtool retention-reference` deletes the old
//    observations, then the old transmissions left without any, in one write
//    transaction; its time is its work and its writer hold at once;
//  - meshscope: the worker daemon with --retain-days, its one retention run
//    made to start only once the live-ingest load is flowing (a stored pause,
//    resumed over the control socket), stopped when the `retention` row of
//    _async_migrations reads done. Work time and the longest hold come from
//    the worker's own writer accounting (_writer_stats, source `retention`).
// Both copies must end with the same old rows; the load's new rows stay.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { waitFor, TOP, BINDIR } from '../../tests/lib/stack.mjs';
import { summarize, ratio } from './stats.mjs';

const WORKER = path.join(BINDIR, 'worker', 'meshscope-worker');
const BENCHTOOL = path.join(BINDIR, 'bench', 'benchtool');
const JOB = 'retention';
const DAY = 86400;
// Long enough for a full-scale run under load on a shared machine.
const RUN_TIMEOUT_MS = 15 * 60 * 1000;

function sql(db, text, { write = false } = {}) {
  return execFileSync('sqlite3', [...(write ? [] : ['-readonly']), '-batch', db], { input: text, encoding: 'utf8' }).trim();
}

// N such that now − N days falls mid-way through the data's observation
// times: about half the observations are older than the cutoff.
export function retainDaysFor(minTs, maxTs, nowSec) {
  return Math.max(1, Math.round((nowSec - (minTs + maxTs) / 2) / DAY));
}

// Finishes whatever migration a copy still has pending (retention waits for
// them); on a copy the backfill's run left done, --run-once only checks.
function migrate(db, extraArgs) {
  execFileSync(WORKER, ['--db', db, '--run-once', ...extraArgs], { stdio: 'ignore' });
  const left = Number(sql(db, "SELECT count(*) FROM _async_migrations WHERE status != 'done'"));
  if (left > 0) throw new Error(`${left} migration(s) not done on the retention source`);
  // One file to copy: everything checkpointed into the main database.
  sql(db, 'PRAGMA wal_checkpoint(TRUNCATE);', { write: true });
}

function maxIds(db) {
  const [obs, tx] = sql(db, 'SELECT (SELECT COALESCE(MAX(id), 0) FROM observations), (SELECT COALESCE(MAX(id), 0) FROM transmissions)')
    .split('|').map(Number);
  return { obs, tx };
}

// Old rows (ids up to the maxima before the run) in one copy and not the
// other, both ways, in both tables. Retention deletes rows and never changes
// one, so equal id sets are equal rows.
function rowsDiffering(worker, reference, max) {
  const ref = reference.replace(/'/g, "''");
  return Number(sql(worker, `ATTACH '${ref}' AS ref;
    SELECT (SELECT count(*) FROM main.observations m WHERE m.id <= ${max.obs}
              AND NOT EXISTS (SELECT 1 FROM ref.observations r WHERE r.id = m.id))
         + (SELECT count(*) FROM ref.observations r
              WHERE NOT EXISTS (SELECT 1 FROM main.observations m WHERE m.id = r.id))
         + (SELECT count(*) FROM main.transmissions m WHERE m.id <= ${max.tx}
              AND NOT EXISTS (SELECT 1 FROM ref.transmissions r WHERE r.id = m.id))
         + (SELECT count(*) FROM ref.transmissions r
              WHERE NOT EXISTS (SELECT 1 FROM main.transmissions m WHERE m.id = r.id));`));
}

function counts(db, max) {
  const where = (m) => (m ? ` WHERE id <= ${m}` : '');
  const [obs, tx] = sql(db, `SELECT (SELECT count(*) FROM observations${where(max?.obs)}),` +
    ` (SELECT count(*) FROM transmissions${where(max?.tx)})`).split('|').map(Number);
  return { obs, tx };
}

// A pause stored as `ctl pause` stores it: read before any job runs, so the
// run starts only when the benchmark resumes it.
function storePause(db) {
  sql(db, `INSERT INTO _job_control(name, paused, paused_at, pause_reason, updated_at)
    VALUES ('${JOB}', 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'bench: until the ingest load runs',
            strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    ON CONFLICT(name) DO UPDATE SET paused = 1, paused_at = excluded.paused_at,
      pause_reason = excluded.pause_reason;`, { write: true });
}

function jobRow(db) {
  const line = sql(db, `SELECT status, active_ms, throttled_ms, rows_processed FROM _async_migrations WHERE name = '${JOB}'`);
  if (!line) return null;
  const [status, activeMs, throttledMs, rows] = line.split('|');
  return { status, activeMs: Number(activeMs), throttledMs: Number(throttledMs), rows: Number(rows) };
}

// The worker's per-source figures (cumulative since its start), and when it
// last wrote them (it does about once a second, inside ingest's commits).
function writerStats(db) {
  const rows = sql(db, `SELECT source, transactions, hold_sum_us, hold_max_us, wait_sum_us,
    CAST(strftime('%s', updated_at) AS INTEGER) FROM _writer_stats WHERE source IN ('${JOB}', 'checkpoint')`);
  const by = {};
  for (const line of rows.split('\n').filter(Boolean)) {
    const [source, ...n] = line.split('|');
    const [transactions, holdSumUs, holdMaxUs, waitSumUs, at] = n.map(Number);
    by[source] = { transactions, holdMs: holdSumUs / 1000, holdMaxMs: holdMaxUs / 1000, waitMs: waitSumUs / 1000, at };
  }
  const r = by[JOB];
  if (!r) return null;
  return { transactions: r.transactions, workMs: r.holdMs, holdMaxMs: r.holdMaxMs, waitMs: r.waitMs,
    checkpointMs: by.checkpoint?.holdMs ?? 0, at: r.at };
}

// The figures as of the end of the run: the first write of them a whole
// second after the run was seen done. Checkpoints the worker runs between
// jobs' batches (the WAL throttle's probe) are the run's; later ones, of the
// WAL housekeeping that follows it, are not.
async function statsAtEnd(db, doneAtMs) {
  const after = Math.floor(doneAtMs / 1000) + 1;
  return waitFor(() => { const st = writerStats(db); return st && st.at >= after ? st : null; },
    { timeoutMs: 10000, intervalMs: 100, what: 'the writer figures after the run' }).catch(() => null);
}

function startDaemon(db, dir, args) {
  const control = path.join(dir, 'retention-control.sock');
  const ingest = path.join(dir, 'retention-ingest.sock');
  const child = spawn(WORKER, ['--db', db, '--control-socket', control, '--ingest-socket', ingest, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '', exit = null;
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
  return {
    control, ingest, log: () => log, exited: () => exit,
    async stop() { if (!exit) child.kill('SIGTERM'); return exited; },
  };
}

// The ingest load (bench/lib/ingest-load.mjs) as a child process, until stop().
// Its lines are all new transmissions (no legacy hashes): a new observation
// on an old transmission would keep it from the cutoff's deletion, and the
// copies could no longer be compared with the reference.
function ingestLoad(socket, rate, durationMs) {
  const child = spawn('node', [path.join(TOP, 'bench', 'lib', 'ingest-load.mjs'), '--socket', socket,
    '--rate', String(rate), '--duration-ms', String(durationMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const done = new Promise((resolve) => child.on('close', () => {
    try { resolve(JSON.parse(out)); } catch { resolve({ error: `no result: ${out.slice(0, 200)}` }); }
  }));
  return { stop: () => { if (child.exitCode === null) child.kill('SIGINT'); return done; }, done };
}

const ctl = (socket, ...args) => execFileSync(WORKER, ['ctl', '--socket', socket, ...args], { encoding: 'utf8' });

// The meshscope side: returns its writer figures, the cutoff it used, the
// ingest samples during its run and in an idle window after it.
async function runMeshscope({ db, dir, days, workerArgs, ingestRate, idleCapSec, say }) {
  storePause(db);
  const w = startDaemon(db, dir, ['--retain-days', String(days), ...workerArgs]);
  try {
    await waitFor(() => {
      if (w.exited()) throw new Error(`worker exited: ${w.log().slice(-1500)}`);
      return existsSync(w.ingest) && existsSync(w.control);
    }, { what: 'the retention worker\'s sockets' });
    const load = ingestLoad(w.ingest, ingestRate, RUN_TIMEOUT_MS);
    // The load's first lines acknowledged, then the run may start.
    await waitFor(() => Number(sql(db, 'SELECT COALESCE(MAX(lines_acked), 0) FROM _ingest_stats')) > 0,
      { timeoutMs: 30000, intervalMs: 20, what: 'the first ingest acknowledgements' });
    const t0 = Date.now();
    ctl(w.control, 'resume', JOB);
    await waitFor(() => jobRow(db)?.status === 'done' || (w.exited() && 'exited'),
      { timeoutMs: RUN_TIMEOUT_MS, intervalMs: 50, what: 'the retention run' });
    const doneAt = Date.now(), runSec = (doneAt - t0) / 1000;
    const busy = await load.stop();
    if (w.exited()) throw new Error(`worker exited during retention: ${w.log().slice(-1500)}`);
    const idleSec = Math.max(1, Math.min(idleCapSec, runSec));
    const idleLoad = ingestLoad(w.ingest, ingestRate, Math.round(idleSec * 1000));
    const atEnd = await statsAtEnd(db, doneAt);
    const idle = await idleLoad.done;
    await w.stop();
    const cutoff = Number(w.log().match(/retention: deleted \d+ observations older than (\d+)/)?.[1]);
    if (!Number.isFinite(cutoff)) throw new Error(`no cutoff in the worker's log: ${w.log().slice(-1500)}`);
    say(`   meshscope retention: ${runSec.toFixed(1)} s under load (cutoff ${cutoff}); idle window ${idleSec.toFixed(1)} s`);
    const stats = writerStats(db);
    if (stats) stats.checkpointMs = atEnd?.checkpointMs ?? null;
    return { cutoff, runSec, idleSec, busy, idle, row: jobRow(db), stats };
  } finally {
    await w.stop();
  }
}

function ingestP99(load) {
  return load?.latenciesMs?.length ? summarize(load.latenciesMs).p99 : null;
}

/*
 * Every figure of the retention section. `source` is a copy of the 1×
 * database whose migrations may be done already (the backfill's own run);
 * copy(label) copies it. Returns { figures, notes }.
 */
export async function measureRetention({ source, copy, drop, dir, ingest, workerArgs, ingestRate, idleCapSec, say }) {
  const figures = {}, notes = [];
  if (!ingest) throw new Error('live ingest is not in this build');
  migrate(source, workerArgs);
  const [minTs, maxTs] = sql(source, 'SELECT MIN(timestamp), MAX(timestamp) FROM observations').split('|').map(Number);
  const days = retainDaysFor(minTs, maxTs, Math.floor(Date.now() / 1000));
  const before = counts(source);
  const max = maxIds(source);

  const w = copy('retention-worker');
  const ref = copy('retention-reference');
  try {
    const m = await runMeshscope({ db: w, dir, days, workerArgs, ingestRate, idleCapSec, say });
    const r = JSON.parse(execFileSync(BENCHTOOL, ['retention-reference', '--db', ref, '--cutoff', String(m.cutoff)],
      { encoding: 'utf8' }));
    say(`   reference: ${r.hold_ms.toFixed(0)} ms for ${r.observations} observations and ${r.transmissions} transmissions`);
    if (m.row?.status !== 'done' || !m.stats) throw new Error(`retention ended ${m.row?.status ?? 'without a row'}, writer figures ${m.stats ? 'present' : 'absent'}`);
    say(`   meshscope: work ${m.stats.workMs.toFixed(0)} ms in ${m.stats.transactions} transactions, longest hold ${m.stats.holdMaxMs.toFixed(1)} ms`);

    figures['ret.reference_ms'] = r.hold_ms;
    figures['ret.work_ms'] = m.stats.workMs;
    figures['ret.ratio'] = ratio(m.stats.workMs, r.hold_ms) ?? { na: 'no reference time' };
    const ckpt = m.stats.checkpointMs;
    figures['ret.checkpoint_ms'] = ckpt ?? { na: 'no writer figures written after the run' };
    figures['ret.ratio_ckpt'] = ratio(typeof ckpt === 'number' ? m.stats.workMs + ckpt : null, r.hold_ms) ??
      { na: 'no checkpoint figure' };
    figures['ret.run_ms'] = m.row.activeMs;
    figures['ret.transactions'] = m.stats.transactions;
    figures['ret.hold_max'] = m.stats.holdMaxMs;
    figures['ret.hold_ratio'] = ratio(m.stats.holdMaxMs, r.hold_ms) ?? { na: 'no reference time' };
    figures['ret.deleted_pct'] = (100 * r.observations) / before.obs;
    figures['ret.mismatches'] = rowsDiffering(w, ref, max);
    const busyP99 = ingestP99(m.busy), idleP99 = ingestP99(m.idle);
    const why = (l) => ({ na: l?.error ?? l?.firstError ?? 'no acknowledgements' });
    figures['ret.ingest.busy_p99'] = busyP99 ?? why(m.busy);
    figures['ret.ingest.idle_p99'] = idleP99 ?? why(m.idle);
    figures['ret.ingest.ratio'] = ratio(busyP99, idleP99) ?? { na: 'an ingest window without samples' };

    const after = { worker: counts(w, max), reference: counts(ref) };
    const added = counts(w);
    notes.push(`Retention: --retain-days ${days} on the 1× scattered copy (timestamps ${minTs}..${maxTs}), cutoff ${m.cutoff}: ` +
      `${r.observations} of ${before.obs} observations and ${r.transmissions} of ${before.tx} transmissions deleted by the reference ` +
      `(${r.hold_ms.toFixed(0)} ms in one transaction). Old rows left: meshscope ${after.worker.obs} observations / ` +
      `${after.worker.tx} transmissions, reference ${after.reference.obs} / ${after.reference.tx}; the load added ` +
      `${added.obs - after.worker.obs} observations (ids above the old maximum, left alone). meshscope: ${m.stats.transactions} transactions, ` +
      `waits for the writer ${m.stats.waitMs.toFixed(0)} ms in all, run ${(m.row.activeMs / 1000).toFixed(1)} s active + ` +
      `${(m.row.throttledMs / 1000).toFixed(1)} s throttled, with ingest at ${ingestRate} lines/s ` +
      `(${m.busy?.acked ?? 0} acknowledged during the run, ${(m.busy?.errors ?? 0) + (m.busy?.unanswered ?? 0)} not ok; ` +
      `idle window ${m.idleSec.toFixed(1)} s after it).`);
    return { figures, notes };
  } finally {
    drop(w);
    drop(ref);
  }
}
