// stack.mjs: starts the real meshscope stack (supervisord, nginx, responder
// pool, worker) on a free loopback port for a test, and stops it afterwards.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOP = process.env.MESHSCOPE_TOP ||
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// Several suites run binaries as unprivileged users (nobody, the production
// users), who cannot reach a checkout under /root; scripts/test therefore
// points MESHSCOPE_BINDIR at world-readable copies of the build.
export const BINDIR = process.env.MESHSCOPE_BINDIR || path.join(TOP, 'build', 'release');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'meshscope-test-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

// Polls `check` until it returns a truthy value or the deadline passes.
export async function waitFor(check, { timeoutMs = 15000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastError ? `: ${lastError.message}` : ''));
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// feedRate > 0 also starts the demo feeder (off by default, so tests stay deterministic).
export async function startStack({ db, numprocs = 2, workerArgs = '', fcgiArgs = '', dir,
  workerUser, fcgiUser, feedRate = 0 } = {}) {
  const port = await freePort();
  const runDir = dir || tempDir('meshscope-stack-');
  const dbPath = db || path.join(runDir, 'meshscope.db');
  const args = ['--db', dbPath, '--port', String(port), '--dir', runDir,
    '--numprocs', String(numprocs), '--bindir', BINDIR];
  if (feedRate) args.push('--feed-rate', String(feedRate));
  if (workerArgs) args.push('--worker-args', workerArgs);
  if (fcgiArgs) args.push('--fcgi-args', fcgiArgs);
  if (workerUser) args.push('--worker-user', workerUser);
  if (fcgiUser) args.push('--fcgi-user', fcgiUser);
  const child = spawn(path.join(TOP, 'scripts', 'stack'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let hasExited = false;
  exited.then(() => { hasExited = true; });

  const url = `http://127.0.0.1:${port}`;
  const stack = {
    port, url, dir: runDir, db: dbPath, child,
    output: () => output,
    ctl(...ctlArgs) {
      return execFileSync('supervisorctl', ['-c', path.join(runDir, 'supervisord.conf'), ...ctlArgs],
        { encoding: 'utf8' });
    },
    // Process ids of running programs, keyed by supervisord's name (e.g. "fcgi:fcgi_00").
    pids() {
      let text;
      try { text = this.ctl('status'); } catch (err) { text = err.stdout || ''; }
      const pids = {};
      for (const line of text.split('\n')) {
        const m = line.match(/^(\S+)\s+RUNNING\s+pid (\d+)/);
        if (m) pids[m[1]] = Number(m[2]);
      }
      return pids;
    },
    log(name) {
      const file = path.join(runDir, 'logs', `${name}.log`);
      return existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
    async stop() {
      if (!hasExited) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };

  try {
    await waitFor(async () => {
      if (hasExited) throw new Error(`stack exited early:\n${output}`);
      const res = await fetch(`${url}/api/healthz`);
      return res.headers.get('content-type')?.startsWith('application/json');
    }, { timeoutMs: 30000, what: 'the stack to answer /api/healthz' });
    // supervisord reports RUNNING only after startsecs; tests that kill or
    // count processes need every program past that point.
    const expected = numprocs + 2 + (feedRate ? 1 : 0);
    await waitFor(() => Object.keys(stack.pids()).length >= expected,
      { timeoutMs: 30000, what: `${expected} programs RUNNING under supervisord` });
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

// True when a process with this pid exists.
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
