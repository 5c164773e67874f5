// control.mjs: the worker with a control socket, and `meshscope-worker ctl` as
// operators run it, for the control-plane suites.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './stack.mjs';
import { WORKER, MIGRATION, sqlite } from './backfill.mjs';

export { MIGRATION };

// Runs `meshscope-worker ctl --socket SOCKET ARGS...`; returns { status, stdout, stderr, json }.
export function ctl(socket, ...args) {
  const res = spawnSync(WORKER, ['ctl', '--socket', socket, ...args], { encoding: 'utf8', timeout: 90000 });
  let json = null;
  if (args.includes('--json')) {
    try { json = JSON.parse(res.stdout); } catch { json = null; }
  }
  return { status: res.status, stdout: res.stdout, stderr: res.stderr, json };
}

// The job's entry in `ctl --json status`.
export function job(socket, name = MIGRATION) {
  const res = ctl(socket, '--json', 'status');
  if (res.status !== 0) throw new Error(`ctl status exited ${res.status}: ${res.stderr}`);
  return res.json.jobs.find((j) => j.name === name);
}

// Starts the worker with --control-socket DIR/control.sock (and any args); resolves once ctl answers.
export async function startControlled({ db, dir, args = [], env = {} }) {
  const socket = path.join(dir, 'control.sock');
  const child = spawn(WORKER, ['--db', db, '--control-socket', socket, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  let exit = null;
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
  await waitFor(() => {
    if (exit) throw new Error(`worker exited early (${JSON.stringify(exit)}):\n${log}`);
    return ctl(socket, 'status').status === 0;
  }, { what: 'the control socket to answer' });
  return {
    child, socket, pid: child.pid, log: () => log, exited,
    async stop(signal = 'SIGTERM') {
      if (!exit) child.kill(signal);
      return exited;
    },
  };
}

// Rows the backfill has written so far, counted by a trigger (each write of a row adds one).
export function installWriteCounter(db) {
  sqlite(db, `CREATE TABLE IF NOT EXISTS backfill_writes(id INTEGER NOT NULL);
    CREATE TRIGGER IF NOT EXISTS count_backfill_writes AFTER UPDATE OF last_seen ON transmissions
      WHEN OLD.last_seen = 0 AND NEW.last_seen != 0 BEGIN INSERT INTO backfill_writes VALUES (NEW.id); END;`);
}

export function writeCounts(db) {
  const [total, distinct] = sqlite(db, 'SELECT count(*), count(DISTINCT id) FROM backfill_writes;').split('|').map(Number);
  return { total, distinct };
}
