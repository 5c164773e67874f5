// The Debian package end to end, run by `make check-long` because it changes
// the machine: build meshscope_*.deb from a clean copy of the tree (lintian
// must be clean), `apt-get install` it, run the system supervisord (its own
// /etc/supervisor/supervisord.conf, which includes the installed conf.d file)
// and nginx with the installed site on a test port, check /api/healthz, a
// write by the worker and EACCES for the responders' user, then remove (the
// data stays) and purge (nothing of the package stays). The after() hook
// purges whatever a failure left installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { TOP, freePort, tempDir, waitFor } from '../lib/stack.mjs';
import { observation } from '../lib/ingest.mjs';

const SUPERVISORD_CONF = '/etc/supervisor/supervisord.conf';
const PROGRAMS = '/etc/supervisor/conf.d/meshscope.conf';
const SITE = '/etc/nginx/sites-available/meshscope';
const DATA_DIRS = ['/var/lib/meshscope', '/var/log/meshscope', '/run/meshscope'];
const USERS = ['meshscope', 'meshscope-ro'];
const GROUPS = ['meshscope', 'meshscope-ro', 'meshscope-ingest'];
const apt = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };

let dir, deb, port, nginx, nginxExited, files = [], usersBefore, supervisordStarted = false;

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts });
const installed = () => spawnSync('dpkg-query', ['-W', '-f=${Status}', 'meshscope'],
  { encoding: 'utf8' }).stdout.includes('install ok installed');
const exists = (kind, name) => spawnSync('getent', [kind, name]).status === 0;
const ctl = (...args) => spawnSync('supervisorctl', ['-c', SUPERVISORD_CONF, ...args], { encoding: 'utf8' });

function asUser(user, program, ...args) {
  return sh('runuser', ['-u', user, '--', process.execPath, '-e', program, '--', ...args], { cwd: '/' }).trim();
}

// The value of `flag` in the installed supervisord program's command line.
function programOption(section, flag) {
  const text = readFileSync(PROGRAMS, 'utf8');
  const body = text.split(`[${section}]`)[1].split('\n[')[0];
  const command = body.match(/^command=(.*)$/m)[1].split(/\s+/);
  return command[command.indexOf(flag) + 1];
}

async function getJson(p) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json() };
}

async function stopServices() {
  if (supervisordStarted) {
    ctl('shutdown');
    await waitFor(() => ctl('pid').status !== 0, { what: 'supervisord to exit', timeoutMs: 30000 });
    supervisordStarted = false;
  }
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGQUIT');
    await nginxExited;
  }
}

before(() => {
  assert.equal(process.getuid(), 0, 'installs a package: run as root');
  assert.ok(!installed(), 'meshscope is already installed on this machine; this suite installs and purges it');
  for (const d of DATA_DIRS) assert.ok(!existsSync(d), `${d} exists: purge would delete someone's data`);
  assert.ok(ctl('pid').status !== 0, 'a system supervisord already runs');
  usersBefore = USERS.filter((u) => exists('passwd', u));
  dir = tempDir('meshscope-package-');
});

