// The systemd units in packaging/systemd/, the alternative to supervisord:
// systemd-analyze verify accepts them (this container runs no systemd, so they
// are verified under --root against a tree holding the host's own units and
// the built binaries at their ExecStart paths); they run exactly what the
// supervisord file runs; they are hardened; and meshscope-fcgi really serves a
// pool from one listening socket on fd 0, as StandardInput=socket passes it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { TOP, BINDIR, tempDir, waitFor, alive } from '../lib/stack.mjs';
import { parseIni, run, fastcgiRequest } from './lib.mjs';

const UNITS = path.join(TOP, 'packaging', 'systemd');
const HOST_UNITS = '/lib/systemd/system';
const unit = (name) => parseIni(readFileSync(path.join(UNITS, name), 'utf8'));
const supervisor = () => parseIni(readFileSync(path.join(TOP, 'deploy', 'supervisor-meshscope.conf'),
  'utf8'), /^\s*;/);
const packaged = (text) => text.split('/usr/local/').join('/usr/');
// A program the supervisord file ships commented out (the MQTT bridge), as it
// reads once uncommented.
function commentedProgram(name) {
  const text = readFileSync(path.join(TOP, 'deploy', 'supervisor-meshscope.conf'), 'utf8');
  const start = text.indexOf(`;[program:${name}]`);
  if (start < 0) return undefined;
  const block = text.slice(start).split('\n').filter((l) => l.startsWith(';'))
    .map((l) => l.slice(1)).join('\n');
  return parseIni(block.split(/\n(?=\[)/)[0])[`program:${name}`];
}
// Where each program is found in the build tree, by installed name.
const BUILT = { 'meshscope-worker': 'worker', 'meshscope-fcgi': 'fcgi', 'meshscope-mqtt': 'mqtt' };

let dir;
before(() => { dir = tempDir('meshscope-systemd-'); });
after(() => rmSync(dir, { recursive: true, force: true }));

function unitFiles() {
  return readdirSync(UNITS).filter((f) => /\.(service|socket|target)$/.test(f));
}

// A root holding the host's units (for sysinit.target and friends), ours, and
// each ExecStart binary copied from the build, or left out with `omit`.
function makeRoot(name, { omit = [] } = {}) {
  const root = path.join(dir, name);
  mkdirSync(path.join(root, 'usr', 'bin'), { recursive: true });
  cpSync(HOST_UNITS, path.join(root, 'lib', 'systemd', 'system'), { recursive: true });
  for (const f of unitFiles()) cpSync(path.join(UNITS, f), path.join(root, 'lib', 'systemd', 'system', f));
  for (const f of unitFiles()) {
    for (const exec of unit(f).Service?.ExecStart ?? []) {
      const bin = exec.split(/\s+/)[0];
      const base = path.basename(bin);
      if (omit.includes(base)) continue;
      const built = path.join(BINDIR, BUILT[base] ?? '', base);
      assert.ok(existsSync(built), `${f} runs ${bin}, which the build does not make (${built})`);
      cpSync(built, path.join(root, bin));
    }
  }
  return root;
}

// verify also runs `man` for each Documentation=man:PAGE(N): point it at the
// tree's own man pages, laid out as man(1) expects.
function manpath() {
  const dirPath = path.join(dir, 'manpath');
  for (const page of readdirSync(path.join(TOP, 'man'))) {
    const section = page.match(/\.([1-8])$/)?.[1];
    if (!section) continue;
    mkdirSync(path.join(dirPath, `man${section}`), { recursive: true });
    cpSync(path.join(TOP, 'man', page), path.join(dirPath, `man${section}`, page));
  }
  return dirPath;
}

function verify(root, name) {
  return run('systemd-analyze', ['verify', `--root=${root}`,
    path.join(root, 'lib', 'systemd', 'system', name)], { env: { ...process.env, MANPATH: manpath() } });
}

// Every unit to verify: templates both as such and as an instance.
function verifyTargets() {
  return unitFiles().flatMap((f) => (f.includes('@.') ? [f, f.replace('@.', '@1.')] : [f]));
}

test('systemd-analyze verify accepts every unit with no warning, and their man pages exist', () => {
  const root = makeRoot('root');
  const names = verifyTargets();
  assert.ok(names.includes('meshscope-worker.service') && names.includes('meshscope-fcgi.socket') &&
    names.includes('meshscope-fcgi@1.service') && names.includes('meshscope-mqtt.service'),
  `units found: ${names}`);
  for (const name of names) {
    const r = verify(root, name);
    assert.equal(r.status, 0, `${name}: ${r.stderr}${r.stdout}`);
    assert.equal(r.stderr.trim(), '', `${name} has warnings`);
  }
});

test('systemd-analyze verify, as used here, refuses a unit whose program is missing', () => {
  const root = makeRoot('root-missing', { omit: ['meshscope-worker'] });
  const r = verify(root, 'meshscope-worker.service');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /meshscope-worker is not executable/);
});

