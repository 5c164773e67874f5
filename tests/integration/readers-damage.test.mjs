// Readers under damage: whatever state the database file is
// in, /api/healthz answers within a second with valid JSON that fails closed
// (docs/api.md), and the responder that answered is still alive afterwards.
// Each scenario runs twice: through a one-shot CGI responder (the sanitizer
// build when present) and through the real stack (nginx + a long-lived pool
// process). Responders run as `nobody`, since root would bypass permissions.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, openSync, writeSync, closeSync, rmSync,
  truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startStack, tempDir, waitFor, alive } from '../lib/stack.mjs';
import { cgiRequest, dropTo, makeSchemaDb, holdLock, WORKER } from '../lib/responder.mjs';

const NOBODY = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));
const NOGROUP = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }));
const DEADLINE_MS = 1000;

function overwrite(file, offset, bytes) {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

function clean(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true, recursive: true });
}

// expect: 'not-ready' means the contract's 503 {ready:false, reason};
// 'fail-closed' also allows 200 with async_migrations_error and running:true.
// A scenario whose file exists but is damaged must name the real cause, not
// claim the database or schema is merely not created yet.
const scenarios = [
  {
    name: 'a missing database',
    expect: 'not-ready',
    setup() {},
    repair(file) { makeSchemaDb(file); },
  },
  {
    name: 'an empty file',
    expect: 'not-ready',
    setup(file) { writeFileSync(file, ''); },
  },
  {
    name: 'a database without the _async_migrations table',
    expect: 'not-ready',
    setup(file) {
      makeSchemaDb(file, { journal: 'delete' });
      execFileSync('sqlite3', [file, 'DROP TABLE _async_migrations']);
    },
    // The worker creates missing tables at startup, in place.
    repair(file) { execFileSync(WORKER, ['--db', file, '--run-once', '--log-level', 'error']); },
  },
  {
    name: 'a database unreadable by permissions',
    expect: 'fail-closed',
    damaged: true,
    setup(file) {
      makeSchemaDb(file, { journal: 'delete', migrations: [['m_done', 'done']] });
      chmodSync(file, 0o600);
    },
    repair(file) { chmodSync(file, 0o644); },
  },
  {
    name: 'a truncated database',
    expect: 'fail-closed',
    damaged: true,
    setup(file) {
      makeSchemaDb(file, { journal: 'delete', rows: 3000, migrations: [['m_done', 'done']] });
      truncateSync(file, 4096);
    },
  },
  {
    name: 'a database whose pages were overwritten with garbage',
    expect: 'fail-closed',
    damaged: true,
    setup(file) {
      makeSchemaDb(file, { journal: 'delete', rows: 3000, migrations: [['m_done', 'done']] });
      overwrite(file, 4096, randomBytes(4096 * 16));
    },
  },
  {
    name: 'a file of random bytes',
    expect: 'fail-closed',
    damaged: true,
    setup(file) { writeFileSync(file, randomBytes(16384)); },
  },
  {
    name: 'a directory where the database should be',
    expect: 'fail-closed',
    damaged: true,
    setup(file) { mkdirSync(file); },
  },
  {
    name: 'an exclusive lock held by another process (rollback journal)',
    expect: 'fail-closed',
    damaged: true,
    async setup(file) {
      makeSchemaDb(file, { journal: 'delete', migrations: [['m_done', 'done']] });
      return holdLock(file, "BEGIN EXCLUSIVE; INSERT INTO _async_migrations(name, status) VALUES ('x', 'pending_async');");
    },
    async repair(file, lock) { await lock.release(); },
  },
  {
    name: 'an exclusive lock held by another process (WAL, exclusive locking mode)',
    expect: 'fail-closed',
    damaged: true,
    async setup(file) {
      makeSchemaDb(file, { journal: 'wal', migrations: [['m_done', 'done']] });
      return holdLock(file, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO _async_migrations(name, status) VALUES ('x', 'pending_async');");
    },
    async repair(file, lock) { await lock.release(); },
  },
];

function assertFailClosed(scenario, { status, contentType, cacheControl, body }) {
  const where = `${scenario.name}: ${status} ${body}`;
  assert.match(contentType || '', /^application\/json/, where);
  assert.equal(cacheControl, 'no-store', where);
  const json = JSON.parse(body); // throws on anything but valid JSON
  if (status === 503) {
    assert.equal(json.ready, false, where);
    assert.equal(typeof json.reason, 'string', where);
    assert.ok(json.reason.length > 0, where);
    if (scenario.damaged) {
      assert.doesNotMatch(json.reason, /not created|no database/i,
        `${where}: a damaged file must be reported as damaged, not as not-yet-created`);
    }
  } else {
    assert.equal(scenario.expect, 'fail-closed', `${where}: expected 503 not-ready`);
    assert.equal(status, 200, where);
    assert.equal(json.async_migrations_running, true, `${where}: must fail closed`);
    assert.equal(typeof json.async_migrations_error, 'string', where);
  }
}

function assertReady(where, { status, body }) {
  assert.equal(status, 200, `${where}: ${body}`);
  assert.equal(JSON.parse(body).ready, true, `${where}: ${body}`);
}

describe('one-shot CGI responder as nobody', () => {
  let dir;
  before(() => {
    dir = tempDir('meshscope-damage-cgi-');
    chownSync(dir, NOBODY, NOGROUP);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const scenario of scenarios) {
    test(`healthz fails closed within ${DEADLINE_MS} ms on ${scenario.name}`, async () => {
      const file = path.join(dir, 'target.db');
      clean(file);
      const held = await scenario.setup(file);
      try {
        for (let i = 0; i < 3; i++) {
          const r = cgiRequest({ db: file, prefix: dropTo('nobody'), timeoutMs: DEADLINE_MS });
          const where = `${scenario.name} (exit ${r.code}, signal ${r.signal}, ${r.elapsedMs.toFixed(0)} ms): ${r.raw}${r.stderr}`;
          assert.equal(r.signal, null, `responder hung or was killed: ${where}`);
          assert.equal(r.code, 0, `responder failed: ${where}`);
          assert.ok(r.elapsedMs < DEADLINE_MS, where);
          assertFailClosed(scenario, { status: r.status, contentType: r.headers['content-type'],
            cacheControl: r.headers['cache-control'], body: r.body });
        }
        if (scenario.repair) {
          await scenario.repair(file, held);
          const r = cgiRequest({ db: file, prefix: dropTo('nobody'), timeoutMs: DEADLINE_MS });
          assertReady(`after repairing ${scenario.name}`, r);
        }
      } finally {
        await held?.release();
      }
    });
  }
});

describe('long-lived responder behind nginx, as nobody', () => {
  let stack, dir, file;
  before(async () => {
    dir = tempDir('meshscope-damage-stack-');
    chownSync(dir, NOBODY, NOGROUP);
    file = path.join(dir, 'target.db');
    // The worker keeps its own database; the responders' later --db wins, so
    // they read the file each scenario damages.
    stack = await startStack({ numprocs: 1, fcgiUser: 'nobody', fcgiArgs: `--db ${file}` });
  });
  after(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function healthz() {
    const started = performance.now();
    // A query string bypasses nginx's 1 s microcache: each probe reaches the damaged responder.
    const res = await fetch(`${stack.url}/api/healthz?probe`, { signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type'),
      cacheControl: res.headers.get('cache-control'), body, elapsedMs: performance.now() - started };
  }

  for (const scenario of scenarios) {
    test(`healthz through nginx fails closed on ${scenario.name} and the responder survives`, async () => {
      // A fresh responder process meets the damage on its first open.
      stack.ctl('stop', 'fcgi:*');
      clean(file);
      const held = await scenario.setup(file);
      try {
        stack.ctl('start', 'fcgi:*');
        const pid = stack.pids()['fcgi:fcgi_00'];
        assert.ok(pid, 'fcgi_00 should be running');
        for (let i = 0; i < 5; i++) {
          const r = await healthz();
          assert.ok(r.elapsedMs < DEADLINE_MS, `${scenario.name}: took ${r.elapsedMs.toFixed(0)} ms`);
          assertFailClosed(scenario, r);
        }
        assert.ok(alive(pid), `responder ${pid} died on ${scenario.name}`);
        assert.equal(stack.pids()['fcgi:fcgi_00'], pid, `responder was replaced on ${scenario.name}`);
        if (scenario.repair) {
          await scenario.repair(file, held);
          await waitFor(async () => {
            const r = await healthz();
            return r.status === 200 && JSON.parse(r.body).ready === true;
          }, { timeoutMs: 5000, what: `the same responder to recover from ${scenario.name}` });
          assert.equal(stack.pids()['fcgi:fcgi_00'], pid, 'recovery must not need a restart');
        }
      } finally {
        await held?.release();
      }
    });
  }
});
