// mqtt.mjs: the MQTT path's figures (docs/benchmark.md targets: >= 5,000
// messages/s from the broker to durable rows, ack p99 <= 20 ms at 500/s),
// measured with a real mosquitto, meshscope-mqtt and meshscope-worker.
//
//   bench/run --mqtt             (or: node bench/mqtt.mjs [--quick])
//
// Throughput: N messages wait in the bridge's persistent session while it is
// down; the clock runs from its start until the worker has acknowledged the
// last of them (durable rows). Latency: messages published at 500/s for 10 s;
// p50/p99 of the bridge's take-to-acknowledgement times (from the moment
// libmosquitto hands a message over to the worker's ok after its commit).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TOP, tempDir, waitFor } from '../tests/lib/stack.mjs';
import { startWorker, scalar } from '../tests/lib/ingest.mjs';
import { startBroker, startBridge, publishLines, packetMessage } from '../tests/lib/mosquitto.mjs';

const quick = process.argv.includes('--quick');
const N = quick ? 2000 : 30000;
const RATE = 500;
const SECONDS = quick ? 3 : 10;

function packet(n) {
  return `1501a1${'11C3C1'}${n.toString(16).padStart(8, '0')}354D619BAE9590E4D177DB7E`;
}

async function throughput(broker, db, socket, dir) {
  const liveness = path.join(dir, 'tp.json');
  const args = ['--broker', broker.url, '--client-id', 'bench-tp', '--source-name', 'bench'];
  let bridge = await startBridge({ socket, liveness, args });
  await bridge.stop();
  const lines = [];
  for (let i = 0; i < N; i++) lines.push(packetMessage(packet(i)));
  for (let i = 0; i < N; i += 5000) publishLines(broker, 'meshcore/BEN/OBS1/packets', lines.slice(i, i + 5000));
  const before = scalar(db, 'SELECT COUNT(*) FROM observations');
  const t0 = process.hrtime.bigint();
  bridge = await startBridge({ socket, liveness, args, waitConnected: false });
  await waitFor(() => {
    const l = bridge.liveness();
    return l && l.pid === bridge.pid && l.sources.bench.counts.stored >= N;
  }, { timeoutMs: 120000, intervalMs: 20, what: `${N} messages stored` });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await bridge.stop();
  const rows = scalar(db, 'SELECT COUNT(*) FROM observations') - before;
  return { n: N, rows, seconds, perSec: N / seconds };
}

async function latency(broker, db, socket, dir) {
  const liveness = path.join(dir, 'lat.json');
  const bridge = await startBridge({ socket, liveness,
    args: ['--broker', broker.url, '--client-id', 'bench-lat', '--source-name', 'bench'] });
  const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1',
    '-t', 'meshcore/BEN/OBS2/packets', '-l'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const total = RATE * SECONDS;
  let sent = 0;
  const start = Date.now();
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor((Date.now() - start) * RATE / 1000));
      let chunk = '';
      for (; sent < due; sent++) chunk += `${packetMessage(packet(10_000_000 + sent))}\n`;
      if (chunk) pub.stdin.write(chunk);
      if (sent >= total) { clearInterval(timer); resolve(); }
    }, 5);
  });
  pub.stdin.end();
  await new Promise((r) => pub.on('exit', r));
  const l = await waitFor(() => {
    const x = bridge.liveness();
    return x.sources.bench.counts.stored >= total && x.inFlight === 0 ? x : null;
  }, { timeoutMs: 60000, what: 'the paced messages stored' });
  await bridge.stop();
  return { n: total, rate: RATE, p50: l.ackLatencyP50Ms, p99: l.ackLatencyP99Ms, samples: l.ackLatencySamples };
}

const dir = tempDir('meshscope-bench-mqtt-');
const db = path.join(dir, 'db');
const socket = path.join(dir, 'ingest.sock');
const broker = await startBroker({ inflight: 100 });
const worker = await startWorker({ db, socket });
try {
  const tp = await throughput(broker, db, socket, dir);
  const lat = await latency(broker, db, socket, dir);
  const lines = [
    '| MQTT path figure | measured | target | met |',
    '|---|---|---|---|',
    `| broker to durable rows, ${tp.n} queued messages | ${Math.round(tp.perSec)} msg/s (${tp.seconds.toFixed(2)} s, ${tp.rows} rows) | >= 5,000 | ${tp.perSec >= 5000 ? 'yes' : 'no'} |`,
    `| take-to-ack p99 at ${lat.rate}/s (${lat.samples} latest of ${lat.n}) | ${lat.p99.toFixed(2)} ms (p50 ${lat.p50.toFixed(2)} ms) | <= 20 ms | ${lat.p99 <= 20 ? 'yes' : 'no'} |`,
  ];
  console.log(lines.join('\n'));
  mkdirSync(path.join(TOP, 'var', 'bench'), { recursive: true });
  writeFileSync(path.join(TOP, 'var', 'bench', quick ? 'mqtt-quick.md' : 'mqtt.md'), `${lines.join('\n')}\n`);
} finally {
  await worker.stop();
  await broker.stop();
}
