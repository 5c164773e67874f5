// mqtt-faults.test.mjs: meshscope-mqtt under faults, against a real mosquitto:
// kill -9 of the worker and of the broker mid-stream lose and double nothing
// the broker delivered; kill -9 of the bridge loses at most its in-flight
// window (measured and printed); TLS with a CA made here and password
// authentication work, and a wrong password or CA gives clear lines and retries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync, writeFileSync } from 'node:fs';
import { tempDir, waitFor } from '../lib/stack.mjs';
import { startWorker, scalar } from '../lib/ingest.mjs';
import { startBroker, startBridge, publish, publishLines, packetMessage, makeTls } from '../lib/mosquitto.mjs';

// A unique GRP_TXT flood packet for sequence number n, heard over `hops` one-byte hops.
function packet(n, hops = 1) {
  const path = 'a1b2c3d4'.slice(0, 2 * hops);
  return `15${hops.toString(16).padStart(2, '0')}${path}11C3C1${n.toString(16).padStart(8, '0')}354D619BAE9590E4`;
}

// Publishes batches of unique messages until stopped; batches the broker refuses (it is down) are skipped.
function publisher(broker, topic, { batch = 40, everyMs = 50 } = {}) {
  const state = { next: 0, attempted: 0, stopped: false };
  state.done = (async () => {
    while (!state.stopped) {
      const lines = [];
      for (let i = 0; i < batch; i++) lines.push(packetMessage(packet(state.next++)));
      state.attempted += batch;
      try { publishLines(broker, topic, lines); } catch { /* broker down: these never reached it */ }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  state.stop = async () => { state.stopped = true; await state.done; };
  return state;
}

// Waits until the bridge holds nothing and its counts and the table stopped moving for a second.
async function settle(bridge, db, source) {
  let last = null;
  return waitFor(() => {
    const l = bridge.liveness();
    const c = l.sources[source].counts;
    const now = { t: Date.now(), received: c.received, rows: rows(db) };
    const quiet = l.inFlight === 0 && c.stored + c.duplicate + Object.values(c.refused).reduce((a, b) => a + b, 0) === c.received;
    if (!quiet || !last || last.received !== now.received || last.rows !== now.rows) {
      last = now;
      return null;
    }
    return now.t - last.t >= 1000 ? c : null;
  }, { timeoutMs: 30000, intervalMs: 200, what: 'the bridge and the table to settle' });
}

const rows = (db) => scalar(db, 'SELECT COUNT(*) FROM observations') ?? 0;
const distinctRows = (db) => scalar(db,
  'SELECT COUNT(*) FROM (SELECT DISTINCT transmission_id, observer, timestamp, path_json FROM observations)') ?? 0;

test('kill -9 of the worker and of the broker mid-stream: everything delivered is stored exactly once', async () => {
  const dir = tempDir('meshscope-mqtt-faults-');
  const db = path.join(dir, 'db');
  const socket = path.join(dir, 'ingest.sock');
  const liveness = path.join(dir, 'liveness.json');
  const broker = await startBroker();
  let worker = await startWorker({ db, socket });
  const bridge = await startBridge({ socket, liveness, args: ['--broker', broker.url, '--source-name', 'f'] });
  const pub = publisher(broker, 'meshcore/SEA/OBSK/packets');
  try {
    await waitFor(() => rows(db) >= 300, { what: '300 rows before the worker is killed' });
    await worker.stop('SIGKILL');
    await waitFor(() => bridge.liveness().inFlight > 0, { what: 'lines held while the worker is down' });
    worker = await startWorker({ db, socket });
    const before = rows(db);
    await waitFor(() => rows(db) >= before + 300, { what: '300 more rows after the worker restart' });
    await broker.stop('SIGKILL');
    await waitFor(() => !bridge.liveness().sources.f.connected, { what: 'the bridge seeing the broker gone' });
    await broker.start();
    await waitFor(() => bridge.liveness().sources.f.connected, { timeoutMs: 20000, what: 'the bridge back on the broker' });
    const after = rows(db);
    await waitFor(() => rows(db) >= after + 300, { what: '300 more rows after the broker restart' });
    await pub.stop();
    const settled = await settle(bridge, db, 'f');
    const stored = rows(db);
    console.log(`# worker and broker kill -9: ${pub.attempted} published, ${settled.received} delivered to the bridge, ` +
      `${stored} rows (${distinctRows(db)} distinct), ${settled.duplicate} acknowledged as duplicates`);
    assert.equal(stored, settled.received, 'one row per delivered message');
    assert.equal(distinctRows(db), stored, 'no observation twice');
    assert.match(bridge.log, /unacknowledged will be sent again/);
  } finally {
    await pub.stop();
    await bridge.stop();
    await worker.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 of the bridge loses at most the in-flight window', async () => {
  const dir = tempDir('meshscope-mqtt-faults-');
  const db = path.join(dir, 'db');
  const socket = path.join(dir, 'ingest.sock');
  const liveness = path.join(dir, 'liveness.json');
  const window = 20;
  const broker = await startBroker();
  const args = ['--broker', broker.url, '--source-name', 'k', '--client-id', 'kill-test', '--window', String(window)];
  const worker = await startWorker({ db, socket });
  // The worker is stopped (SIGSTOP) so the window is full when the bridge dies.
  let bridge = await startBridge({ socket, liveness, args });
  const total = 1200;
  const lines = [];
  for (let i = 0; i < total; i++) lines.push(packetMessage(packet(i)));
  try {
    publishLines(broker, 'meshcore/SEA/OBSL/packets', lines.slice(0, 300));
    await waitFor(() => rows(db) >= 100, { what: '100 rows before the bridge is killed' });
    process.kill(worker.pid, 'SIGSTOP');
    publishLines(broker, 'meshcore/SEA/OBSL/packets', lines.slice(300, 600));
    await waitFor(() => bridge.liveness().inFlight >= window, { what: 'a full window' });
    await bridge.stop('SIGKILL');
    process.kill(worker.pid, 'SIGCONT');
    publishLines(broker, 'meshcore/SEA/OBSL/packets', lines.slice(600));
    // The persistent session kept everything the broker had not handed over.
    bridge = await startBridge({ socket, liveness, args });
    await waitFor(() => rows(db) + window + 1 >= total, { timeoutMs: 30000, what: 'the rest delivered after the restart' });
    await settle(bridge, db, 'k');
    const stored = distinctRows(db);
    const lost = total - stored;
    console.log(`# bridge kill -9: ${total} published, ${stored} stored, ${lost} lost (window ${window})`);
    assert.equal(rows(db), stored, 'no observation twice');
    assert.ok(lost <= window + 1, `lost ${lost} > window ${window} + the message being taken`);
  } finally {
    try { process.kill(worker.pid, 'SIGCONT'); } catch { /* gone */ }
    await bridge.stop();
    await worker.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS with a CA made here and a password; wrong password and wrong CA are clear and retried', async () => {
  const dir = tempDir('meshscope-mqtt-tls-');
  const good = makeTls(dir, 'ca');
  const other = makeTls(dir, 'other');
  const broker = await startBroker({ tls: good, users: { meshscope: 's3cret' } });
  const db = path.join(dir, 'db');
  const socket = path.join(dir, 'ingest.sock');
  const worker = await startWorker({ db, socket });
  const pw = path.join(dir, 'pw');
  const badPw = path.join(dir, 'badpw');
  writeFileSync(pw, 's3cret\n');
  writeFileSync(badPw, 'wrong\n');
  const base = ['--broker', broker.url, '--username', 'meshscope'];
  const bridges = [];
  try {
    const ok = await startBridge({ socket, liveness: path.join(dir, 'ok.json'),
      args: [...base, '--password-file', pw, '--ca-file', good.ca, '--client-id', 'tls-ok'] });
    bridges.push(ok);
    publish(broker, 'meshcore/SEA/OBST/packets', packetMessage(packet(7)),
      { user: 'meshscope', password: 's3cret', ca: good.ca });
    await waitFor(() => rows(db) === 1, { what: 'the message over TLS stored' });

    const wrongPw = await startBridge({ socket, liveness: path.join(dir, 'pw.json'), waitConnected: false,
      args: [...base, '--password-file', badPw, '--ca-file', good.ca, '--client-id', 'tls-pw'] });
    bridges.push(wrongPw);
    const wrongCa = await startBridge({ socket, liveness: path.join(dir, 'ca.json'), waitConnected: false,
      args: [...base, '--password-file', pw, '--ca-file', other.ca, '--client-id', 'tls-ca'] });
    bridges.push(wrongCa);
    await waitFor(() => (wrongPw.log.match(/refused the connection: Connection Refused: not authorised/g) || []).length >= 2,
      { timeoutMs: 15000, what: `two refused attempts:\n${wrongPw.log}` });
    assert.match(wrongPw.log, /reconnecting in/);
    await waitFor(() => (wrongCa.log.match(/cannot connect to 127\.0\.0\.1:\d+: .*certificate verify failed/g) || []).length >= 2,
      { timeoutMs: 15000, what: `two TLS failures:\n${wrongCa.log}` });
    assert.equal(wrongPw.child.exitCode, null, 'still running');
    assert.equal(wrongCa.child.exitCode, null, 'still running');
    assert.equal(wrongPw.liveness().sources.default.connected, false);
  } finally {
    for (const b of bridges) await b.stop();
    await worker.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
