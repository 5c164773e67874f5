// mqtt.test.mjs: meshscope-mqtt against a real mosquitto and a real worker:
// decoded fields and hashes stored once, malformed messages counted by reason,
// liveness per source through the responders, the command line, SIGTERM, and
// the silence watchdog.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BINDIR, tempDir, waitFor } from '../lib/stack.mjs';
import { startWorker, sql, scalar, exchange, observation } from '../lib/ingest.mjs';
import { BRIDGE, startBroker, startBridge, publish, publishLines, packetMessage } from '../lib/mosquitto.mjs';

const FCGI = path.join(BINDIR, 'fcgi', 'meshscope-fcgi');
// Real packets (michaelhart/meshcore-decoder's tests) and the hashes of tests/unit/test_mqtt_packet.c.
const TXT_4HOPS = '09046F17C47ED00A13E16AB5B94B1CC2D1A5059C6E5A6253C60D';
const TXT_2HOPS = '0902AABBD00A13E16AB5B94B1CC2D1A5059C6E5A6253C60D';
const TXT_HASH = 'ed5d121dc09272c4';
const TRACE = '260130A24D89BD0000000000FB';
const TRACE_HASH = '2c9d6ab99d59069c';
const TRANSPORT = '14FA1A0000034E927D596EA23622BCB4D5945E49348165AF7DABA3F5DCEED85F430E0856DB5B591E86AB3363BC00E1BA30776698F72FC57C7168E66A4875CDB710F3C175FC2B3FE75A036EF14FA59A709062D3A9FF7014F2E7A8512C';
const TRANSPORT_HASH = 'de517617e6b2504c';

let dir, broker, worker, bridge, db, socket, liveness;

before(async () => {
  dir = tempDir('meshscope-mqtt-');
  db = path.join(dir, 'db');
  socket = path.join(dir, 'ingest.sock');
  liveness = path.join(dir, 'liveness.json');
  broker = await startBroker();
  worker = await startWorker({ db, socket });
  // Subscribed as the seed system is, to meshcore/#, so topics of other shapes reach the bridge too.
  bridge = await startBridge({ socket, liveness, args: ['--broker', broker.url, '--source-name', 'local', '--topic', 'meshcore/#'] });
});

