// The real stack end to end: supervisord starts nginx, the responder pool and
// the worker; nginx serves the page and routes /api/ to the pool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startStack, waitFor, alive, BINDIR } from '../lib/stack.mjs';

let stack;
before(async () => {
  // No database file yet: the worker creates it, as on a fresh install.
  stack = await startStack({ numprocs: 2 });
});
after(async () => {
  await stack?.stop();
});

test('nginx serves the frontend page with its security headers', async () => {
  const res = await fetch(`${stack.url}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.equal(res.headers.get('content-security-policy'), "default-src 'self'; frame-ancestors 'none'");
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.match(await res.text(), /<title>meshscope/);
});

test('healthz through nginx reports ready once the worker created the schema', async () => {
  const body = await waitFor(async () => {
    const res = await fetch(`${stack.url}/api/healthz`);
    const json = await res.json();
    return res.status === 200 && json.ready === true ? json : null;
  }, { what: 'ready:true' });
  assert.ok(Array.isArray(body.async_migrations));
  assert.equal(typeof body.async_migrations_running, 'boolean');
});

test('unknown API paths get a JSON 404 from a responder', async () => {
  const res = await fetch(`${stack.url}/api/no-such-thing`);
  assert.equal(res.status, 404);
  assert.match(res.headers.get('content-type'), /application\/json/);
  assert.equal(typeof (await res.json()).error, 'string');
});

test('the worker answers `meshscope-worker ctl` on the control socket beside the ingest socket', async () => {
  const worker = path.join(BINDIR, 'worker', 'meshscope-worker');
  const socket = path.join(stack.dir, 'control.sock');
  const res = spawnSync(worker, ['ctl', '--socket', socket, '--json', 'status'], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const reply = JSON.parse(res.stdout);
  assert.equal(reply.ok, true);
  assert.ok(Array.isArray(reply.jobs), res.stdout);
  // Without --socket (and no $MESHSCOPE_CONTROL_SOCKET), ctl goes to the production path.
  const env = { ...process.env };
  delete env.MESHSCOPE_CONTROL_SOCKET;
  const help = spawnSync(worker, ['ctl', '--help'], { encoding: 'utf8', env });
  assert.match(help.stdout, /or \/run\/meshscope\/worker\/control\.sock\)/);
});

test('supervisord replaces a responder that was killed', async () => {
  const before = stack.pids();
  const victim = before['fcgi:fcgi_00'];
  assert.ok(victim, `fcgi_00 should be running: ${JSON.stringify(before)}`);
  process.kill(victim, 'SIGKILL');
  const replacement = await waitFor(() => {
    const pid = stack.pids()['fcgi:fcgi_00'];
    return pid && pid !== victim ? pid : null;
  }, { what: 'a replacement fcgi_00' });
  assert.ok(alive(replacement));
  assert.equal(stack.pids()['fcgi:fcgi_01'], before['fcgi:fcgi_01']);
  const res = await fetch(`${stack.url}/api/healthz`);
  assert.equal(res.status, 200);
});

test('stopping the stack leaves none of its processes behind', async () => {
  const pids = Object.values(stack.pids());
  assert.ok(pids.length >= 4, `expected worker, nginx and two responders: ${pids}`);
  await stack.stop();
  for (const pid of pids) {
    await waitFor(() => !alive(pid), { what: `pid ${pid} to exit` });
  }
});

test('a pool run as nobody still shares its figures (its stats file sits in a directory it owns)', async () => {
  const other = await startStack({ numprocs: 2, fcgiUser: 'nobody' });
  try {
    const body = await waitFor(async () => {
      const res = await fetch(`${other.url}/api/perf`);
      return res.status === 200 ? res.json() : null;
    }, { what: '/api/perf from the nobody pool' });
    assert.equal(body.pool.shared, true, JSON.stringify(body.pool));
    assert.equal(body.pool.responderCount, 2, JSON.stringify(body.responders));
  } finally {
    await other.stop();
  }
});