after(async () => {
  await stopServices();
  if (installed() || spawnSync('dpkg-query', ['-W', 'meshscope']).status === 0) {
    spawnSync('apt-get', ['purge', '-y', '-qq', 'meshscope'], { env: apt, stdio: 'inherit' });
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('scripts/package builds meshscope_VERSION_amd64.deb from a clean copy of the tree', () => {
  const out = path.join(dir, 'out');
  sh(path.join(TOP, 'scripts', 'package'), ['--no-check', '--no-lintian', '--out', out],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const debs = readdirSync(out).filter((f) => /^meshscope_[^_]+_amd64\.deb$/.test(f));
  assert.equal(debs.length, 1, `packages: ${readdirSync(out)}`);
  deb = path.join(out, debs[0]);
});

test('lintian reports no error and no warning', (t) => {
  const r = spawnSync('lintian', ['--display-info', '--fail-on', 'error,warning',
    ...readdirSync(path.dirname(deb)).filter((f) => f.endsWith('.changes')).map((f) => path.join(path.dirname(deb), f))],
  { encoding: 'utf8' });
  t.diagnostic(`lintian:\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('apt-get install sets up the users, directories and files', () => {
  sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', deb], { env: apt, stdio: 'pipe' });
  assert.ok(installed());
  files = sh('dpkg-query', ['-L', 'meshscope']).split('\n').filter(Boolean);
  for (const f of ['/usr/bin/meshscope-worker', '/usr/bin/meshscope-fcgi', '/usr/bin/meshscope-ingest',
    '/usr/bin/meshscope-mqtt', '/usr/share/man/man8/meshscope-worker.8.gz', '/lib/systemd/system/meshscope-mqtt.service',
    PROGRAMS, SITE, '/usr/lib/tmpfiles.d/meshscope.conf', '/etc/logrotate.d/meshscope',
    '/usr/share/meshscope/prometheus/meshscope-rules.yml',
    '/usr/share/meshscope/grafana/meshscope-dashboard.json',
    '/lib/systemd/system/meshscope-worker.service', '/lib/systemd/system/meshscope-fcgi.socket']) {
    assert.ok(files.includes(f) && existsSync(f), `${f} installed`);
  }
  assert.ok(!existsSync('/etc/nginx/sites-enabled/meshscope'), 'enabling the site is the admin\'s step');
  for (const u of USERS) assert.ok(exists('passwd', u), `user ${u}`);
  const mode = (p) => (statSync(p).mode & 0o7777).toString(8);
  assert.equal(mode('/var/lib/meshscope'), '750');
  assert.equal(mode('/var/lib/meshscope/meshscope.db'), '640');
  assert.equal(sh('stat', ['-c', '%U:%G', '/var/lib/meshscope/meshscope.db']).trim(), 'meshscope:meshscope');
  assert.ok(existsSync('/run/meshscope'), 'tmpfiles.d made the runtime directory');
  const lr = spawnSync('logrotate', ['-d', '/etc/logrotate.d/meshscope'], { encoding: 'utf8' });
  assert.equal(lr.status, 0, `logrotate accepts the file: ${lr.stderr}`);
});

test('the system supervisord and nginx run the installed files; /api/healthz answers ready', async () => {
  port = await freePort();
  // The installed site with only its port changed, in the system nginx's
  // main configuration reduced to what a test may run beside other servers.
  const site = readFileSync(SITE, 'utf8');
  assert.match(site, /listen 80;/);
  writeFileSync(path.join(dir, 'site.conf'), site.replace('listen 80;', `listen 127.0.0.1:${port};`));
  mkdirSync(path.join(dir, 'nginx-tmp'));
  writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
worker_processes 1;
user www-data;
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
  include ${dir}/site.conf;
}
`);
  const check = spawnSync('nginx', ['-t', '-q', '-c', path.join(dir, 'nginx.conf')], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  nginx = spawn('nginx', ['-e', 'stderr', '-c', path.join(dir, 'nginx.conf')], { stdio: 'inherit' });
  nginxExited = new Promise((r) => nginx.on('exit', r));

  sh('supervisord', ['-c', SUPERVISORD_CONF]);
  supervisordStarted = true;
  await waitFor(async () => {
    const { status, body } = await getJson('/api/healthz');
    return status === 200 && body.ready === true;
  }, { timeoutMs: 30000, what: `the installed stack to report ready\n${ctl('status').stdout}` });
  // RUNNING once past startsecs.
  await waitFor(() => {
    const status = ctl('status').stdout;
    return /meshscope-worker\s+RUNNING/.test(status) &&
      (status.match(/meshscope-fcgi:meshscope-fcgi_\d+\s+RUNNING/g) ?? []).length >= 1;
  }, { what: 'the worker and the pool RUNNING under supervisord' });
});

test('the worker stores what a member of meshscope-ingest sends', async () => {
  const socket = programOption('program:meshscope-worker', '--ingest-socket');
  const line = observation({ hash: 'pkg-test-1', timestamp: Math.floor(Date.now() / 1000) });
  const reply = sh('runuser', ['-u', 'meshscope', '--', '/usr/bin/meshscope-ingest', 'send', '--socket', socket],
    { input: `${line}\n` });
  assert.match(reply, /sent 1 lines: 1 ok, 0 errors/);
  await waitFor(async () => (await getJson('/api/stats')).body.transmissions === 1,
    { what: 'the stored line to show in /api/stats' });
});

test('an operator steers the worker through the installed control socket', () => {
  const socket = programOption('program:meshscope-worker', '--control-socket');
  const r = spawnSync('/usr/bin/meshscope-worker', ['ctl', '--socket', socket, '--json', 'status'],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).ok, true);
  const denied = spawnSync('runuser', ['-u', 'meshscope-ro', '--', '/usr/bin/meshscope-worker', 'ctl',
    '--socket', socket, 'status'], { encoding: 'utf8' });
  assert.equal(denied.status, 2, 'the responders\' user cannot reach it');
});

test('the responders\' user gets EACCES writing the database or connecting to ingest', () => {
  const db = '/var/lib/meshscope/meshscope.db';
  const openWrite = `const fs = require('fs'); for (const f of process.argv.slice(1)) {
    try { fs.closeSync(fs.openSync(f, 'r+')); console.log('ok'); } catch (e) { console.log(e.code); } }`;
  assert.deepEqual(asUser('meshscope-ro', openWrite, db, `${db}-wal`, `${db}-shm`).split('\n'),
    ['EACCES', 'EACCES', 'EACCES']);
  const create = `try { require('fs').writeFileSync(process.argv[1], 'x'); console.log('ok'); }
    catch (e) { console.log(e.code); }`;
  assert.equal(asUser('meshscope-ro', create, '/var/lib/meshscope/new.db'), 'EACCES');
  const socket = programOption('program:meshscope-worker', '--ingest-socket');
  const connect = `const s = require('net').createConnection(process.argv[1]);
    s.on('connect', () => { console.log('connected'); s.destroy(); }); s.on('error', (e) => console.log(e.code));`;
  assert.equal(asUser('meshscope-ro', connect, socket), 'EACCES');
  // The responders really run as that user.
  const pid = ctl('pid', 'meshscope-fcgi:meshscope-fcgi_00').stdout.trim();
  assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${sh('id', ['-u', 'meshscope-ro']).trim()}\\s`, 'm'));
});

test('apt-get remove keeps the database, the logs and the configuration', async () => {
  await stopServices();
  sh('apt-get', ['remove', '-y', '-qq', 'meshscope'], { env: apt, stdio: 'pipe' });
  assert.ok(!existsSync('/usr/bin/meshscope-worker'));
  assert.ok(existsSync('/var/lib/meshscope/meshscope.db'), 'the database stays');
  assert.ok(existsSync(PROGRAMS) && existsSync(SITE), 'conffiles stay until purge');
  for (const u of USERS) assert.ok(exists('passwd', u), `user ${u} stays`);
});

test('apt-get purge leaves nothing of the package: files, data, sockets, accounts it created', () => {
  sh('apt-get', ['purge', '-y', '-qq', 'meshscope'], { env: apt, stdio: 'pipe' });
  assert.notEqual(spawnSync('dpkg-query', ['-W', 'meshscope']).status, 0, 'dpkg forgot the package');
  const shared = new Set(['/', '/etc', '/usr', '/lib']);
  const left = files.filter((f) => !shared.has(f) && existsSync(f) && !statSync(f).isDirectory());
  assert.deepEqual(left, [], 'no file of the package remains');
  for (const d of DATA_DIRS) assert.ok(!existsSync(d), `${d} removed`);
  for (const d of ['/usr/share/meshscope', '/usr/share/doc/meshscope']) assert.ok(!existsSync(d), `${d} removed`);
  // Accounts: gone if the package made them; an administrator's own stay.
  for (const u of USERS) {
    assert.equal(exists('passwd', u), usersBefore.includes(u), `user ${u}`);
  }
  if (usersBefore.length === 0) for (const g of GROUPS) assert.ok(!exists('group', g), `group ${g} removed`);
  const procs = spawnSync('pgrep', ['-f', '/usr/bin/meshscope-']).stdout?.toString().trim();
  assert.equal(procs, '', 'no meshscope process is left running');
});
