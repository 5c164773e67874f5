// Least privilege: the PRODUCTION configuration, run for real. deploy/setup-users.sh creates the users and directories (into a temp
// dir), deploy/supervisor-meshscope.conf and nginx/meshscope-site.conf are
// rendered with only their absolute paths and port replaced, and the tests
// prove at the operating-system level that the responders' user can read the
// database but not write it, and that nginx reaches the pool only through its
// group.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync,
  readdirSync } from 'node:fs';
import path from 'node:path';
import { TOP, BINDIR, freePort, tempDir, waitFor, alive } from '../lib/stack.mjs';
import { exchange, observation } from '../lib/ingest.mjs';

const isRoot = process.getuid() === 0;
const WORKER_USER = 'meshscope';
const READER_USER = 'meshscope-ro';
const WEB_USER = 'www-data';

let dir, state, run, logs, db, port, url, supervisord, exited;

function render(text, replacements) {
  for (const [from, to] of replacements) {
    assert.ok(text.includes(from), `production config no longer mentions ${from}`);
    text = text.split(from).join(to);
  }
  return text;
}

function ctl(...args) {
  const r = spawnSync('supervisorctl', ['-c', path.join(dir, 'supervisord.conf'), ...args],
    { encoding: 'utf8' });
  return r.stdout;
}

