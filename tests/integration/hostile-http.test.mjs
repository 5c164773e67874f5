// Hostile HTTP input through nginx: raw bytes, not fetch(),
// so nothing normalises the attack before it reaches the server. Every answer
// to a bad request is a JSON error with the right status (405, 404, 400, 414),
// never a 5xx and never an HTML page; nginx serves nothing but www/; and no
// responder dies on the way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { startStack, waitFor, alive } from '../lib/stack.mjs';
import { request, rawRequest } from '../lib/rawhttp.mjs';

const SECRET = 'meshscope-secret-marker-7f3a';
let stack, poolBefore, counts, logStart;
const tried = { requests: 0 };

before(async () => {
  stack = await startStack({ numprocs: 2 });
  await waitFor(async () => (await (await fetch(`${stack.url}/api/healthz`)).json()).ready === true,
    { what: 'the worker to create the schema' });
  execFileSync('sqlite3', [stack.db, `INSERT INTO transmissions(hash, raw_hex, payload_type, first_seen, last_seen)
    VALUES ('h1', '0a', 1, 1700000000, 1700000000), ('h2', '0b', 2, 1700000001, 1700000001);`]);
  // Files an operator might leave in the web root by mistake, and a link out of it.
  const www = path.join(stack.dir, 'www');
  mkdirSync(path.join(www, '.git'));
  mkdirSync(path.join(www, 'sub'));
  for (const f of ['.env', '.git/config', 'sub/.htpasswd', 'leak.db', 'leak.sqlite', 'leak.sqlite3',
    'leak.db-wal', 'leak.db-shm', 'leak.db-journal', 'leak.sqlite3-wal', 'LEAK.DB']) {
    writeFileSync(path.join(www, f), SECRET);
  }
  symlinkSync(stack.db, path.join(www, 'linked.db'));
  writeFileSync(path.join(stack.dir, 'outside.txt'), SECRET);
  poolBefore = stack.pids();
  counts = execFileSync('sqlite3', [stack.db, 'SELECT count(*) FROM transmissions'], { encoding: 'utf8' });
  logStart = readFileSync(accessLog()).length;
});

function accessLog() {
  return path.join(stack.dir, 'logs', 'nginx-access.log');
}

after(async () => {
  await stack?.stop();
});

async function send(target, opts) {
  tried.requests++;
  return request(stack.port, target, opts);
}

function assertJsonError(res, status, where) {
  const what = `${where}: ${res.status} ${res.headers['content-type']} ${res.text.slice(0, 200)}`;
  assert.equal(res.status, status, what);
  assert.match(res.headers['content-type'] || '', /^application\/json/, what);
  assert.doesNotMatch(res.text, /<html|<body/i, what);
  if (res.body.length > 0) {
    const body = JSON.parse(res.text);
    assert.equal(typeof body.error, 'string', what);
  }
}

// The same security headers on every answer, static, API or error, each exactly once.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function assertSecurityHeaders(res, where) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    const given = res.headerList.filter(([n]) => n === name).map(([, v]) => v);
    assert.deepEqual(given, [value], `${where}: ${name}`);
  }
}

const API = ['/api/healthz', '/api/stats', '/api/packets', '/api/perf/async-migrations'];

test('methods other than GET and HEAD get a JSON 405, from the responders and from nginx', async () => {
  const methods = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND',
    'MKCOL', 'LOCK', 'BREW', 'X-CUSTOM'];
  for (const target of [...API, '/', '/index.html', '/style.css', '/no-such-file']) {
    for (const method of methods) {
      const res = await send(target, { method, body: method === 'POST' ? 'a=1' : '' });
      assertJsonError(res, 405, `${method} ${target}`);
      assert.equal(res.headers.allow, 'GET, HEAD', `${method} ${target}`);
    }
  }
  // HEAD is allowed and answers without a body.
  const head = await send('/api/healthz', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
});

