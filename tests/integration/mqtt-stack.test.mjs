// mqtt-stack.test.mjs: the local stack's MQTT path end to end, as scripts/run
// starts it: mosquitto -> meshscope-mqtt-demo -> meshscope-mqtt -> worker, and
// the liveness through nginx and the pool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { BINDIR, TOP, freePort, tempDir, waitFor } from '../lib/stack.mjs';
import { scalar } from '../lib/ingest.mjs';

test('scripts/stack --mqtt-port runs broker, bridge and demo publisher into the worker', async () => {
  const dir = tempDir('meshscope-mqtt-stack-');
  const db = path.join(dir, 'db');
  const port = await freePort();
  const mqttPort = await freePort();
  const child = spawn(path.join(TOP, 'scripts', 'stack'), ['--db', db, '--port', String(port), '--dir', dir,
    '--numprocs', '1', '--bindir', BINDIR, '--mqtt-port', String(mqttPort), '--mqtt-feed-rate', '20'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    const live = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/healthz`);
      const body = await res.json();
      return body.ingest_liveness?.local?.lastMessageUnix ? body.ingest_liveness : null;
    }, { timeoutMs: 30000, what: `a stored MQTT message in /api/healthz:\n${output}` });
    assert.ok(live.local.lastReceiptUnix >= live.local.lastMessageUnix - 1);
    await waitFor(() => scalar(db, 'SELECT COUNT(*) FROM observations') >= 20, { what: '20 observations' });
    const perf = await (await fetch(`http://127.0.0.1:${port}/api/perf`)).json();
    assert.equal(perf.ingest_liveness.sources.local.connected, true);
    assert.ok(perf.ingest_liveness.sources.local.stored >= 1);
    assert.ok(perf.ingest_liveness.sources.local.status >= 1, 'the demo observers published their status');
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