function pids() {
  const out = {};
  for (const line of ctl('status').split('\n')) {
    const m = line.match(/^(\S+)\s+RUNNING\s+pid (\d+)/);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

function idOf(flag, name) {
  return Number(execFileSync('id', [flag, name], { encoding: 'utf8' }));
}

// Runs a small node program as `user` with that user's groups (runuser uses
// initgroups, as supervisord does), returning its stdout.
function asUser(user, program, ...args) {
  return execFileSync('runuser', ['-u', user, '--', process.execPath, '-e', program, '--', ...args],
    { encoding: 'utf8', cwd: '/' }).trim();
}

// What an fs operation by `user` ends in: 'ok' or the errno code.
function tryAs(user, op, file) {
  const ops = {
    openWrite: "fs.closeSync(fs.openSync(f, 'r+'))",
    openRead: "fs.closeSync(fs.openSync(f, 'r'))",
    create: "fs.writeFileSync(f, 'x')",
    unlink: 'fs.unlinkSync(f)',
    rename: "fs.renameSync(f, f + '.moved')",
    chmod: 'fs.chmodSync(f, 0o666)',
  };
  return asUser(user, `const fs = require('fs'); const f = process.argv[1];
    try { ${ops[op]}; console.log('ok'); } catch (e) { console.log(e.code); }`, file);
}

function connectAs(user, socketPath) {
  return asUser(user, `const s = require('net').createConnection(process.argv[1]);
    s.on('connect', () => { console.log('connected'); s.destroy(); });
    s.on('error', (e) => console.log(e.code));`, socketPath);
}

function procIds(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const uids = status.match(/^Uid:\s+(.*)$/m)[1].split(/\s+/).map(Number);
  const gids = status.match(/^Gid:\s+(.*)$/m)[1].split(/\s+/).map(Number);
  const groups = status.match(/^Groups:\s*(.*)$/m)[1].split(/\s+/).filter(Boolean).map(Number);
  return { uids, gids, groups };
}

async function getJson(p) {
  const res = await fetch(`${url}${p}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json() };
}

before(async () => {
  if (!isRoot) return;
  dir = tempDir('meshscope-prod-');
  state = path.join(dir, 'state');
  run = path.join(dir, 'run');
  logs = path.join(dir, 'log');
  db = path.join(state, 'meshscope.db');
  mkdirSync(state);
  // A legacy database, as an operator would copy in: the worker upgrades it
  // and backfills while the tests read.
  execFileSync(path.join(TOP, 'scripts', 'gen-demo-db'), [db, '--transmissions', '20000',
    '--observations', '200000'], { stdio: 'pipe' });
  execFileSync(path.join(TOP, 'deploy', 'setup-users.sh'), ['--state-dir', state, '--run-dir', run,
    '--log-dir', logs, '--no-tmpfiles'], { stdio: 'pipe' });

  const www = path.join(dir, 'www');
  cpSync(path.join(TOP, 'www'), www, { recursive: true });
  rmSync(path.join(www, 'local.mk'), { force: true });
  execFileSync('chmod', ['-R', 'a+rX', www]);

  port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const paths = [
    ['/usr/local/bin/meshscope-worker', path.join(BINDIR, 'worker', 'meshscope-worker')],
    ['/usr/local/bin/meshscope-fcgi', path.join(BINDIR, 'fcgi', 'meshscope-fcgi')],
    ['/var/lib/meshscope/', `${state}/`],
    ['/run/meshscope/', `${run}/`],
    ['/var/log/meshscope/', `${logs}/`],
  ];
  const program = render(readFileSync(path.join(TOP, 'deploy', 'supervisor-meshscope.conf'), 'utf8'),
    paths);
  writeFileSync(path.join(dir, 'meshscope.conf'), program);
  const site = render(readFileSync(path.join(TOP, 'nginx', 'meshscope-site.conf'), 'utf8'), [
    ['listen 80;', `listen 127.0.0.1:${port};`],
    ['/run/meshscope/', `${run}/`],
    ['/usr/local/share/meshscope/www', www],
    ['/usr/local/share/meshscope/nginx/', `${TOP}/nginx/`],
    ['/var/lib/nginx/meshscope-healthz', `${dir}/nginx-tmp/healthz`],
  ]);
  writeFileSync(path.join(dir, 'meshscope-site.conf'), site);
  mkdirSync(path.join(dir, 'nginx-tmp'));
  writeFileSync(path.join(dir, 'nginx.conf'), `# the system nginx's main config, reduced
daemon off;
worker_processes 1;
user ${WEB_USER};
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  client_body_temp_path ${dir}/nginx-tmp/body;
  fastcgi_temp_path ${dir}/nginx-tmp/fastcgi;
  proxy_temp_path ${dir}/nginx-tmp/proxy;
  uwsgi_temp_path ${dir}/nginx-tmp/uwsgi;
  scgi_temp_path ${dir}/nginx-tmp/scgi;
  include ${dir}/meshscope-site.conf;
}
`);
  writeFileSync(path.join(dir, 'supervisord.conf'), `[unix_http_server]
file=${dir}/supervisor.sock
chmod=0700
[supervisord]
nodaemon=true
logfile=${dir}/supervisord.log
pidfile=${dir}/supervisord.pid
childlogdir=${dir}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://${dir}/supervisor.sock
[program:nginx]
command=/usr/sbin/nginx -e stderr -c ${dir}/nginx.conf
stopsignal=QUIT
redirect_stderr=true
stdout_logfile=${dir}/nginx.log
[include]
files=${dir}/meshscope.conf
`);
  supervisord = spawn('supervisord', ['-c', path.join(dir, 'supervisord.conf')], { stdio: 'ignore' });
  exited = new Promise((resolve) => supervisord.on('exit', resolve));
  await waitFor(async () => {
    if (supervisord.exitCode !== null) throw new Error('supervisord exited');
    const { status, body } = await getJson('/api/healthz');
    return status === 200 && body.ready === true;
  }, { timeoutMs: 30000, what: 'the production stack to report ready' });
  await waitFor(() => Object.keys(pids()).length >= 6,
    { timeoutMs: 30000, what: 'nginx, the worker and four responders RUNNING' });
});

after(async () => {
  if (!supervisord) return;
  if (supervisord.exitCode === null) {
    supervisord.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

test('responders run as meshscope-ro without the owner, web or ingest groups; the worker as meshscope',
  { skip: !isRoot && 'needs root to create users' }, () => {
    const p = pids();
    const responders = Object.entries(p).filter(([name]) => name.startsWith('meshscope-fcgi:'));
    assert.equal(responders.length, 4, JSON.stringify(p));
    const ro = idOf('-u', READER_USER);
    const forbidden = [idOf('-g', WORKER_USER), 0];
    for (const g of [WEB_USER, 'meshscope-ingest']) forbidden.push(Number(execFileSync('getent', ['group', g], { encoding: 'utf8' }).split(':')[2]));
    const readGroup = idOf('-g', WORKER_USER);
    for (const [name, pid] of responders) {
      const ids = procIds(pid);
      assert.deepEqual(ids.uids, [ro, ro, ro, ro], `${name} uids`);
      for (const g of ids.gids) assert.ok(!forbidden.includes(g), `${name} runs with gid ${g}`);
      // The owner's group appears only as a supplementary group, for reading.
      assert.ok(ids.groups.includes(readGroup), `${name} groups ${ids.groups}`);
      for (const g of ids.groups) {
        assert.ok(g === readGroup || !forbidden.includes(g), `${name} is in group ${g}`);
      }
    }
    const worker = procIds(p['meshscope-worker']);
    const owner = idOf('-u', WORKER_USER);
    assert.deepEqual(worker.uids, [owner, owner, owner, owner]);
  });

test('nginx reaches the pool socket through its group; nobody else can connect',
  { skip: !isRoot && 'needs root to create users' }, async () => {
    const sock = path.join(run, 'fcgi.sock');
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660, `mode ${(st.mode & 0o777).toString(8)}`);
    assert.equal(st.uid, 0);
    assert.equal(st.gid, idOf('-g', WEB_USER));
    assert.equal(connectAs(WEB_USER, sock), 'connected');
    assert.equal(connectAs('nobody', sock), 'EACCES');
    // nginx's workers (www-data) are what the browser reaches it through.
    const { status, body } = await getJson('/api/healthz');
    assert.equal(status, 200);
    assert.equal(body.ready, true);
    // The production site does not advertise nginx's version.
    const page = await fetch(`${url}/`);
    assert.equal(page.headers.get('server'), 'nginx');
  });

test('the pool shares its statistics from the one directory the responders may write',
  { skip: !isRoot && 'needs root to create users' }, async () => {
    const { status, body } = await getJson('/api/perf');
    assert.equal(status, 200);
    assert.equal(body.pool.shared, true, JSON.stringify(body.pool));
    const st = statSync(path.join(run, 'pool'));
    assert.equal(st.mode & 0o7777, 0o2750);
    assert.equal(st.uid, idOf('-u', READER_USER));
    // The worker reads the readers' latency from the stats file, and cannot write it.
    const stats = path.join(run, 'pool', 'fcgi.stats');
    assert.equal(statSync(stats).mode & 0o777, 0o640);
    assert.equal(tryAs(WORKER_USER, 'openRead', stats), 'ok');
    assert.equal(tryAs(WORKER_USER, 'openWrite', stats), 'EACCES');
    assert.equal(tryAs(WORKER_USER, 'create', path.join(run, 'pool', 'evil.stats')), 'EACCES');
    assert.equal(tryAs('nobody', 'openRead', stats), 'EACCES');
    assert.equal(tryAs(READER_USER, 'create', path.join(run, 'evil.sock')), 'EACCES');
    assert.equal(tryAs(READER_USER, 'unlink', path.join(run, 'fcgi.sock')), 'EACCES');
    assert.equal(tryAs(READER_USER, 'unlink', path.join(run, 'worker', 'ingest.sock')), 'EACCES');
  });

test('the runtime directory is root\'s: only the worker\'s and the pool\'s own subdirectories are theirs',
  { skip: !isRoot && 'needs root to create users' }, () => {
    const top = statSync(run);
    assert.deepEqual([top.uid, top.gid, top.mode & 0o777], [0, 0, 0o755]);
    const worker = statSync(path.join(run, 'worker'));
    assert.deepEqual([worker.uid, worker.gid, worker.mode & 0o777],
      [idOf('-u', WORKER_USER), Number(execFileSync('getent', ['group', 'meshscope-ingest'], { encoding: 'utf8' }).split(':')[2]), 0o750]);
    for (const user of [WORKER_USER, READER_USER]) {
      assert.equal(tryAs(user, 'create', path.join(run, 'evil.sock')), 'EACCES', user);
      assert.equal(tryAs(user, 'unlink', path.join(run, 'fcgi.sock')), 'EACCES', user);
      assert.equal(tryAs(user, 'rename', path.join(run, 'pool')), 'EACCES', user);
      assert.equal(tryAs(user, 'rename', path.join(run, 'worker')), 'EACCES', user);
    }
    // The worker's directory is closed to the responders: they cannot even reach the ingest socket.
    assert.equal(tryAs(READER_USER, 'openRead', path.join(run, 'worker', 'ingest.sock')), 'EACCES');
  });

// supervisord (root) creates the pool socket and then chowns and chmods that
// path, following symlinks. With the socket in a directory another user can
// write, that user swaps a symlink in while the pool restarts and root changes
// whatever it points at. The worker's user parses untrusted input: it tries,
// through six restarts, to aim the chown/chmod at a root-owned 0600 file.
test('the worker\'s user cannot turn a pool restart into a chown of a root file (symlink swap race)',
  { skip: !isRoot && 'needs root to create users', timeout: 120000 }, async () => {
    const target = path.join(dir, 'root-secret');
    writeFileSync(target, 'root only\n', { mode: 0o600 });
    execFileSync('chmod', ['0711', dir]); // reachable by name, as /etc/shadow's directory is
    const sock = path.join(run, 'fcgi.sock');
    const stopFile = path.join(dir, 'stop-attacker');
    const attacker = spawn('runuser', ['-u', WORKER_USER, '--', process.execPath, '-e', `
      const fs = require('fs');
      const [sock, target, stop] = process.argv.slice(1);
      const seen = {};
      let swapped = 0;
      while (!fs.existsSync(stop)) {
        try { fs.unlinkSync(sock); } catch (e) { seen['unlink ' + e.code] = 1; }
        try { fs.symlinkSync(target, sock); swapped++; } catch (e) { seen['symlink ' + e.code] = 1; }
      }
      console.log(JSON.stringify({ swapped, seen }));`, '--', sock, target, stopFile],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    attacker.stdout.on('data', (d) => { out += d; });
    const done = new Promise((resolve) => attacker.on('exit', resolve));
    try {
      for (let i = 0; i < 6; i++) {
        ctl('restart', 'meshscope-fcgi:*');
        const st = statSync(target);
        assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o600], `after restart ${i + 1}`);
      }
    } finally {
      writeFileSync(stopFile, '');
      await done;
    }
    const result = JSON.parse(out);
    assert.equal(result.swapped, 0, `the attacker placed ${result.swapped} symlinks: ${out}`);
    // EEXIST while the socket is there, ENOENT/EACCES while the pool restarts: never a success.
    for (const seen of Object.keys(result.seen)) assert.match(seen, / (EACCES|EEXIST|ENOENT)$/, out);
    const st = statSync(target);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o600]);
    // The pool came back on its own socket.
    assert.ok(statSync(sock).isSocket());
    await waitFor(async () => (await getJson('/api/healthz')).status === 200,
      { what: 'the restarted pool to answer' });
  });

test('the responders cannot write through the ingest socket',
  { skip: !isRoot && 'needs root to create users' }, () => {
    const sock = path.join(run, 'worker', 'ingest.sock');
    assert.ok(existsSync(sock), 'the worker serves ingest');
    assert.equal(connectAs(READER_USER, sock), 'EACCES');
    assert.equal(connectAs(WORKER_USER, sock), 'connected');
  });

test('the responders\' user cannot write, replace or create database files at the OS level',
  { skip: !isRoot && 'needs root to create users' }, () => {
    const files = readdirSync(state).map((f) => path.join(state, f));
    for (const suffix of ['', '-wal', '-shm']) assert.ok(files.includes(db + suffix), `${db}${suffix} exists`);
    for (const f of files) {
      assert.equal(tryAs(READER_USER, 'openRead', f), 'ok', `${f} readable`);
      assert.equal(tryAs(READER_USER, 'openWrite', f), 'EACCES', `${f} opened for writing`);
      assert.equal(tryAs(READER_USER, 'unlink', f), 'EACCES', `${f} unlinked`);
      assert.equal(tryAs(READER_USER, 'rename', f), 'EACCES', `${f} renamed`);
      assert.equal(tryAs(READER_USER, 'chmod', f), 'EPERM', `${f} chmod`);
    }
    assert.equal(tryAs(READER_USER, 'create', path.join(state, 'evil.db')), 'EACCES');
    // SQLite itself, without query_only, as the responders' user.
    const write = spawnSync('runuser', ['-u', READER_USER, '--', 'sqlite3', db,
      "INSERT INTO _async_migrations(name, status) VALUES ('evil', 'done')"], { encoding: 'utf8' });
    assert.notEqual(write.status, 0);
    assert.match(write.stderr, /readonly database|unable to open/);
    // Users outside the group cannot even read.
    assert.equal(tryAs('nobody', 'openRead', db), 'EACCES');
    assert.equal(tryAs(WEB_USER, 'openRead', db), 'EACCES');
  });

test('the read-only responders see the worker\'s writes while it runs',
  { skip: !isRoot && 'needs root to create users' }, async () => {
    const before = await getJson('/api/stats');
    assert.equal(before.status, 200, JSON.stringify(before.body));
    const lines = [];
    for (let i = 0; i < 50; i++) {
      lines.push(observation({ hash: `lp-${process.pid}-${i}`, timestamp: 1770000000 + i }));
    }
    const replies = await exchange(path.join(run, 'worker', 'ingest.sock'), lines);
    assert.equal(replies.length, 50);
    for (const r of replies) assert.equal(r, 'ok');
    const counted = (b) => b.transmissions;
    await waitFor(async () => {
      const now = await getJson('/api/stats');
      return now.status === 200 && counted(now.body) >= counted(before.body) + 50;
    }, { timeoutMs: 5000, what: '/api/stats to count the ingested transmissions' });
    for (let i = 0; i < 20; i++) {
      const { status } = await getJson('/api/packets?limit=5');
      assert.equal(status, 200);
    }
  });

test('the read-only responders still read after the worker stops (WAL files persist)',
  { skip: !isRoot && 'needs root to create users' }, async () => {
    // With the responders gone the worker's connection is the last to close,
    // which by SQLite's default deletes -wal and -shm.
    const worker = pids()['meshscope-worker'];
    ctl('stop', 'meshscope-fcgi:*');
    ctl('stop', 'meshscope-worker');
    await waitFor(() => !alive(worker), { what: 'the worker to exit' });
    assert.ok(existsSync(`${db}-wal`) && existsSync(`${db}-shm`), 'the worker left -wal and -shm');
    // Fresh responders open the database with no writer around.
    ctl('start', 'meshscope-fcgi:*');
    for (const p of ['/api/healthz', '/api/stats', '/api/packets?limit=3']) {
      const { status, body } = await getJson(p);
      assert.equal(status, 200, `${p}: ${JSON.stringify(body)}`);
    }
    assert.equal((await getJson('/api/healthz')).body.ready, true);
    ctl('start', 'meshscope-worker');
  });