test('unknown paths get a JSON 404', async () => {
  for (const target of ['/api/nope', '/api/healthz/', '/api/healthz/x', '/api/HEALTHZ', '/api',
    '/api/', '/api/healthz%2F', '/api/health%7a', '/api/%ff', '/api/packets.json', '/no-such-file',
    '/no-such-dir/', '/index.htm', '/api/healthz;x=1', '/API/healthz']) {
    assertJsonError(await send(target), 404, target);
  }
});

test('bad, negative, overflowing, non-UTF-8 and SQL-injection parameters get a JSON 400', async () => {
  const values = [
    'abc', '-1', '0', '1.5', '1e3', '0x10', '', '%201', '1%20', '+1', '%2B1', '01a',
    '99999999999999999999', '-99999999999999999999', '9223372036854775808', '18446744073709551616',
    '%ff', '%c0%af', '%ed%a0%80', '%f4%90%80%80', '\xff', '\xc3\x28', '%00', '1%00', '%',
    '%zz', '%1', "1'%20OR%20'1'='1", "1%27%20OR%20%271%27%3D%271",
    '1%3BDROP%20TABLE%20transmissions', '1%20UNION%20SELECT%20raw_hex%20FROM%20transmissions',
    '(SELECT%201)', '1--', "'", '%27', '"', '\\', '%5C', 'NULL', 'true', '[1]', '1,2',
    `${'9'.repeat(200)}`, `1${'0'.repeat(5000)}`,
  ];
  for (const [param, extra] of [['limit', ['501', '1000000']], ['before', []]]) {
    for (const v of [...values, ...extra]) {
      const res = await send(`/api/packets?${param}=${v}`);
      assertJsonError(res, 400, `${param}=${JSON.stringify(v)}`);
    }
  }
  for (const q of ['limit=1&limit=2', 'limit', 'limit=&before=', `${'a=1&'.repeat(1000)}limit=1`]) {
    assertJsonError(await send(`/api/packets?${q}`), 400, q.slice(0, 60));
  }
  // The database was read, never changed.
  assert.equal(execFileSync('sqlite3', [stack.db, 'SELECT count(*) FROM transmissions'], { encoding: 'utf8' }), counts);
});

test('oversized requests get JSON errors: 400 from the responder up to 16 KB, 414 above', async () => {
  for (const size of [8193, 9000, 12000, 15000]) {
    for (const target of [`/api/packets?limit=1&pad=${'a'.repeat(size)}`, `/api/healthz?${'b'.repeat(size)}`,
      `/api/${'c'.repeat(size)}`]) {
      const res = await send(target);
      assert.ok(res.status === 400 || res.status === 404, `${size}: ${res.status}`);
      assertJsonError(res, res.status, `${target.slice(0, 30)}... (${size} bytes)`);
    }
  }
  for (const size of [17000, 65536, 1 << 20]) {
    assertJsonError(await send(`/api/packets?limit=${'1'.repeat(size)}`), 414, `${size}-byte query`);
  }
  // Oversized or malformed headers are nginx's to refuse.
  assertJsonError(await send('/api/healthz', { headers: { 'X-Big': 'a'.repeat(20000) } }), 400, 'big header');
  assertJsonError(await send('/api/healthz', { headers: { Cookie: 'c'.repeat(70000) } }), 400, 'big cookie');
});

test('malformed request lines get a JSON 400, never an HTML page', async () => {
  const raws = [
    'GARBAGE\r\n\r\n',
    'GET\r\n\r\n',
    'GET /api/healthz HTTP/1.1\r\n\r\n', // HTTP/1.1 without Host
    'GET /api/healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'GET /api/healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n',
    'GET /api/healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
    'GET api/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n',
    'GET /api/\x00healthz HTTP/1.1\r\nHost: localhost\r\n\r\n',
    'GET /api/healthz HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n',
    'get /api/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n',
  ];
  for (const raw of raws) {
    tried.requests++;
    const res = await rawRequest(stack.port, raw);
    assertJsonError(res, 400, JSON.stringify(raw));
  }
  tried.requests++;
  const res = await rawRequest(stack.port, 'GET /api/healthz HTTP/2.7\r\nHost: localhost\r\n\r\n');
  assertJsonError(res, 505, 'unknown HTTP version');
});