after(async () => {
  await bridge?.stop();
  await worker?.stop();
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const counts = () => bridge.liveness().sources.local.counts;

// Unique packets: a GRP_TXT flood whose payload carries `n`.
function uniquePacket(n, hops = '') {
  const payload = `11C3C1${n.toString(16).padStart(8, '0')}354D619BAE9590E4D177DB7E`;
  return `15${(hops.length / 2).toString(16).padStart(2, '0')}${hops}${payload}`;
}

test('each message is stored once with its decoded fields and the firmware hash', async () => {
  publish(broker, 'meshcore/SEA/OBSA/packets', packetMessage(TRACE, { SNR: 12.25, RSSI: -60 }));
  publish(broker, 'meshcore/SEA/OBSA/packets', packetMessage(TRANSPORT, { timestamp: 1758456000 }));
  await waitFor(() => scalar(db, 'SELECT COUNT(*) FROM observations') >= 2, { what: 'two rows' });
  const rows = sql(db, `SELECT t.hash, t.payload_type, o.observer, o.snr, o.rssi, o.path_json, o.timestamp
    FROM observations o JOIN transmissions t ON t.id = o.transmission_id ORDER BY o.id`);
  assert.deepEqual(rows, [
    { hash: TRACE_HASH, payload_type: 9, observer: 'OBSA', snr: 12.25, rssi: -60, path_json: '["30"]', timestamp: 1758456000 },
    { hash: TRANSPORT_HASH, payload_type: 5, observer: 'OBSA', snr: 7, rssi: -90, path_json: '["4e","92","7d"]', timestamp: 1758456000 },
  ]);
  await waitFor(() => counts().stored === 2, { what: 'two stored in the liveness file' });
});

test('the same packet via two observers and two paths is one transmission with two observations', async () => {
  publish(broker, 'meshcore/SEA/OBSB/packets', packetMessage(TXT_4HOPS));
  publish(broker, 'meshcore/PDX/OBSC/packets', packetMessage(TXT_2HOPS));
  await waitFor(() => scalar(db, `SELECT COUNT(*) FROM observations o JOIN transmissions t
    ON t.id = o.transmission_id WHERE t.hash = '${TXT_HASH}'`) === 2, { what: 'two observations' });
  assert.equal(scalar(db, `SELECT COUNT(*) FROM transmissions WHERE hash = '${TXT_HASH}'`), 1);
  const paths = sql(db, `SELECT observer, path_json FROM observations o JOIN transmissions t
    ON t.id = o.transmission_id WHERE t.hash = '${TXT_HASH}' ORDER BY observer`);
  assert.deepEqual(paths, [{ observer: 'OBSB', path_json: '["6f","17","c4","7e"]' },
    { observer: 'OBSC', path_json: '["aa","bb"]' }]);
});

test('a message delivered twice is one observation, counted as a duplicate', async (t) => {
  // Needs ingest's duplicate detection (docs/ingest.md): probe the worker first.
  const probe = observation({ hash: 'probe-dup', observer: 'probe', timestamp: 1760000001 });
  const replies = await exchange(socket, [probe, probe]);
  if (replies[1] !== 'ok duplicate') {
    t.skip(`this worker answers an identical observation with '${replies[1]}', not 'ok duplicate'`);
    return;
  }
  const before = counts().duplicate;
  const msg = packetMessage(uniquePacket(0xdddd));
  publish(broker, 'meshcore/SEA/OBSG/packets', msg);
  publish(broker, 'meshcore/SEA/OBSG/packets', msg); // as a QoS 1 redelivery would
  await waitFor(() => counts().duplicate === before + 1, { what: 'the second copy acknowledged as a duplicate' });
  assert.equal(scalar(db, "SELECT COUNT(*) FROM observations WHERE observer = 'OBSG'"), 1);
});

test('malformed messages are counted by reason, logged once a minute each, and the next good one is stored', async () => {
  const topic = 'meshcore/SEA/OBSD/packets';
  const bad = [
    ['not json', 'not_json'],
    [JSON.stringify({ SNR: 3 }), 'no_raw'],
    [JSON.stringify({ raw: '0904A' }), 'odd_hex'],
    [JSON.stringify({ raw: '09ZZ' }), 'bad_hex'],
    [JSON.stringify({ raw: '09046F17' }), 'truncated_path'],
    [JSON.stringify({ raw: '05' }), 'truncated_path_length'],
    [Buffer.concat([Buffer.from('{"origin":"'), Buffer.from([0xff, 0xfe]), Buffer.from(`","raw":"${TXT_4HOPS}"}`)]), 'invalid_utf8'],
    [packetMessage(TXT_4HOPS, { SNR: 'loud' }), 'bad_snr'],
    [packetMessage(TXT_4HOPS, { RSSI: { dbm: 3 } }), 'bad_rssi'],
    [packetMessage(TXT_4HOPS, { timestamp: 'yesterday' }), 'bad_timestamp'],
    [JSON.stringify([1, 2]), 'not_object'],
    [Buffer.alloc(2 * 1024 * 1024, 0x20), 'too_large'],
  ];
  for (const [payload] of bad) publish(broker, topic, payload);
  publish(broker, 'meshcore/SEA/packets', packetMessage(TXT_4HOPS)); // a topic of the wrong shape
  publish(broker, topic, 'not json either'); // the same reason again: counted, not logged
  const good = uniquePacket(0xd00d);
  publish(broker, topic, packetMessage(good));
  await waitFor(() => scalar(db, `SELECT COUNT(*) FROM observations WHERE observer = 'OBSD'`) === 1,
    { what: 'the good message after the bad ones' });
  // The liveness file follows within half a second of a change.
  const c = await waitFor(() => { const k = counts(); return k.bad.not_json === 2 && k.bad.bad_topic ? k : null; },
    { what: 'the bad messages counted in the liveness file', timeoutMs: 5000 }).catch((e) => { throw new Error(`${e.message} ${JSON.stringify(counts())}\n${bridge.log}`); });
  for (const [, reason] of bad) assert.ok(c.bad[reason] >= 1, `counted ${reason}: ${JSON.stringify(c.bad)}`);
  assert.equal(c.bad.not_json, 2);
  assert.equal(c.bad.bad_topic, 1);
  const notJsonLines = bridge.log.split('\n').filter((l) => l.includes('bad message refused: not_json'));
  assert.equal(notJsonLines.length, 1, bridge.log);
  assert.equal(bridge.child.exitCode, null, 'the bridge keeps running');
});

test('status messages are kept per observer in the liveness file', async () => {
  publish(broker, 'meshcore/SEA/OBSE/status', JSON.stringify({ origin: 'Rpt E', model: 'Heltec V3', firmware_version: 'v1.9.1' }));
  await waitFor(() => bridge.liveness().observers.OBSE, { what: 'the status of OBSE' });
  const o = bridge.liveness().observers.OBSE;
  assert.equal(o.region, 'SEA');
  assert.equal(o.status.model, 'Heltec V3');
});

function cgi(uri, livenessFile = liveness) {
  const out = execFileSync(FCGI, ['--db', db, '--liveness-file', livenessFile],
    { env: { REQUEST_METHOD: 'GET', REQUEST_URI: uri }, input: '', encoding: 'utf8' });
  return out.slice(out.indexOf('\r\n\r\n') + 4);
}

test('liveness: a silent source ages while the other stays fresh; with the worker stopped receipts stay fresh and stored ages', async () => {
  const broker2 = await startBroker();
  const db2 = path.join(dir, 'db2');
  const sock2 = path.join(dir, 'ingest2.sock');
  const live2 = path.join(dir, 'liveness2.json');
  const conf = path.join(dir, 'two.conf');
  writeFileSync(conf, `[source alpha]\nbroker = ${broker.url}\nclient_id = alpha-test\n\n[source beta]\nbroker = ${broker2.url}\n`);
  const w2 = await startWorker({ db: db2, socket: sock2 });
  const b2 = await startBridge({ socket: sock2, liveness: live2, args: ['--config', conf] });
  try {
    let n = 0;
    const tick = (b) => publish(b, `meshcore/SEA/OBS${b === broker ? 'A' : 'B'}/packets`, packetMessage(uniquePacket(0x10000 + n++)));
    tick(broker);
    tick(broker2);
    await waitFor(() => { const s = b2.liveness().sources; return s.alpha.lastMessageUnix && s.beta.lastMessageUnix; },
      { what: 'both sources stored' });
    const start = JSON.parse(cgi('/api/healthz', live2)).ingest_liveness;
    // Only beta keeps publishing; alpha goes silent.
    await waitFor(() => {
      tick(broker2);
      const l = JSON.parse(cgi('/api/healthz', live2)).ingest_liveness;
      return l.beta.lastReceiptUnix >= start.alpha.lastReceiptUnix + 2 ? l : null;
    }, { timeoutMs: 10000, intervalMs: 300, what: 'beta two seconds fresher than alpha' });
    const mid = JSON.parse(cgi('/api/healthz', live2)).ingest_liveness;
    assert.equal(mid.alpha.lastReceiptUnix, start.alpha.lastReceiptUnix, 'alpha is silent');
    assert.ok(mid.beta.lastMessageUnix >= mid.beta.lastReceiptUnix - 1, 'beta is being stored');

    // The write path stops: receipts stay fresh, stored ages.
    await w2.stop('SIGKILL');
    const storedAt = JSON.parse(cgi('/api/healthz', live2)).ingest_liveness.beta.lastMessageUnix;
    const aged = await waitFor(() => {
      tick(broker2);
      const l = JSON.parse(cgi('/api/healthz', live2)).ingest_liveness;
      return l.beta.lastReceiptUnix >= storedAt + 2 ? l : null;
    }, { timeoutMs: 10000, intervalMs: 300, what: 'receipts two seconds past the last stored' });
    assert.equal(aged.beta.lastMessageUnix, storedAt);
    const perf = JSON.parse(cgi('/api/perf', live2)).ingest_liveness;
    assert.equal(perf.workerConnected, false);
    assert.equal(perf.sources.beta.connected, true);
    assert.ok(perf.inFlight > 0);
    const metrics = cgi('/api/metrics', live2);
    assert.match(metrics, /meshscope_mqtt_source_connected\{source="beta"\} 1/);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr + check.stdout);
  } finally {
    await b2.stop();
    await w2.stop();
    await broker2.stop();
  }
});

test('a damaged liveness file is left out, never trusted', () => {
  const bad = path.join(dir, 'damaged.json');
  writeFileSync(bad, '{"sources": {"x": {"counts": "many"}, "ok": {"lastReceiptUnix": -5, "counts": {}}}');
  assert.deepEqual(JSON.parse(cgi('/api/healthz', bad)).ingest_liveness, {});
  writeFileSync(bad, '{"sources": {"x": {"counts": {"stored": "many"}}, "y": {"lastReceiptUnix": 7, "counts": {}}}}');
  assert.deepEqual(JSON.parse(cgi('/api/healthz', bad)).ingest_liveness, { y: { lastReceiptUnix: 7, lastMessageUnix: null } });
  assert.deepEqual(JSON.parse(cgi('/api/healthz', path.join(dir, 'missing.json'))).ingest_liveness, {});
});

test('a bad config file is refused at start with its line number', () => {
  const conf = path.join(dir, 'bad.conf');
  writeFileSync(conf, '[source a]\nbroker = mqtt://127.0.0.1:1\nbrokr = typo\n');
  const r = spawnSync(BRIDGE, ['--ingest-socket', socket, '--config', conf], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad\.conf:3: unknown key 'brokr'/);
  const h = spawnSync(BRIDGE, ['--help'], { encoding: 'utf8' });
  assert.equal(h.status, 0);
  assert.match(h.stdout, /--silent-reconnect-s/);
  assert.match(spawnSync(BRIDGE, ['--version'], { encoding: 'utf8' }).stdout, /^meshscope-mqtt \d/);
});

test('the watchdog reconnects a source that is connected but silent', async () => {
  const live = path.join(dir, 'watchdog.json');
  const b = await startBridge({ socket, liveness: live,
    args: ['--broker', broker.url, '--client-id', 'watchdog-test', '--silent-reconnect-s', '1'] });
  try {
    await waitFor(() => (b.log.match(/connected to 127\.0\.0\.1/g) || []).length >= 2,
      { timeoutMs: 10000, what: `a second connection:\n${b.log}` });
    assert.match(b.log, /no message for 1 s while connected: reconnecting/);
  } finally {
    await b.stop();
  }
});

test('SIGTERM drains within 5 s even when the worker does not answer', async () => {
  const live = path.join(dir, 'drain.json');
  const b = await startBridge({ socket, liveness: live, args: ['--broker', broker.url, '--client-id', 'drain-test'] });
  process.kill(worker.pid, 'SIGSTOP');
  try {
    publishLines(broker, 'meshcore/SEA/OBSF/packets', [packetMessage(uniquePacket(0x20000))]);
    await waitFor(() => b.liveness().inFlight >= 1, { what: 'a line held for the stopped worker' });
    const t0 = Date.now();
    const exit = await b.stop('SIGTERM');
    const took = Date.now() - t0;
    assert.equal(exit.code, 0);
    assert.ok(took < 5000, `took ${took} ms`);
    assert.match(b.log, /stopped with 1 line\(s\) not acknowledged/);
  } finally {
    process.kill(worker.pid, 'SIGCONT');
  }
});
