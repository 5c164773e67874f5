// main.mjs: the benchmark run behind bench/run. Measures, in one run, every
// figure docs/benchmark.md sets a target on (v2), next to the baseline it is a
// ratio of, on both data shapes of scripts/gen-demo-db, and writes the table
// (see report.mjs). Progress goes to stderr, the table to stdout.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startStack, tempDir, waitFor, TOP, BINDIR } from '../../tests/lib/stack.mjs';
import {
  percentile, parseHeyCsv, parseProcStatus, parseWorkerStats, parseWrk, ratio, summarize,
} from './stats.mjs';
import {
  ROWS, brokenFigures, buildRows, missingFigures, renderResults, renderTable, summaryLine, updateReadme,
} from './report.mjs';
import { measureControlPlane } from './control-plane.mjs';
import { measureRetention } from './retention.mjs';

const SHAPES = ['scattered', 'clustered'];

const MIGRATION = 'tx_last_seen_backfill_v1';
const OPERATOR_SCALE = { transmissions: 71000, observations: 1500000 };

// Everything that differs between the full run and the smoke test.
const MODES = {
  full: {
    base: 1, scales: [1, 10], repeats: 2,
    // Two to five stacks (fresh backfills) until 20 s of load ran during one:
    // p99s from ~4000 reader samples per side rather than one lucky window,
    // and at least two pairs of windows, so a verdict can be seen to hold.
    windowSec: 20, minBusyRuns: 2, maxBusyRuns: 5,
    wrk: { threads: 2, connections: 32, durationSec: 5, rounds: 2 },
    healthz: { concurrency: 4, perWorkerQps: 50 }, // 200 req/s offered
    packets: { concurrency: 2, perWorkerQps: 50 }, // 100 req/s offered
    ingestRate: 200, probeIntervalMs: 10,
    busyWorkerArgs: [],
    // Yield 0, as the backfill's efficiency figure, and no ingest-wait
    // throttle: at the defaults the run's own holds kept ingest's wait over
    // the throttle's 20 ms and a 1× run took over 20 minutes (docs/benchmark.md).
    retention: { workerArgs: ['--yield-ms', '0', '--throttle-ingest-wait-ms', '0'], idleCapSec: 10 },
  },
  quick: {
    base: 0.01, scales: [1, 10], repeats: 1,
    // Longer than the stretched backfill, so the window ends with it as in a
    // full run (every tool interrupted and reporting).
    windowSec: 10, minBusyRuns: 1, maxBusyRuns: 1,
    wrk: { threads: 1, connections: 4, durationSec: 1, rounds: 1 },
    healthz: { concurrency: 2, perWorkerQps: 25 },
    packets: { concurrency: 1, perWorkerQps: 20 },
    ingestRate: 50, probeIntervalMs: 10,
    // A few hundred rows finish in milliseconds at the defaults; small batches
    // and yields keep the backfill running through the (short) window.
    busyWorkerArgs: ['--batch-size', '10', '--yield-ms', '60'],
    // One 250-id window a transaction and a yield after each stretch the
    // few thousand deletions over a few seconds of ingest load.
    retention: { workerArgs: ['--target-batch-ms', '1', '--yield-ms', '60', '--throttle-ingest-wait-ms', '0'], idleCapSec: 3 },
  },
};

const { values: opts } = parseArgs({ options: {
  quick: { type: 'boolean', default: false },
  check: { type: 'boolean', default: false },
  out: { type: 'string' },
  'no-readme': { type: 'boolean', default: false },
  keep: { type: 'boolean', default: false },
  'worker-args': { type: 'string', default: '' },
  'no-scaling': { type: 'boolean', default: false },
} });
const modeName = opts.quick ? 'quick' : 'full';
const mode = MODES[modeName];
const outFile = opts.out ?? (opts.quick ? path.join(TOP, 'var', 'bench', 'quick.md')
  : path.join(TOP, 'bench', 'results', 'latest.md'));
const writeReadme = !opts.quick && !opts['no-readme'];
const WORKER = path.join(BINDIR, 'worker', 'meshscope-worker');
const BENCHTOOL = path.join(BINDIR, 'bench', 'benchtool');
const cacheDir = path.join(TOP, 'var', 'bench');

const startedAt = Date.now();
const figures = {};
const notes = [];
const na = (why) => ({ na: why });
// Extra worker options for tuning experiments (e.g. --target-batch-ms 10),
// given to every worker the run starts: --run-once and the stack's daemon.
const extraWorkerArgs = opts['worker-args'].split(/\s+/).filter(Boolean);
// A figure whose feature this build lacks says so with this prefix, so a
// table from an older or partial build explains its gaps.
const ABSENT = 'not in this build: ';

// a ÷ b as a figure, or the reason one side is missing.
function ratioFig(a, b) {
  return ratio(a, b) ?? na((typeof a === 'number' ? b : a)?.na ?? 'not measured');
}

function say(msg) {
  const t = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`bench [${t}s] ${msg}\n`);
}