test('the units run what the supervisord file runs, as the same users, on the same socket', () => {
  const sup = supervisor();
  const worker = unit('meshscope-worker.service').Service;
  const program = sup['program:meshscope-worker'];
  assert.deepEqual(worker.ExecStart, [packaged(program.command[0])]);
  assert.deepEqual(worker.User, program.user);

  const pool = unit('meshscope-fcgi@.service').Service;
  const fcgiProgram = sup['fcgi-program:meshscope-fcgi'];
  assert.deepEqual(pool.ExecStart, [packaged(fcgiProgram.command[0])]);
  assert.deepEqual(pool.User, fcgiProgram.user);
  assert.deepEqual(pool.StandardInput, ['socket'], 'the listening socket arrives on fd 0');
  assert.deepEqual(pool.Sockets, ['meshscope-fcgi.socket']);

  const socket = unit('meshscope-fcgi.socket').Socket;
  assert.deepEqual(socket.ListenStream, [fcgiProgram.socket[0].replace(/^unix:\/\//, '')]);
  const [owner, group] = fcgiProgram.socket_owner[0].split(':');
  assert.deepEqual([socket.SocketUser[0], socket.SocketGroup[0]], [owner, group]);
  assert.equal(parseInt(socket.SocketMode[0], 8), parseInt(fcgiProgram.socket_mode[0], 8));
  assert.deepEqual(socket.Accept, ['no'], 'one listening socket shared by the pool');

  const mqtt = unit('meshscope-mqtt.service').Service;
  const mqttProgram = commentedProgram('meshscope-mqtt');
  assert.ok(mqttProgram, 'the supervisord file has a meshscope-mqtt program');
  assert.deepEqual(mqtt.ExecStart, [packaged(mqttProgram.command[0])]);
  assert.equal(optionValue(mqtt.ExecStart[0], '--ingest-socket'), optionValue(worker.ExecStart[0], '--ingest-socket'),
    'the bridge writes to the worker\'s ingest socket');

  const site = readFileSync(path.join(TOP, 'nginx', 'meshscope-site.conf'), 'utf8');
  assert.ok(site.includes(`server unix:${socket.ListenStream[0]};`), 'nginx connects to the socket unit');
});

function optionValue(exec, flag) {
  const words = exec.split(/\s+/);
  const i = words.indexOf(flag);
  return i >= 0 ? words[i + 1] : undefined;
}

test('each service is hardened and may write only where it must', () => {
  const worker = unit('meshscope-worker.service').Service;
  const pool = unit('meshscope-fcgi@.service').Service;
  for (const [name, s] of [['worker', worker], ['pool', pool]]) {
    assert.deepEqual(s.ProtectSystem, ['strict'], name);
    assert.deepEqual(s.NoNewPrivileges, ['yes'], name);
    assert.deepEqual(s.CapabilityBoundingSet, [''], `${name} keeps no capability`);
    assert.deepEqual(s.PrivateNetwork, ['yes'], `${name} needs unix sockets only`);
  }
  const exec = worker.ExecStart[0];
  const wanted = new Set([path.dirname(optionValue(exec, '--db')),
    path.dirname(optionValue(exec, '--ingest-socket'))]);
  const control = optionValue(exec, '--control-socket');
  if (control) wanted.add(path.dirname(control));
  assert.deepEqual(new Set(worker.ReadWritePaths.join(' ').split(/\s+/)), wanted);

  // The bridge: a transient user in the ingest group, writing only the
  // runtime directory that holds its liveness file.
  const mqtt = unit('meshscope-mqtt.service').Service;
  assert.deepEqual(mqtt.ProtectSystem, ['strict']);
  assert.deepEqual(mqtt.NoNewPrivileges, ['yes']);
  assert.deepEqual(mqtt.CapabilityBoundingSet, ['']);
  assert.deepEqual(mqtt.DynamicUser, ['yes']);
  assert.deepEqual(mqtt.SupplementaryGroups, ['meshscope-ingest']);
  assert.equal(mqtt.ReadWritePaths, undefined);
  assert.deepEqual(mqtt.RuntimeDirectory.map((d) => `/run/${d}`),
    [path.dirname(optionValue(mqtt.ExecStart[0], '--liveness-file'))]);

  const poolExec = pool.ExecStart[0];
  assert.deepEqual(pool.ReadWritePaths, [path.dirname(optionValue(poolExec, '--stats-file'))],
    'the responders write only their shared statistics');
  assert.ok(pool.ReadOnlyPaths.join(' ').split(/\s+/).includes(path.dirname(optionValue(poolExec, '--db'))),
    'the database directory is read-only to the responders');
});

test('systemd-analyze security rates every service SAFE (exposure under 2.0)', () => {
  const root = makeRoot('root-security');
  for (const name of ['meshscope-worker.service', 'meshscope-fcgi@1.service', 'meshscope-mqtt.service']) {
    const r = run('systemd-analyze', ['security', '--offline=yes', `--root=${root}`, name]);
    const m = r.stdout.match(/Overall exposure level for \S+: ([\d.]+)/);
    assert.ok(m, `${name}: ${r.stdout}${r.stderr}`);
    assert.ok(Number(m[1]) < 2, `${name} exposure ${m[1]}`);
  }
});

// StandardInput=socket with Accept=no: each instance gets the one listening
// socket as fd 0 and its stdout elsewhere (the journal). Emulated with a
// launcher that binds the socket and starts the unit's command line twice.
const LAUNCHER = `
import os, socket, subprocess, sys
path, log, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(128)
out = open(log, 'ab')
kids = [subprocess.Popen(sys.argv[4:], stdin=s.fileno(), stdout=out, stderr=out) for _ in range(n)]
print(' '.join(str(k.pid) for k in kids), flush=True)
for k in kids:
    k.wait()
`;

test('two responders sharing one listening socket on fd 0 serve FastCGI as one pool', async (t) => {
  const db = path.join(dir, 'pool.db');
  execFileSync(path.join(BINDIR, 'worker', 'meshscope-worker'), ['--db', db, '--run-once'],
    { stdio: 'pipe' });
  const sock = path.join(dir, 'fcgi.sock');
  const log = path.join(dir, 'pool.log');
  const exec = unit('meshscope-fcgi@.service').Service.ExecStart[0].split(/\s+/);
  exec[0] = path.join(BINDIR, 'fcgi', 'meshscope-fcgi');
  exec[exec.indexOf('--db') + 1] = db;
  exec[exec.indexOf('--stats-file') + 1] = path.join(dir, 'fcgi.stats');
  const launcher = spawn('python3', ['-c', LAUNCHER, sock, log, '2', ...exec],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const pids = await new Promise((resolve) => launcher.stdout.once('data', (d) => resolve(
    String(d).trim().split(' ').map(Number))));
  t.after(async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
    await waitFor(() => pids.every((pid) => !alive(pid)), { what: 'the responders to stop' });
  });

  const params = (uri) => ({ REQUEST_METHOD: 'GET', REQUEST_URI: uri, SCRIPT_NAME: uri,
    QUERY_STRING: '', SERVER_PROTOCOL: 'HTTP/1.1', GATEWAY_INTERFACE: 'CGI/1.1' });
  const healthz = await fastcgiRequest(sock, params('/api/healthz'));
  assert.match(healthz, /^Status: 200/m);
  assert.match(healthz, /"ready": ?true/);
  // Both members answer from the same socket and publish into one pool.
  await waitFor(async () => {
    const perf = await fastcgiRequest(sock, params('/api/perf'));
    const body = JSON.parse(perf.slice(perf.indexOf('\r\n\r\n') + 4));
    return body.responders?.length === 2 && body.responders.every((r) => r.requests > 0);
  }, { what: 'both responders to have answered', timeoutMs: 20000 });
  assert.equal(readFileSync(log, 'utf8').includes('Status:'), false,
    'nothing meant for the socket went to stdout');
});
