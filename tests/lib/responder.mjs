// responder.mjs: drives meshscope-fcgi directly (its one-shot CGI mode) and
// builds the damaged databases the reliability suites point it at.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BINDIR, TOP } from './stack.mjs';

// The sanitizer build turns a memory error into a non-zero exit, so the
// suites prefer it when it has been built. scripts/test points both at
// world-readable copies (see MESHSCOPE_BINDIR in stack.mjs).
export const SANITIZE_BINDIR = process.env.MESHSCOPE_SANITIZE_BINDIR ||
  path.join(TOP, 'build', 'sanitize');
export function responderBinary() {
  const sanitized = path.join(SANITIZE_BINDIR, 'fcgi', 'meshscope-fcgi');
  return existsSync(sanitized) ? sanitized : path.join(BINDIR, 'fcgi', 'meshscope-fcgi');
}
export const WORKER = path.join(BINDIR, 'worker', 'meshscope-worker');

// setpriv arguments that drop to `user` with its own group and no others:
// root bypasses file permissions, so damage by permissions needs this.
export function dropTo(user = 'nobody', group = user === 'nobody' ? 'nogroup' : user) {
  return ['setpriv', `--reuid=${user}`, `--regid=${group}`, '--clear-groups', '--'];
}

// Splits CGI output ("Status: 200 OK\r\nHeader: v\r\n\r\nbody").
export function parseCgi(stdout) {
  const text = stdout.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no CGI header block in ${JSON.stringify(text.slice(0, 200))}`);
  const headers = {};
  for (const line of text.slice(0, split).split('\r\n')) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number((headers.status || '').split(' ')[0]);
  return { status, headers, body: text.slice(split + 4) };
}

// Answers one request in CGI mode. Never throws for a bad answer; the caller
// asserts on exit status, signal, elapsed time and output.
export function cgiRequest({ db, uri = '/api/healthz', method = 'GET', query, env = {},
  prefix = [], timeoutMs = 1000, bin = responderBinary() } = {}) {
  const requestEnv = { PATH: process.env.PATH, REQUEST_METHOD: method, REQUEST_URI: uri, ...env };
  if (query !== undefined) requestEnv.QUERY_STRING = query;
  const argv = [...prefix, bin, '--db', db];
  const started = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), {
    env: requestEnv, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL',
  });
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  let parsed = null;
  try { parsed = parseCgi(r.stdout); } catch { /* reported by the caller through `raw` */ }
  return { code: r.status, signal: r.signal, elapsedMs, stderr: String(r.stderr),
    raw: String(r.stdout), ...(parsed || {}) };
}

// A database with the current schema, made by the worker itself.
export function makeSchemaDb(file, { journal = 'wal', rows = 0, migrations = [] } = {}) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
  execFileSync(WORKER, ['--db', file, '--run-once', '--log-level', 'error'], { stdio: 'pipe' });
  const sql = [`PRAGMA journal_mode=${journal};`];
  for (const [name, status] of migrations) {
    sql.push(`INSERT OR REPLACE INTO _async_migrations(name, status) VALUES ('${name}', '${status}');`);
  }
  if (rows > 0) {
    // Enough pages that a truncation or overwrite lands inside real data.
    sql.push(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
      INSERT INTO transmissions(hash, raw_hex, payload_type, first_seen, last_seen)
      SELECT printf('%08x', i), hex(randomblob(64)), i % 12, 1700000000 + i, 1700000000 + i FROM n;`);
  }
  execFileSync('sqlite3', [file], { input: sql.join('\n'), stdio: ['pipe', 'pipe', 'pipe'] });
  return file;
}

// Runs `statements` in a sqlite3 process that keeps its transaction (and so
// its locks) open until release() is called.
export async function holdLock(db, statements) {
  const child = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.stdin.write(`${statements}\nSELECT 'lock-held';\n`);
  const deadline = Date.now() + 5000;
  while (!out.includes('lock-held')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sqlite3 did not take the lock: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  if (/Error/.test(out)) {
    child.kill('SIGKILL');
    throw new Error(`sqlite3 failed while taking the lock: ${out}`);
  }
  // Idempotent, so callers can release in a finally block whatever happened.
  return {
    async release() {
      if (child.exitCode === null && child.signalCode === null && child.stdin.writable) {
        child.stdin.end('ROLLBACK;\n');
      }
      await exited;
    },
  };
}