test('nginx serves neither the database, nor dotfiles, nor anything outside www/', async () => {
  const targets = [
    '/meshscope.db', '/meshscope.db-wal', '/meshscope.db-shm', '/../meshscope.db', '/%2e%2e/meshscope.db',
    '/%2E%2E/meshscope.db', '/..%2fmeshscope.db', '/..%2Fmeshscope.db', '/.%2e/meshscope.db',
    '/api/../meshscope.db', '/api/%2e%2e/meshscope.db', '/api/..%2fmeshscope.db', '/api/..%2f..%2fmeshscope.db',
    '/api/healthz/../../meshscope.db', '/index.html/../../meshscope.db', '/www/../meshscope.db',
    '//meshscope.db', '/./../meshscope.db', '/..\\meshscope.db', '/%5c..%5cmeshscope.db',
    '/../outside.txt', '/%2e%2e%2foutside.txt', '/logs/nginx-access.log', '/../logs/nginx-access.log',
    '/supervisord.conf', '/../supervisord.conf', '/../nginx.conf', '/../../../../etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%c0%af..%c0%afetc/passwd', '/..%252f..%252fetc/passwd',
    '/index.html%00.db', '/leak.db', '/leak.sqlite', '/leak.sqlite3', '/leak.db-wal', '/leak.db-shm',
    '/leak.db-journal', '/leak.sqlite3-wal', '/LEAK.DB', '/linked.db', '/.env', '/.git/config',
    '/%2egit/config', '/.%67it/config', '/sub/.htpasswd', '/sub/%2ehtpasswd', '/.git/',
    '/local.mk', 'http://localhost/../meshscope.db', '/api/.env', '/api/../.env',
  ];
  for (const target of targets) {
    const res = await send(target);
    assert.ok([400, 403, 404].includes(res.status), `${target}: ${res.status} ${res.text.slice(0, 80)}`);
    assertJsonError(res, res.status, target);
    assert.ok(!res.body.includes('SQLite format 3'), `${target} leaked the database`);
    assert.ok(!res.text.includes(SECRET), `${target} leaked a file`);
    assert.ok(!res.text.includes('root:x:0:0'), `${target} leaked /etc/passwd`);
  }
  // What www/ really holds is still served.
  const page = await send('/');
  assert.equal(page.status, 200);
  assert.match(page.text, /<title>meshscope/);
});

test('every status nginx produces itself is JSON with the full header set: 412, 416 and 501 too', async () => {
  // Static files ignore Range (max_ranges 0): an unsatisfiable range is the whole file, not a 416.
  const ranged = await send('/index.html', { headers: { Range: 'bytes=999999-' } });
  assert.equal(ranged.status, 200);
  assert.match(ranged.text, /<title>meshscope/);
  assertSecurityHeaders(ranged, 'Range: bytes=999999-');
  const cases = [
    [412, '/index.html', { headers: { 'If-Match': '"nope"' } }],
    [501, '/api/healthz', { headers: { 'Transfer-Encoding': 'gzip' } }],
    [405, '/index.html', { method: 'DELETE' }],
    [404, '/no-such-file', {}],
  ];
  for (const [status, target, opts] of cases) {
    const res = await send(target, opts);
    const where = `${status} ${target} ${JSON.stringify(opts)}`;
    assertJsonError(res, status, where);
    assertSecurityHeaders(res, where);
    assert.deepEqual(res.headerList.filter(([n]) => n === 'cache-control').map(([, v]) => v), ['no-store'], where);
  }
});