// Runs a command to its end. `track` (an array) receives the child process,
// for callers that may need to interrupt it.
function run(cmd, args, { stdoutFile, stderrFile, timeoutMs, track } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track?.push(child);
    let stdout = '', stderr = '', timer = null;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    if (timeoutMs) timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (stdoutFile) writeFileSync(stdoutFile, stdout);
      if (stderrFile) writeFileSync(stderrFile, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function sqlite(db, sql) {
  return execFileSync('sqlite3', ['-readonly', '-batch', db, sql], { encoding: 'utf8' }).trim();
}

function mib(kb) {
  return typeof kb === 'number' ? kb / 1024 : na('not measured');
}

// ---------------------------------------------------------------- machine

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const sqliteVersion = execFileSync('sqlite3', ['--version'], { encoding: 'utf8' }).split(' ')[0];
  let nginx = '';
  try {
    nginx = execFileSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    nginx = String(err.stderr ?? '');
  }
  nginx = (nginx || execFileSync('sh', ['-c', '/usr/sbin/nginx -v 2>&1'], { encoding: 'utf8' }))
    .trim().replace(/^nginx version: /, '');
  return {
    nproc: String(os.cpus().length),
    CPU: cpu,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    sqlite: sqliteVersion,
    nginx,
    node: process.version,
  };
}

function loadavg() {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

// ---------------------------------------------------------------- databases

// Generates (once) the legacy database for a scale factor, cached under
// var/bench/ by its size and by the generator's own text, so a change to
// scripts/gen-demo-db regenerates it.
async function legacyDb(scale, shape) {
  const tx = Math.max(1, Math.round(OPERATOR_SCALE.transmissions * mode.base * scale));
  const obs = Math.max(1, Math.round(OPERATOR_SCALE.observations * mode.base * scale));
  const gen = path.join(TOP, 'scripts', 'gen-demo-db');
  const key = createHash('sha256').update(readFileSync(gen)).digest('hex').slice(0, 12);
  const file = path.join(cacheDir, `legacy-${shape}-t${tx}-o${obs}-${key}.db`);
  if (!existsSync(file)) {
    mkdirSync(cacheDir, { recursive: true });
    say(`generating ${path.relative(TOP, file)} (${tx} transmissions, ${obs} observations, ${shape})`);
    rmSync(`${file}.partial`, { force: true });
    const r = await run(gen, [file, '--transmissions', String(tx), '--observations', String(obs),
      '--shape', shape]);
    if (r.code !== 0) throw new Error(`gen-demo-db failed: ${r.stderr}`);
  }
  return { file, tx, obs, scale, shape };
}

let copies = 0;
function freshCopy(src, workDir, label) {
  const dst = path.join(workDir, `${String(++copies).padStart(2, '0')}-${label}.db`);
  copyFileSync(src.file, dst);
  return dst;
}

function dropCopy(db) {
  if (opts.keep) return;
  for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
}

function migrationRow(db) {
  try {
    const line = sqlite(db, `SELECT status, COALESCE(ended_at, '') FROM _async_migrations WHERE name = '${MIGRATION}'`);
    if (!line) return null;
    const [status, endedAt] = line.split('|');
    return { status, endedAt: endedAt || null };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- features

let workerHelp = '';
function workerSupports(flag) {
  if (!workerHelp) workerHelp = execFileSync(WORKER, ['--help'], { encoding: 'utf8' });
  return workerHelp.includes(flag);
}

// Live ingest is there when a worker started with --ingest-socket creates the
// socket (a build without it refuses the flag and exits).
async function probeIngest(workDir) {
  const db = path.join(workDir, 'probe.db');
  const sock = path.join(workDir, 'probe.sock');
  const child = spawn(WORKER, ['--db', db, '--ingest-socket', sock], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '', exited = false;
  child.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => child.on('close', () => { exited = true; resolve(); }));
  let ok = false;
  try {
    ok = await waitFor(() => existsSync(sock) || (exited ? 'exited' : false),
      { timeoutMs: 10000, what: 'the ingest socket' }) === true;
  } catch { /* neither socket nor exit within the timeout */ }
  if (!ok) say(`live ingest not available: ${stderr.trim().split('\n').pop() || 'no socket'}`);
  if (!exited) child.kill('SIGTERM');
  await done;
  for (const f of [db, `${db}-wal`, `${db}-shm`, sock]) rmSync(f, { force: true });
  return Boolean(ok);
}

// ---------------------------------------------------------------- backfill

async function runWorkerOnce(db, workDir, label, extraArgs) {
  const rusage = path.join(workDir, `${label}.rusage.json`);
  const statsFile = path.join(workDir, `${label}.stats.json`);
  const args = ['--db', db, '--run-once', ...extraWorkerArgs, ...extraArgs];
  const withStats = workerSupports('--stats-json');
  if (withStats) args.push('--stats-json', statsFile);
  const r = await run(BENCHTOOL, ['exec', '--out', rusage, '--', WORKER, ...args],
    { stderrFile: path.join(workDir, `${label}.log`) });
  if (r.code !== 0) throw new Error(`benchtool exec failed: ${r.stderr}`);
  const usage = JSON.parse(readFileSync(rusage, 'utf8'));
  if (usage.exit !== 0) throw new Error(`worker --run-once exited ${usage.exit}:\n${r.stderr.slice(-2000)}`);
  const row = migrationRow(db);
  let stats = null, why = null;
  if (!row) why = `${ABSENT}the backfill (the worker ran none)`;
  else if (row.status !== 'done') why = `the backfill ended ${row.status}`;
  else if (!withStats) why = `${ABSENT}worker --stats-json`;
  else if (!(stats = parseWorkerStats(readFileSync(statsFile, 'utf8'), MIGRATION))) why = 'no backfill in --stats-json';
  return { wallMs: usage.wall_ms, maxrssKb: usage.maxrss_kb, stats, why, row };
}

const pick = (s, field, why) => (s && typeof s[field] === 'number' ? s[field] : na(why));

// A ratio measured over repeats: the pooled value (fastest of each side, as
// noise on a shared machine only adds), each repeat's own ratio, and each
// side's repeats, so report.mjs can call a verdict unstable.
function repeated(value, repeats, sides) {
  return typeof value === 'number' && Number.isFinite(value) ? { value, repeats, sides } : value;
}

async function measureBackfill(db1, workDir) {
  const shape = db1.shape, k = `backfill.${shape}`;
  say(`1. backfill efficiency at 1×, ${shape} (${db1.tx} transmissions, ${db1.obs} observations)`);
  const refs = [], y0 = [];
  let refCopy = null;
  for (let i = 0; i < mode.repeats; i++) {
    const ref = freshCopy(db1, workDir, `reference-${shape}`);
    const r = await run(BENCHTOOL, ['reference', '--db', ref]);
    if (r.code !== 0) throw new Error(`reference failed: ${r.stderr}`);
    const res = JSON.parse(r.stdout);
    refs.push(res.update_ms);
    say(`   reference UPDATE: ${res.update_ms.toFixed(0)} ms, ${res.rows} rows (upgrade ${res.upgrade_ms.toFixed(0)} ms, not counted)`);
    if (refCopy) dropCopy(refCopy);
    refCopy = ref;

    const w = freshCopy(db1, workDir, `worker-yield0-${shape}`);
    const out = await runWorkerOnce(w, workDir, `worker-yield0-${shape}-${i}`, ['--yield-ms', '0']);
    y0.push(out);
    say(`   worker yield 0: wall ${out.wallMs.toFixed(0)} ms (process), work ${out.stats?.workMs?.toFixed(0) ?? 'n/a'} ms, ` +
      `${out.stats?.batches ?? 'n/a'} batches, peak RSS ${(out.maxrssKb / 1024).toFixed(1)} MiB${out.why ? ` [${out.why}]` : ''}`);
    dropCopy(w);
  }
  const wDef = freshCopy(db1, workDir, `worker-defaults-${shape}`);
  const def = await runWorkerOnce(wDef, workDir, `worker-defaults-${shape}`, []);
  say(`   worker defaults: wall ${def.wallMs.toFixed(0)} ms (process), work ${def.stats?.workMs?.toFixed(0) ?? 'n/a'} ms, ` +
    `${def.stats?.batches ?? 'n/a'} batches${def.why ? ` [${def.why}]` : ''}`);

  if (shape === 'scattered') {
    // The seed's claim: its fixed 5000-row batches held the writer ~150 ms here.
    const wSeed = freshCopy(db1, workDir, 'worker-fixed5000');
    const seed = await runWorkerOnce(wSeed, workDir, 'worker-fixed5000', ['--yield-ms', '0', '--batch-size', '5000']);
    dropCopy(wSeed);
    say(`   worker --batch-size 5000 (the seed's fixed batch): longest hold ${seed.stats?.hold?.max?.toFixed(1) ?? 'n/a'} ms`);
    figures['backfill.fixed5000.hold_max'] = pick(seed.stats?.hold, 'max', seed.why ?? 'no per-batch holds');
  }

  const refMs = Math.min(...refs);
  const best = y0.filter((x) => x.stats).sort((a, b) => a.stats.workMs - b.stats.workMs)[0] ?? y0[0];
  const works = y0.map((x) => x.stats?.workMs).filter(Number.isFinite);
  figures[`${k}.reference_ms`] = repeated(refMs, null, null);
  figures[`${k}.y0.work_ms`] = pick(best.stats, 'workMs', best.why);
  figures[`${k}.y0.hold_max`] = pick(best.stats?.hold, 'max', best.why ?? 'no per-batch holds');
  const perRepeat = y0.map((x, i) => ratio(x.stats?.workMs, refs[i])).filter(Number.isFinite);
  figures[`${k}.y0.ratio`] = repeated(ratio(figures[`${k}.y0.work_ms`], refMs) ?? ratioFig(figures[`${k}.y0.work_ms`], refMs),
    perRepeat, { reference: refs, worker: works });
  figures[`${k}.def.work_ms`] = pick(def.stats, 'workMs', def.why);
  figures[`${k}.def.wall_ms`] = pick(def.stats, 'wallMs', def.why);
  figures[`${k}.def.batches`] = pick(def.stats, 'batches', def.why);
  for (const p of ['p50', 'p99', 'max']) {
    figures[`${k}.def.hold_${p}`] = pick(def.stats?.hold, p, def.why ?? 'no per-batch holds');
  }
  figures[`${k}.def.ratio`] = repeated(ratio(figures[`${k}.def.work_ms`], refMs) ?? ratioFig(figures[`${k}.def.work_ms`], refMs),
    null, { reference: refs });
  for (const [label, one] of [['defaults', def], ['yield 0', best]]) {
    const holds = one.stats?.holds ?? [];
    const over = holds.filter((h) => h > 25);
    if (over.length) {
      notes.push(`Writer holds over 25 ms, ${label}, ${shape}: ${over.length} of ${holds.length} batches ` +
        `(${over.map((h) => h.toFixed(1)).join(', ')} ms); p99.9 ${percentile(holds, 99.9).toFixed(1)} ms.`);
    }
  }
  if (refs.length > 1) notes.push(`Reference UPDATE runs, ${shape}: ${refs.map((x) => x.toFixed(0)).join(', ')} ms; worker yield-0 work: ${y0.map((x) => x.stats?.workMs?.toFixed(0) ?? 'n/a').join(', ')} ms (the fastest of each is used).`);

  // The result must equal the one-statement reference, row for row.
  if (def.row?.status === 'done') {
    const diff = sqlite(refCopy, `ATTACH '${wDef}' AS w; SELECT count(*) FROM transmissions t` +
      ' LEFT JOIN w.transmissions u ON u.id = t.id WHERE u.id IS NULL OR t.last_seen IS NOT u.last_seen');
    figures[`${k}.mismatches`] = Number(diff);
  } else {
    figures[`${k}.mismatches`] = na(def.why);
  }
  dropCopy(refCopy);
  // The scattered copy, its migrations done, is where retention runs next.
  const migrated = shape === 'scattered' && def.row?.status === 'done' ? wDef : null;
  if (!migrated) dropCopy(wDef);
  const rss = Math.max(...[...y0, def].map((x) => x.maxrssKb).filter(Number.isFinite));
  return { refMs, hasBackfill: Boolean(def.row), defaultsWallMs: def.stats?.wallMs ?? null, y0Best: best, rssKb: rss,
    migrated };
}

// ---------------------------------------------------------------- stack phases

async function heyRun(url, { concurrency, perWorkerQps }, seconds, track, stdoutFile) {
  const r = await run('hey', ['-z', `${seconds}s`, '-c', String(concurrency), '-q', String(perWorkerQps),
    '-o', 'csv', url], { track, stdoutFile });
  if (r.code !== 0) throw new Error(`hey failed: ${r.stderr}`);
  return parseHeyCsv(r.stdout);
}

async function wrkRun(url) {
  const { threads, connections, durationSec } = mode.wrk;
  const r = await run('wrk', ['-t', String(threads), '-c', String(connections), '-d', `${durationSec}s`,
    '--latency', url]);
  if (r.code !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  return parseWrk(r.stdout);
}

async function endpointOk(url) {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status === 200 ? true : `HTTP ${res.status}`;
  } catch (err) {
    return err.message;
  }
}

// The fixed-rate load of one window, run concurrently: the two readers through
// nginx, the ingest client on the worker's socket, and the writer-lock probe.
// It lasts `seconds`, or until `stopWhen()` turns true (polled every POLL_SEC),
// when every tool is interrupted and reports what it measured so far.
const POLL_SEC = 0.2;
// Raw outputs go to files named `label`-TOOL in the work directory (--keep).
async function loadWindow(stack, seconds, { ingestSocket, packetsOk, legacyTx, stopWhen, label }) {
  const raw = (tool) => path.join(workDirToRemove, `${label}-${tool}`);
  const track = [];
  const ms = String(Math.round(seconds * 1000));
  const start = Date.now();
  const jobs = {
    healthz: heyRun(`${stack.url}/api/healthz`, mode.healthz, seconds, track, raw('healthz.csv')),
    packets: packetsOk === true
      ? heyRun(`${stack.url}/api/packets?limit=50`, mode.packets, seconds, track, raw('packets.csv')) : null,
    ingest: ingestSocket ? run('node', [path.join(TOP, 'bench', 'lib', 'ingest-load.mjs'),
      '--socket', ingestSocket, '--rate', String(mode.ingestRate), '--duration-ms', ms,
      '--legacy-transmissions', String(legacyTx)], { track, stdoutFile: raw('ingest.json') })
      .then((r) => JSON.parse(r.stdout)) : null,
    probe: run(BENCHTOOL, ['writer-probe', '--db', stack.db, '--interval-ms', String(mode.probeIntervalMs),
      '--duration-ms', ms], { track, stdoutFile: raw('probe.json') }).then((r) => {
      if (r.code !== 0) throw new Error(`writer probe failed: ${r.stderr}`);
      return JSON.parse(r.stdout);
    }),
  };
  let end = null;
  if (stopWhen) {
    while (Date.now() - start < seconds * 1000 - 300) {
      await new Promise((r) => setTimeout(r, POLL_SEC * 1000));
      if (stopWhen()) {
        end = Date.now();
        for (const child of track) if (child.exitCode === null) child.kill('SIGINT');
        break;
      }
    }
  }
  const out = {};
  for (const [k, p] of Object.entries(jobs)) out[k] = p ? await p : null;
  out.seconds = end ? (end - start) / 1000 : seconds;
  return out;
}

function readRss(stack) {
  const rss = {};
  for (const [name, pid] of Object.entries(stack.pids())) {
    try {
      rss[name] = parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8')).vmHwmKb;
    } catch { /* exited meanwhile */ }
  }
  return rss;
}

async function healthz(stack) {
  const res = await fetch(`${stack.url}/api/healthz`);
  return res.status === 200 ? res.json() : null;
}

function stackArgs(ingestSocket, extra = []) {
  return [...(ingestSocket ? ['--ingest-socket', ingestSocket] : []), ...extra].join(' ');
}

// A static copy of an endpoint's body, so nginx serves the same bytes itself.
async function staticTwin(stack, endpoint, name) {
  const body = Buffer.from(await (await fetch(`${stack.url}${endpoint}`)).arrayBuffer());
  const file = path.join(stack.dir, 'www', name);
  writeFileSync(file, body);
  chmodSync(file, 0o644);
  const staticBody = Buffer.from(await (await fetch(`${stack.url}/${name}`)).arrayBuffer());
  if (!staticBody.equals(body)) throw new Error(`static copy of the ${endpoint} body does not match`);
  return body.length;
}

// wrk against nginx's static ceiling and against an endpoint, alternating:
// the two differ only in who produces the bytes. Each round's ratio is kept.
async function throughputPair(stack, endpoint, name, key) {
  const bytes = await staticTwin(stack, endpoint, name);
  let staticBest = null, best = null;
  const ratios = [], statics = [], apis = [];
  for (let i = 0; i < mode.wrk.rounds; i++) {
    const s = await wrkRun(`${stack.url}/${name}`);
    const h = await wrkRun(`${stack.url}${endpoint}`);
    say(`   wrk round ${i + 1}: static ${s.reqPerSec?.toFixed(0)} req/s, ${endpoint} ${h.reqPerSec?.toFixed(0)} req/s` +
      ` (${bytes} bytes; errors ${s.non2xx + s.socketErrors}/${h.non2xx + h.socketErrors})`);
    if (h.non2xx + h.socketErrors > 0) notes.push(`wrk ${endpoint} round ${i + 1}: ${h.non2xx} non-2xx, ${h.socketErrors} socket errors.`);
    statics.push(s.reqPerSec);
    apis.push(h.reqPerSec);
    const r = ratio(h.reqPerSec, s.reqPerSec);
    if (r !== null) ratios.push(r);
    if (!staticBest || s.reqPerSec > staticBest.reqPerSec) staticBest = s;
    if (!best || h.reqPerSec > best.reqPerSec) best = h;
  }
  figures[key.static] = staticBest.reqPerSec ?? na('wrk printed no rate');
  figures[key.api] = best.reqPerSec ?? na('wrk printed no rate');
  figures[key.ratio] = repeated(ratio(figures[key.api], figures[key.static]) ?? ratioFig(figures[key.api],
    figures[key.static]), ratios, { static: statics, api: apis });
  return bytes;
}

async function measureThroughput(stack) {
  const h = await throughputPair(stack, '/api/healthz', 'bench-static.json',
    { static: 'tput.static_rps', api: 'tput.healthz_rps', ratio: 'tput.ratio' });
  const st = await throughputPair(stack, '/api/stats', 'bench-static-stats.json',
    { static: 'tput.stats_static_rps', api: 'tput.stats_rps', ratio: 'tput.stats_ratio' });
  notes.push(`Throughput: wrk -t${mode.wrk.threads} -c${mode.wrk.connections} -d${mode.wrk.durationSec}s, ` +
    `best of ${mode.wrk.rounds} alternating rounds each; bodies ${h} bytes (healthz), ${st} bytes (stats); ` +
    'pool of 4 responders; with whatever nginx configuration this tree has (a healthz microcache if it has one).');
}

// One stack on a fresh legacy copy. The worker starts the backfill at its
// defaults; a load window runs while it does, then, once it is done, an idle
// window of the same length on the same stack, so the two differ only in the
// backfill (not in processes, caches, or minutes of other people's load).
async function pairPhase(db1, workDir, ingest, hasBackfill, defaultsWallMs, runIndex, wantSec) {
  const db = freshCopy(db1, workDir, `stack-${runIndex}`);
  const dir = tempDir('meshscope-bench-stack-');
  const ingestSocket = ingest ? path.join(dir, 'ingest.sock') : null;
  const t0 = Date.now();
  const stack = await startStack({ db, numprocs: 4, dir, workerArgs: stackArgs(ingestSocket, [...mode.busyWorkerArgs, ...extraWorkerArgs]) });
  activeStacks.add(stack);
  try {
    if (ingestSocket) await waitFor(() => existsSync(ingestSocket), { what: 'the ingest socket' });
    const running = hasBackfill && await waitFor(async () => {
      const h = await healthz(stack);
      return h?.async_migrations_running === true && h.async_migrations?.some((m) => m.name === MIGRATION);
    }, { timeoutMs: 15000, what: `${MIGRATION} running` }).catch(() => false);
    const elapsed = Date.now() - t0;
    const packetsOk = await endpointOk(`${stack.url}/api/packets?limit=50`);
    const legacyTx = db1.tx;
    say(`   stack ${runIndex + 1}: busy window up to ${wantSec.toFixed(1)} s, ${elapsed} ms after start` +
      `${running ? '' : ' (backfill NOT running)'}`);
    // The busy window ends when the backfill does (or at wantSec): every
    // sample in it was taken while the backfill ran, give or take one poll.
    const done = () => migrationRow(db)?.status !== 'pending_async';
    const busy = await loadWindow(stack, wantSec, { ingestSocket, packetsOk, legacyTx, label: `stack${runIndex}-busy`,
      stopWhen: running ? done : null });
    const seconds = busy.seconds;
    const cover = !running ? 0 : !done() ? 1 : Math.max(0, (seconds - POLL_SEC) / seconds);
    // The idle window needs the backfill finished; a tuning experiment that
    // makes it crawl gets no idle window rather than a wrong one.
    const finishMs = Math.max(120000, 3 * (defaultsWallMs ?? 0));
    const finished = !running || await waitFor(() => migrationRow(db)?.status !== 'pending_async',
      { timeoutMs: finishMs, intervalMs: 200, what: 'the backfill to finish' }).catch(() => false);
    // Peak RSS over the whole backfill, before the idle window adds anything.
    const rss = readRss(stack);
    say(`   stack ${runIndex + 1}: backfill ${migrationRow(db)?.status ?? 'absent'} after ${Date.now() - t0} ms` +
      ` (running ${(100 * cover).toFixed(0)}% of the window); ` +
      (finished ? `idle window ${seconds.toFixed(1)} s` : 'still running: no idle window'));
    if (!finished) notes.push(`Stack ${runIndex + 1}: the backfill was still running ${finishMs / 1000} s after the start; no idle window.`);
    const idle = finished
      ? await loadWindow(stack, seconds, { ingestSocket, packetsOk, legacyTx, label: `stack${runIndex}-idle` }) : null;
    if (runIndex === 0) await measureThroughput(stack);
    const rssAfter = readRss(stack);
    return { busy, idle, packetsOk, seconds, cover, running, rss, rssAfter };
  } finally {
    await stack.stop();
    activeStacks.delete(stack);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    dropCopy(db);
  }
}

function merge(loads) {
  const cat = (f) => loads.flatMap(f);
  const hey = (k) => {
    const parts = loads.map((l) => l[k]).filter(Boolean);
    return parts.length ? { latenciesMs: parts.flatMap((p) => p.latenciesMs),
      notOk: parts.reduce((s, p) => s + p.notOk, 0) } : null;
  };
  const ingestParts = loads.map((l) => l.ingest).filter(Boolean);
  return {
    healthz: hey('healthz'),
    packets: hey('packets'),
    ingest: ingestParts.length ? {
      latenciesMs: ingestParts.flatMap((p) => p.latenciesMs ?? []),
      errors: ingestParts.reduce((s, p) => s + (p.errors ?? 0) + (p.unanswered ?? 0), 0),
      firstError: ingestParts.map((p) => p.firstError ?? p.error).find(Boolean) ?? null,
    } : null,
    probe: cat((l) => l.probe?.waits_ms ?? []),
  };
}

// Per pair of windows (one stack each): each side's p99 and their ratio, so a
// verdict can be checked against the spread of its repeats.
function perPair(pairs, samples) {
  const idle = [], busy = [], ratios = [];
  for (const p of pairs) {
    const b = samples(p.busy), i = p.idle ? samples(p.idle) : null;
    const pb = b?.length ? percentile(b, 99) : null, pi = i?.length ? percentile(i, 99) : null;
    if (pb !== null) busy.push(pb);
    if (pi !== null) idle.push(pi);
    const r = ratio(pb, pi);
    if (r !== null) ratios.push(r);
  }
  return { idle, busy, ratios };
}

async function measureStack(db1, workDir, ingest, hasBackfill, defaultsWallMs) {
  say('2-5. the stack on fresh legacy copies: load during the backfill at its defaults, then idle');
  const pairs = [];
  let covered = 0;
  // Another stack only for a window worth its startup (3 s or more).
  for (let i = 0; i < mode.maxBusyRuns && (i < mode.minBusyRuns || covered <= mode.windowSec - 3); i++) {
    const p = await pairPhase(db1, workDir, ingest, hasBackfill, defaultsWallMs, i, mode.windowSec - covered);
    pairs.push(p);
    covered += p.seconds * p.cover;
    if (!p.running) break;
  }
  const busySec = pairs.reduce((s, p) => s + p.seconds, 0);
  const I = merge(pairs.map((p) => p.idle).filter(Boolean));
  const B = merge(pairs.map((p) => p.busy));
  const idle = pairs[0];

  figures['busy.coverage'] = !hasBackfill ? na(`${ABSENT}the backfill`)
    : busySec > 0 ? (100 * covered) / busySec : na('no window');
  notes.push(`Load windows: ${pairs.length} stack(s), busy ${pairs.map((p) => p.seconds.toFixed(1)).join(' + ')} s ` +
    `(backfill running ${(100 * covered / busySec).toFixed(0)}% of it), then idle as long on the same stack. Offered: ` +
    `/api/healthz ${mode.healthz.concurrency * mode.healthz.perWorkerQps} req/s, /api/packets?limit=50 ` +
    `${mode.packets.concurrency * mode.packets.perWorkerQps} req/s, ingest ${mode.ingestRate} lines/s, ` +
    `writer probe every ${mode.probeIntervalMs} ms, all at once.` +
    (mode.busyWorkerArgs.length ? ` Busy worker args: ${mode.busyWorkerArgs.join(' ')}.` : ' Busy worker at its defaults.'));

  // Readers.
  for (const ep of ['healthz', 'packets']) {
    const why = ep === 'packets' && idle.packetsOk !== true
      ? `${idle.packetsOk === 'HTTP 404' ? ABSENT : ''}/api/packets (${idle.packetsOk})` : 'no samples';
    const si = I[ep] ? summarize(I[ep].latenciesMs) : null;
    const sb = B[ep] ? summarize(B[ep].latenciesMs) : null;
    figures[`read.${ep}.idle.p50`] = si?.p50 ?? na(why);
    const pp = perPair(pairs, (w) => w?.[ep]?.latenciesMs);
    figures[`read.${ep}.idle.p99`] = si?.p99 != null ? { value: si.p99, range: pp.idle } : na(why);
    figures[`read.${ep}.busy.p50`] = sb?.p50 ?? na(why);
    figures[`read.${ep}.busy.p99`] = sb?.p99 != null ? { value: sb.p99, range: pp.busy } : na(why);
    figures[`read.${ep}.p99_ratio`] = repeated(ratio(sb?.p99, si?.p99) ?? ratioFig(figures[`read.${ep}.busy.p99`],
      figures[`read.${ep}.idle.p99`]), pp.ratios, { idle: pp.idle, busy: pp.busy });
  }
  const readErrors = [I.healthz, B.healthz, I.packets, B.packets].filter(Boolean).reduce((s, x) => s + x.notOk, 0);
  figures['read.errors'] = readErrors;

  // Ingest.
  const whyIngest = ingest ? 'no acknowledgements' : `${ABSENT}live ingest`;
  const ii = I.ingest?.latenciesMs?.length ? summarize(I.ingest.latenciesMs) : null;
  const ib = B.ingest?.latenciesMs?.length ? summarize(B.ingest.latenciesMs) : null;
  figures['ingest.idle.p50'] = ii?.p50 ?? na(whyIngest);
  const pp = perPair(pairs, (w) => w?.ingest?.latenciesMs);
  figures['ingest.idle.p99'] = ii?.p99 != null ? { value: ii.p99, range: pp.idle } : na(whyIngest);
  figures['ingest.busy.p50'] = ib?.p50 ?? na(whyIngest);
  figures['ingest.busy.p99'] = ib?.p99 != null ? { value: ib.p99, range: pp.busy } : na(whyIngest);
  figures['ingest.p99_ratio'] = repeated(ratio(ib?.p99, ii?.p99) ?? ratioFig(figures['ingest.busy.p99'],
    figures['ingest.idle.p99']), pp.ratios, { idle: pp.idle, busy: pp.busy });
  for (const [k, x] of [['idle', I.ingest], ['busy', B.ingest]]) {
    if (x?.errors) notes.push(`Ingest ${k}: ${x.errors} lines not acknowledged ok (first: ${x.firstError}).`);
    if (x?.firstError && !x.latenciesMs.length) notes.push(`Ingest ${k} failed: ${x.firstError}.`);
  }

  // The writer lock, probed directly.
  const pi = summarize(I.probe), pb = summarize(B.probe);
  figures['writer.idle.max'] = pi.max ?? na('no probe samples');
  figures['writer.busy.max'] = pb.max ?? na('no probe samples');
  figures['writer.busy.p99'] = pb.p99 ?? na('no probe samples');

  // Memory: every responder of both stacks, the daemon worker during the backfill.
  const responders = pairs.map((p) => p.rssAfter).flatMap((r) =>
    Object.entries(r).filter(([n]) => n.startsWith('fcgi:')).map(([, kb]) => kb)).filter((x) => x);
  figures['mem.responder_max_mib'] = responders.length ? Math.max(...responders) / 1024 : na('no responders');
  notes.push(`Responder peak RSS, every process of every stack: ${responders.map((kb) => (kb / 1024).toFixed(1)).join(', ')} MiB.`);
  const workerKb = pairs.map((p) => p.rss.worker).filter((x) => x);
  figures['mem.worker_daemon_mib'] = workerKb.length ? Math.max(...workerKb) / 1024 : na('worker not found');
}

// ---------------------------------------------------------------- scaling

// Times the one-statement reference on a fresh copy (the fastest of n).
async function referenceMs(db, workDir, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const ref = freshCopy(db, workDir, 'reference');
    const r = await run(BENCHTOOL, ['reference', '--db', ref]);
    dropCopy(ref);
    if (r.code !== 0) throw new Error(`reference failed: ${r.stderr}`);
    times.push(JSON.parse(r.stdout).update_ms);
  }
  return Math.min(...times);
}

// The worker's scaling beside the reference's own, per shape: 1× comes from
// section 1, 10× is run here once (the reference takes most of a minute).
async function measureScaling(dbs, shape, bf1, workDir) {
  say(`6. scaling, ${shape}: worker --run-once --yield-ms 0, and the reference, at 10×`);
  const k = `scale.${shape}`;
  figures[`${k}.1.work_ms`] = pick(bf1.y0Best.stats, 'workMs', bf1.y0Best.why);
  figures[`${k}.1.ref_ms`] = bf1.refMs;
  const db = dbs.find((d) => d.scale === 10 && d.shape === shape);
  figures[`${k}.10.ref_ms`] = await referenceMs(db, workDir, 1);
  const w = freshCopy(db, workDir, `scale-10-${shape}`);
  const out = await runWorkerOnce(w, workDir, `scale-10-${shape}`, ['--yield-ms', '0']);
  dropCopy(w);
  figures[`${k}.10.work_ms`] = pick(out.stats, 'workMs', out.why);
  figures[`${k}.10.rss_mib`] = mib(out.maxrssKb);
  say(`   10× (${db.tx} tx, ${db.obs} obs): work ${out.stats?.workMs?.toFixed(0) ?? 'n/a'} ms, ` +
    `reference ${figures[`${k}.10.ref_ms`].toFixed(0)} ms, peak RSS ${(out.maxrssKb / 1024).toFixed(1)} MiB`);
  figures[`${k}.ref_ratio_10`] = ratioFig(figures[`${k}.10.ref_ms`], figures[`${k}.1.ref_ms`]);
  figures[`${k}.10.work_ratio`] = ratioFig(figures[`${k}.10.work_ms`], figures[`${k}.10.ref_ms`]);
  figures[`${k}.time_ratio_10`] = ratioFig(figures[`${k}.10.work_ms`], figures[`${k}.1.work_ms`]);
}

// The control plane (bench/lib/control-plane.mjs): ETA under a changing pace, throttle and pause reaction.
async function measureControl(db1, workDir) {
  say('8. the control plane: ETA after a change of pace, batches after a throttle or pause');
  const dir = path.join(workDir, 'control');
  mkdirSync(dir, { recursive: true });
  try {
    const r = await measureControlPlane({ freshCopy: (label) => freshCopy(db1, workDir, label), dir,
      quick: opts.quick, say });
    figures['eta.error'] = r.eta;
    figures['throttle.batches'] = Math.max(r.reaction.flagBatches, r.reaction.pauseBatches);
    notes.push(`Control plane: ${r.total} rows in about 200 fixed batches; batches after the flag file ` +
      `${r.reaction.flagBatches}, after \`ctl pause\` ${r.reaction.pauseBatches}.`);
  } catch (err) {
    figures['eta.error'] = na(err.message);
    figures['throttle.batches'] = na(err.message);
  }
}

// Retention (bench/lib/retention.mjs) beside its one-transaction reference,
// on copies of the scattered 1× database with its migrations done: the
// backfill's own defaults run when there is one, else a fresh copy.
async function measureRetentionSection(db1, migrated, workDir, ingest) {
  say('9. retention: the worker\'s batched run under live ingest, against the one-transaction DELETEs');
  const source = migrated ?? freshCopy(db1, workDir, 'retention-source');
  const keys = ROWS.filter((r) => r.key?.startsWith('ret.')).map((r) => r.key);
  try {
    const r = await measureRetention({ source, copy: (label) => freshCopy({ file: source }, workDir, label), drop: dropCopy,
      dir: workDir, ingest, workerArgs: [...mode.retention.workerArgs, ...extraWorkerArgs],
      ingestRate: mode.ingestRate, idleCapSec: mode.retention.idleCapSec, say });
    Object.assign(figures, r.figures);
    notes.push(...r.notes);
  } catch (err) {
    say(`   retention failed: ${err.message}`);
    for (const k of keys) figures[k] ??= na(err.message.split('\n')[0]);
  } finally {
    dropCopy(source);
  }
}

// The MQTT path (bench/mqtt.mjs, also `bench/run --mqtt` alone): broker to
// durable rows, and the bridge's take-to-ack p99 at 500 messages/s.
async function measureMqtt() {
  say('7. the MQTT path (bench/mqtt.mjs)');
  const r = await run('node', [path.join(TOP, 'bench', 'mqtt.mjs'), ...(opts.quick ? ['--quick'] : [])]);
  const rate = r.stdout.match(/\| (\d+) msg\/s/);
  const p99 = r.stdout.match(/\| ([0-9.]+) ms \(p50/);
  const why = r.code !== 0 ? `bench/mqtt.mjs exited ${r.code}: ${r.stderr.trim().split('\n').pop()}` : 'no figure printed';
  figures['mqtt.rate'] = rate ? Number(rate[1]) : na(why);
  figures['mqtt.ack_p99'] = p99 ? Number(p99[1]) : na(why);
  say(`   ${rate?.[1] ?? 'n/a'} msg/s, ack p99 ${p99?.[1] ?? 'n/a'} ms`);
}

// ---------------------------------------------------------------- main

async function main() {
  for (const exe of [WORKER, BENCHTOOL]) {
    if (!existsSync(exe)) throw new Error(`${exe} not built (bench/run builds it)`);
  }
  const mach = machine();
  const loadStart = loadavg();
  const busyBefore = await cpuBusy(2000);
  say(`${modeName} run on ${mach.nproc} × ${mach.CPU}, load average ${loadStart}`);

  const dbs = [];
  for (const shape of SHAPES) for (const s of mode.scales) dbs.push(await legacyDb(s, shape));
  const db1 = (shape) => dbs.find((d) => d.scale === 1 && d.shape === shape);

  const workDir = tempDir('meshscope-bench-');
  workDirToRemove = workDir;
  try {
    const ingest = await probeIngest(workDir);
    const bf = {};
    for (const shape of SHAPES) bf[shape] = await measureBackfill(db1(shape), workDir);
    figures['mem.worker_runonce_mib'] = mib(Math.max(...SHAPES.map((sh) => bf[sh].rssKb)));
    const sc = bf.scattered;
    await measureRetentionSection(db1('scattered'), sc.migrated, workDir, ingest);
    await measureStack(db1('scattered'), workDir, ingest, sc.hasBackfill, sc.defaultsWallMs);
    if (opts['no-scaling']) {
      for (const row of ROWS.filter((r) => r.key?.startsWith('scale.'))) figures[row.key] = na('skipped (--no-scaling)');
    } else {
      for (const shape of SHAPES) await measureScaling(dbs, shape, bf[shape], workDir);
    }
    await measureMqtt();
    await measureControl(db1('scattered'), workDir);
  } finally {
    if (!opts.keep) rmSync(workDir, { recursive: true, force: true });
    else say(`kept ${workDir}`);
  }

  const rows = buildRows(figures);
  const runtimeSec = (Date.now() - startedAt) / 1000;
  mach['load average (1/5/15 min) at start'] = loadStart;
  mach['load average at end'] = loadavg();
  if (busyBefore !== null) {
    mach['CPU busy with other work in the 2 s before the run'] = `${(100 * busyBefore).toFixed(0)}%` +
      (busyBefore > 0.1 ? ' (a shared machine: absolute figures are noisy, the ratios less so)' : '');
  }
  const scaleDesc = dbs.filter((d) => d.shape === SHAPES[0]).map((d) => `${d.scale}× = ${d.tx} tx / ${d.obs} obs`).join(', ');
  notes.unshift(`Data: ${scaleDesc}, each in the scattered and the clustered shape; generated by scripts/gen-demo-db, cached in var/bench/. ` +
    'A verdict reads "unstable" when the repeats of a ratio fall on both sides of its bound, or when one side\'s repeats spread by more than the figure\'s distance from its bound; ranges in brackets are per repeat.');
  if (extraWorkerArgs.length) notes.unshift(`Every worker ran with the extra options ${extraWorkerArgs.join(' ')}: not the defaults.`);
  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command: ['bench/run', opts.quick && '--quick', opts['no-scaling'] && '--no-scaling',
      extraWorkerArgs.length && `--worker-args="${extraWorkerArgs.join(' ')}"`].filter(Boolean).join(' '),
    runtimeSec, mode: modeName,
  };
  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n\n${summaryLine(rows)}; runtime ${runtimeSec.toFixed(0)} s.\n`);
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, renderResults({ rows, machine: mach, meta, notes }));
  say(`wrote ${path.relative(TOP, outFile) || outFile}`);
  if (writeReadme) {
    const readme = path.join(TOP, 'README.md');
    const block = [
      `Latest full run (${meta.date}, ${mach.nproc} × ${mach.CPU}, ${runtimeSec.toFixed(0)} s;`
        + ` details and machine in [bench/results/latest.md](bench/results/latest.md)):`,
      '', table, '', `${summaryLine(rows)}. Reproduce with \`bench/run\` (or \`make bench\`).`,
    ].join('\n');
    writeFileSync(readme, updateReadme(readFileSync(readme, 'utf8'), block));
    say('updated README.md');
  }
  if (opts.check) {
    // Every feature the table measures is on main now: a figure that is not
    // a number, for whatever reason, fails the smoke test.
    const missing = missingFigures(rows);
    if (missing.length || !table.includes('| figure |')) {
      process.stderr.write(`bench: ${missing.length} figure(s) not measured:\n` +
        missing.map((r) => `  ${r.label}: ${r.reason}\n`).join(''));
      process.exitCode = 1;
    }
    const broken = brokenFigures(rows);
    if (broken.length) {
      process.stderr.write(`bench: ${broken.length} result(s) wrong:\n` +
        broken.map((r) => `  ${r.label}: ${r.value}\n`).join(''));
      process.exitCode = 1;
    }
  }
}

// Share of all CPUs busy over a short interval, from /proc/stat: measured
// before the run starts, it is other people's work on a shared machine.
async function cpuBusy(ms) {
  const sample = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] || 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = sample();
  await new Promise((r) => setTimeout(r, ms));
  const b = sample();
  return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : null;
}

// Ctrl-C or SIGTERM: stop the stack that is up (supervisord and everything
// under it) and remove the temporary copies before leaving.
const activeStacks = new Set();
let workDirToRemove = null;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    say(`${sig}: stopping`);
    for (const st of activeStacks) {
      await st.stop().catch(() => {});
      if (!opts.keep) rmSync(st.dir, { recursive: true, force: true });
    }
    if (workDirToRemove && !opts.keep) rmSync(workDirToRemove, { recursive: true, force: true });
    process.exit(130);
  });
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack || err.message}\n`);
  process.exit(1);
});
