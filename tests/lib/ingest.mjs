// ingest.mjs: helpers for tests of the worker's ingest socket: start the worker
// binary on a temp database, talk the line protocol, and read the database.
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { BINDIR, waitFor } from './stack.mjs';

export const WORKER = path.join(BINDIR, 'worker', 'meshscope-worker');
export const INGEST_TOOL = path.join(BINDIR, 'client', 'meshscope-ingest');

// One observation line; `over` replaces or adds fields.
export function observation(over = {}) {
  return JSON.stringify({
    hash: 'h0', raw_hex: '0a0b', payload_type: 4, observer: 'obs-1', snr: -7.5, rssi: -101,
    path: ['a3', '7f'], timestamp: 1760000000, ...over,
  });
}

// Runs sqlite3 on the database and returns the rows as objects.
export function sql(db, query) {
  const out = execFileSync('sqlite3', ['-json', db, query], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}

export function scalar(db, query) {
  const rows = sql(db, query);
  return rows.length ? Object.values(rows[0])[0] : undefined;
}

// Starts meshscope-worker with an ingest socket; resolves once it accepts connections.
// `env` adds to the environment (e.g. MESHSCOPE_TEST_PAUSE).
export async function startWorker({ db, socket, args = [], env = {} }) {
  const child = spawn(WORKER, ['--db', db, '--ingest-socket', socket, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let exit = null;
  exited.then((e) => { exit = e; });
  await waitFor(async () => {
    if (exit) throw new Error(`worker exited early (${JSON.stringify(exit)}):\n${log}`);
    const s = await connect(socket).catch(() => null);
    if (!s) return false;
    s.destroy();
    return true;
  }, { what: 'the ingest socket to accept connections' });
  return {
    child, exited, log: () => log, pid: child.pid,
    async stop(signal = 'SIGTERM') {
      if (!exit) child.kill(signal);
      return exited;
    },
  };
}

export function connect(socketPath) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

// Collects reply lines of a connection; `next()` resolves with each in order, null at EOF.
export class Replies {
  constructor(socket) {
    this.lines = [];
    this.waiters = [];
    this.ended = false;
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  push(line) {
    const w = this.waiters.shift();
    if (w) w(line); else this.lines.push(line);
  }

  next() {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  // Resolves with every remaining reply once the server closes the connection.
  async all() {
    const out = [];
    for (let line; (line = await this.next()) !== null;) out.push(line);
    return out;
  }
}

// Sends `lines` (strings without newlines) on a new connection, half-closes it,
// and resolves with every reply line the worker sent before closing.
export async function exchange(socketPath, lines) {
  const s = await connect(socketPath);
  const replies = new Replies(s);
  s.end(lines.map((l) => `${l}\n`).join(''));
  const all = await replies.all();
  s.destroy();
  return all;
}

// Bytes the worker has not yet read from its accepted connections on `socketPath`
// (ss Recv-Q of the worker's side), or null when ss shows none.
export function unreadBytes(socketPath, pid) {
  const out = execFileSync('ss', ['-xpn'], { encoding: 'utf8' });
  let total = null;
  for (const line of out.split('\n')) {
    if (!line.includes(`pid=${pid},`) || !line.includes(socketPath) || line.includes('LISTEN')) continue;
    const cols = line.trim().split(/\s+/);
    total = (total ?? 0) + Number(cols[2]);
  }
  return total;
}

// Connections the worker (`pid`) has accepted on `socketPath` and not yet closed.
export function connectionsOf(socketPath, pid) {
  const out = execFileSync('ss', ['-xpn'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`pid=${pid},`) &&
    line.includes(socketPath) && !line.includes('LISTEN')).length;
}

// Resident set size of a process in KiB.
export function rssKiB(pid) {
  const status = execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' });
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]);
}

// Keeps sending lines to the ingest socket, reconnecting whenever the worker
// is gone, with at most `window` lines unanswered. `nextLine()` returns
// { line, ...anything }; each entry ends up in exactly one of: `acked` (the
// reply was `ok` or `ok duplicate`: it must be durable), `errors` (an error
// reply), or `inDoubt` (the connection closed before its reply: it may or may
// not be committed).
// `rate` caps the lines sent per second, averaged from the start.
export class Feeder {
  constructor(socketPath, nextLine, { window = 32, retryMs = 20, rate = Infinity } = {}) {
    Object.assign(this, { socketPath, nextLine, window, retryMs, rate });
    this.startedAt = Date.now();
    this.paced = null;
    this.acked = [];
    this.errors = [];
    this.inDoubt = [];
    this.unexpected = [];
    this.sent = 0;
    this.connections = 0;
    this.stopping = false;
    this.wake = () => {};
  }

  start() {
    this.done = this.run();
    return this;
  }

  async run() {
    while (!this.stopping) {
      const s = await connect(this.socketPath).catch(() => null);
      if (!s) {
        // The worker is restarting: try again shortly (a retry loop, not a wait for a condition).
        await new Promise((r) => setTimeout(r, this.retryMs));
        continue;
      }
      this.connections++;
      await this.session(s);
    }
  }

  session(s) {
    return new Promise((resolve) => {
      const inflight = [];
      let buf = '';
      let closed = false;
      const pump = () => {
        while (!closed && !this.stopping && inflight.length < this.window) {
          if (this.sent >= (Date.now() - this.startedAt) * this.rate / 1000) {
            // Ahead of the rate: come back when the next line is due.
            if (!this.paced) {
              this.paced = setTimeout(() => { this.paced = null; pump(); },
                Math.max(1, Math.ceil(1000 / this.rate)));
            }
            break;
          }
          const entry = this.nextLine();
          inflight.push(entry);
          this.sent++;
          s.write(`${entry.line}\n`);
        }
        if (!closed && this.stopping && inflight.length === 0) s.end();
      };
      const finish = () => {
        if (closed) return;
        closed = true;
        this.inDoubt.push(...inflight.splice(0));
        s.destroy();
        resolve();
      };
      s.setEncoding('utf8');
      s.on('data', (d) => {
        buf += d;
        for (let i; (i = buf.indexOf('\n')) >= 0;) {
          const reply = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const entry = inflight.shift();
          if (!entry) this.unexpected.push(reply);
          else if (reply === 'ok' || reply === 'ok duplicate') this.acked.push(entry);
          else this.errors.push({ ...entry, reply });
        }
        pump();
      });
      s.on('end', finish);
      s.on('close', finish);
      s.on('error', finish);
      this.wake = pump;
      pump();
    });
  }

  // Stops sending; resolves once every line sent has its reply (or its connection is gone).
  async stop() {
    this.stopping = true;
    clearTimeout(this.paced);
    this.paced = null;
    this.wake();
    await this.done;
  }
}