test('every response carries the same security headers: static, API and error pages', async () => {
  const targets = [
    ['/', 200], ['/index.html', 200], ['/style.css', 200], ['/api/healthz', 200], ['/api/packets?limit=1', 200],
    ['/api/metrics', 200], ['/api/nope', 404], ['/no-such-file', 404], ['/.env', 404], ['/leak.db', 404],
    ['/api/packets?limit=0', 400], [`/api/packets?limit=${'1'.repeat(17000)}`, 414],
  ];
  for (const [target, status] of targets) {
    const res = await send(target);
    assert.equal(res.status, status, target.slice(0, 40));
    assertSecurityHeaders(res, target.slice(0, 40));
  }
  for (const raw of ['GARBAGE\r\n\r\n', 'GET /api/healthz HTTP/2.7\r\nHost: localhost\r\n\r\n']) {
    tried.requests++;
    assertSecurityHeaders(await rawRequest(stack.port, raw), JSON.stringify(raw));
  }
});

// Opens `count` connections that each send half a request header and then go quiet.
async function openHalfRequests(count) {
  const sockets = [];
  const state = { closed: 0 };
  for (let started = 0; started < count; started += 200) {
    const batch = [];
    for (let i = started; i < Math.min(count, started + 200); i++) {
      batch.push(new Promise((resolve) => {
        const s = net.createConnection({ host: '127.0.0.1', port: stack.port });
        s.on('connect', () => { s.write('GET /api/healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: '); resolve(); });
        s.on('error', resolve);
        s.on('close', () => { state.closed++; });
        sockets.push(s);
      }));
    }
    await Promise.all(batch);
  }
  return { sockets, state };
}

test('slowloris: 2,500 idle half-sent requests neither stop the API nor stay open past the header timeout', async () => {
  const COUNT = 2500;
  const { sockets, state } = await openHalfRequests(COUNT);
  try {
    // nginx must have taken them all: its log says so when it ran out of connections.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${stack.url}/api/healthz`, { signal: AbortSignal.timeout(3000) });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    assert.ok(state.closed < COUNT / 2, `${state.closed} of ${COUNT} closed before the header timeout`);
    // client_header_timeout (10 s) closes every one of them: none is held for nginx's default 60 s.
    await waitFor(() => state.closed === COUNT, { timeoutMs: 25000, intervalMs: 200,
      what: `nginx to close all ${COUNT} idle connections (closed ${state.closed})` });
    assert.doesNotMatch(stack.log('nginx'), /worker_connections are not enough/);
  } finally {
    for (const s of sockets) s.destroy();
  }
});

test('nginx\'s own errors are JSON too when the pool is down', async () => {
  stack.ctl('stop', 'fcgi:*');
  try {
    // Not healthz: nginx may still hold its answer of this second in the microcache.
    const res = await send('/api/stats');
    assertJsonError(res, 503, 'pool stopped');
  } finally {
    stack.ctl('start', 'fcgi:*');
  }
  poolBefore = stack.pids();
});

test('no responder died and nothing answered 5xx on the way', async () => {
  const now = stack.pids();
  for (const [name, pid] of Object.entries(poolBefore)) {
    assert.equal(now[name], pid, `${name} was restarted`);
    assert.ok(alive(pid));
  }
  // nginx's access log has every answer; only the deliberate pool stop may be
  // a server error (505 answers the made-up HTTP version, 501 the unknown transfer coding).
  const log = readFileSync(accessLog()).subarray(logStart).toString('latin1').split('\n');
  const fives = log.filter((l) => / 5\d\d \d+ "/.test(l) && !/HTTP\/2\.7" 505 /.test(l) && !/" 501 /.test(l));
  assert.ok(fives.length <= 1, `5xx answers:\n${fives.join('\n')}`);
  const ok = await (await fetch(`${stack.url}/api/packets?limit=2`)).json();
  assert.equal(ok.packets.length, 2);
  console.log(`# hostile-http: ${tried.requests} hostile requests sent`);
});
