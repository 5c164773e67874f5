// Load, run by `make check-long`: wrk with 64 connections on
// each of /api/healthz and /api/packets for 30 s, through nginx and the pool,
// while the worker backfills an operator-scale legacy database and the demo
// feeder ingests. Every answer is a 2xx, no socket errors, and the responders'
// resident memory is flat from before to after (no leak). The figures are
// printed as test diagnostics and written to tests/artifacts/load.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, statSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TOP, startStack, tempDir, waitFor } from '../lib/stack.mjs';

const SECONDS = Number(process.env.LOAD_SECONDS || 30);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS || 64);
const WARMUP_SECONDS = 10;
const FEED_RATE = 200;
// A leak of even 32 bytes per request would grow each responder by ~1 MiB
// over the tens of thousands of requests it answers here.
const RSS_GROWTH_LIMIT_KIB = 1024;

let stack;
const figures = {};
const dirs = [];

function wrk(target, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '5s',
      '--latency', `${stack.url}${target}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) { reject(new Error(`wrk exited ${code}: ${out}`)); return; }
      const num = (re) => { const m = out.match(re); return m ? Number(m[1]) : 0; };
      const socket = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
      resolve({
        target,
        requests: num(/(\d+) requests in/),
        non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
        socketErrors: socket ? socket.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0,
        requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
        p99: (out.match(/99%\s+(\S+)/) || [])[1],
        raw: out,
      });
    });
  });
}

function responderPids() {
  return Object.entries(stack.pids()).filter(([n]) => n.startsWith('fcgi:')).map(([, p]) => p).sort();
}

function rssKiB(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
}

async function healthz() {
  return (await fetch(`${stack.url}/api/healthz`)).json();
}

function backfill(h) {
  return (h.async_migrations || []).find((m) => m.name === 'tx_last_seen_backfill_v1');
}

async function ingestAcked() {
  const perf = await (await fetch(`${stack.url}/api/perf`)).json();
  return perf.ingest?.linesAcked ?? 0;
}

// Status codes nginx logged for `paths` since byte offset `from` of its access log.
function loggedStatuses(from) {
  const text = readFileSync(path.join(stack.dir, 'logs', 'nginx-access.log')).subarray(from).toString('latin1');
  const counts = {};
  for (const line of text.split('\n')) {
    const m = line.match(/"GET (\/api\/(?:healthz|packets)\S*) HTTP\/1\.1" (\d{3}) /);
    if (m) counts[m[2]] = (counts[m[2]] || 0) + 1;
  }
  return counts;
}

async function startLoadStack({ production }) {
  const dir = tempDir('meshscope-load-');
  dirs.push(dir); // two 100 MB databases per run: removed afterwards
  const state = path.join(dir, 'state');
  mkdirSync(state);
  const db = path.join(state, 'meshscope.db');
  // Operator scale (71K transmissions, 1.5M observations), legacy schema.
  execFileSync(path.join(TOP, 'scripts', 'gen-demo-db'), [db], { stdio: 'pipe' });
  const users = {};
  if (production) {
    // The production modes: the worker as the database's owner, responders as
    // a group member that may only read (the -shm file is read-only to them).
    execFileSync(path.join(TOP, 'deploy', 'setup-users.sh'), ['--state-dir', state,
      '--run-dir', path.join(dir, 'prod-run'), '--log-dir', path.join(dir, 'prod-log'), '--no-tmpfiles'],
    { stdio: 'pipe' });
    Object.assign(users, { workerUser: 'meshscope', fcgiUser: 'meshscope-ro' });
  }
  // Small batches and long yields stretch the backfill over the whole run.
  stack = await startStack({ db, dir, numprocs: 4, feedRate: FEED_RATE,
    workerArgs: '--batch-size 400 --yield-ms 400', ...users });
  await waitFor(async () => backfill(await healthz())?.status === 'running',
    { timeoutMs: 30000, what: 'the backfill to start' });
  await waitFor(async () => (await ingestAcked()) > 0, { timeoutMs: 30000, what: 'the feeder to ingest' });
}

after(async () => {
  await stack?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  mkdirSync(path.join(TOP, 'tests', 'artifacts'), { recursive: true });
  writeFileSync(path.join(TOP, 'tests', 'artifacts', 'load.json'), `${JSON.stringify(figures, null, 2)}\n`);
});

async function loadRun(t, name) {
  const f = {};
  figures[name] = f;
  // Warm up: statement caches, SQLite's page cache, the pool's stats slots.
  await Promise.all([wrk('/api/healthz', WARMUP_SECONDS), wrk('/api/packets?limit=50', WARMUP_SECONDS)]);
  const pids = responderPids();
  assert.equal(pids.length, 4);
  const rssBefore = pids.map(rssKiB);
  const startHealth = backfill(await healthz());
  const ackedBefore = await ingestAcked();
  const logFrom = statSync(path.join(stack.dir, 'logs', 'nginx-access.log')).size;

  const [h, p] = await Promise.all([wrk('/api/healthz', SECONDS), wrk('/api/packets?limit=50', SECONDS)]);

  const endHealth = backfill(await healthz());
  const ackedAfter = await ingestAcked();
  const rssAfter = pids.map(rssKiB);
  const logged = loggedStatuses(logFrom);
  Object.assign(f, {
    seconds: SECONDS, connectionsPerTarget: CONNECTIONS,
    healthz: { requests: h.requests, non2xx: h.non2xx, socketErrors: h.socketErrors, rps: h.requestsPerSec, p99: h.p99 },
    packets: { requests: p.requests, non2xx: p.non2xx, socketErrors: p.socketErrors, rps: p.requestsPerSec, p99: p.p99 },
    nginxLoggedStatuses: logged,
    backfill: { rowsProcessedBefore: startHealth?.rowsProcessed, rowsProcessedAfter: endHealth?.rowsProcessed,
      rowsTotal: endHealth?.rowsTotal, statusAfter: endHealth?.status },
    ingest: { feedRate: FEED_RATE, linesAckedDuringRun: ackedAfter - ackedBefore },
    responderRssKiB: pids.map((pid, i) => ({ pid, before: rssBefore[i], after: rssAfter[i], growth: rssAfter[i] - rssBefore[i] })),
  });
  t.diagnostic(`load figures (${name}): ${JSON.stringify(f)}`);

  for (const r of [h, p]) {
    assert.ok(r.requests > 0, `${r.target}: no requests\n${r.raw}`);
    assert.equal(r.non2xx, 0, `${r.target}: non-2xx answers\n${r.raw}`);
    assert.equal(r.socketErrors, 0, `${r.target}: socket errors\n${r.raw}`);
  }
  // nginx's own log agrees. wrk closes its connections when the time is up,
  // so the requests in flight at that instant (at most one per connection)
  // are logged 499 (client closed); nothing else but 2xx may appear.
  const other = Object.entries(logged).filter(([code]) => !code.startsWith('2') && code !== '499');
  assert.deepEqual(other, [], `nginx logged non-2xx answers: ${JSON.stringify(logged)}`);
  assert.ok((logged['499'] || 0) <= 2 * CONNECTIONS, `too many 499s: ${JSON.stringify(logged)}`);
  // It really ran during a backfill with ingest going on.
  assert.equal(endHealth?.status, 'running', 'the backfill finished before the load did: stretch it');
  assert.ok(endHealth.rowsProcessed > startHealth.rowsProcessed, 'the backfill made progress under load');
  assert.ok(ackedAfter > ackedBefore, 'ingest made progress under load');
  // Same processes throughout (none crashed), memory flat.
  assert.deepEqual(responderPids(), pids, 'a responder was restarted under load');
  for (const r of f.responderRssKiB) {
    assert.ok(r.growth <= RSS_GROWTH_LIMIT_KIB,
      `responder ${r.pid} grew ${r.growth} KiB (${r.before} -> ${r.after}) under load`);
  }
}

test(`${CONNECTIONS} connections on healthz and packets for ${SECONDS} s during a backfill with ingest: all 2xx, flat memory`, async (t) => {
  await startLoadStack({ production: false });
  try {
    await loadRun(t, 'root');
  } finally {
    await stack.stop();
  }
});

test('the same load with production users: read-only responders (read-only -shm) keep up with the writer',
  { skip: process.getuid() !== 0 && 'needs root to create users' }, async (t) => {
    await startLoadStack({ production: true });
    try {
      await loadRun(t, 'production');
    } finally {
      await stack.stop();
    }
  });
