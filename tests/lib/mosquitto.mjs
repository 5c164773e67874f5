// mosquitto.mjs: a real Debian mosquitto for a test (its own config, free port
// and persistence directory), TLS material made with openssl, and helpers to
// run meshscope-mqtt against it and publish to it with mosquitto_pub.
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BINDIR, freePort, tempDir, waitFor } from './stack.mjs';

export const BRIDGE = path.join(BINDIR, 'mqtt', 'meshscope-mqtt');
export const DEMO = path.join(BINDIR, 'mqtt', 'meshscope-mqtt-demo');
const MOSQUITTO = '/usr/sbin/mosquitto';

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// A CA and a server certificate for 127.0.0.1, made by openssl in `dir`.
export function makeTls(dir, name = 'ca') {
  const f = (n) => path.join(dir, n);
  const run = (...args) => execFileSync('openssl', args, { stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=test ${name}`,
    '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`));
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
    '-keyout', f(`${name}-server.key`), '-out', f(`${name}-server.csr`));
  writeFileSync(f(`${name}-ext.cnf`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('x509', '-req', '-in', f(`${name}-server.csr`), '-CA', f(`${name}.crt`), '-CAkey', f(`${name}.key`),
    '-CAcreateserial', '-days', '2', '-extfile', f(`${name}-ext.cnf`), '-out', f(`${name}-server.crt`));
  return { ca: f(`${name}.crt`), cert: f(`${name}-server.crt`), key: f(`${name}-server.key`) };
}

// Starts mosquitto; `users` ({name: password}) turns on password authentication,
// `tls` ({cert, key}) makes the listener TLS. `restart()` reuses port and persistence.
export async function startBroker({ users, tls, dir, inflight = 20 } = {}) {
  const brokerDir = dir || tempDir('meshscope-mosquitto-');
  const port = await freePort();
  const lines = [
    'per_listener_settings false',
    // Started as root, mosquitto drops to its own user, who cannot read the test's files.
    ...(process.getuid() === 0 ? ['user root'] : []),
    `persistence true`,
    `persistence_location ${brokerDir}/`,
    // A bridge that is down or slow must find everything in its session when it is back.
    'max_queued_messages 0',
    `max_inflight_messages ${inflight}`,
    'log_dest stderr',
    'log_type error', 'log_type warning', 'log_type notice',
  ];
  if (users) {
    const pw = path.join(brokerDir, 'passwd');
    for (const [i, [u, p]] of Object.entries(users).entries()) {
      execFileSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', pw, u, p], { stdio: 'pipe' });
    }
    lines.push('allow_anonymous false', `password_file ${pw}`);
  } else {
    lines.push('allow_anonymous true');
  }
  lines.push(`listener ${port} 127.0.0.1`);
  if (tls) lines.push(`certfile ${tls.cert}`, `keyfile ${tls.key}`);
  const conf = path.join(brokerDir, 'mosquitto.conf');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const broker = { port, dir: brokerDir, conf, url: `${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`, log: '' };
  broker.start = async () => {
    const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d) => { broker.log += d; });
    broker.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    broker.child = child;
    let gone = false;
    broker.exited.then(() => { gone = true; });
    await waitFor(async () => {
      if (gone) throw new Error(`mosquitto exited:\n${broker.log}`);
      return portOpen(port);
    }, { what: `mosquitto on port ${port}` });
  };
  broker.stop = async (signal = 'SIGTERM') => {
    if (broker.child && broker.child.exitCode === null && broker.child.signalCode === null) {
      broker.child.kill(signal);
      await broker.exited;
    }
  };
  broker.restart = async () => { await broker.stop(); await broker.start(); };
  await broker.start();
  return broker;
}

// Publishes one message (any bytes) with QoS 1 through mosquitto_pub.
export function publish(broker, topic, payload, { user, password, ca } = {}) {
  const args = ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', topic, '-s'];
  if (user) args.push('-u', user, '-P', password);
  if (ca) args.push('--cafile', ca);
  execFileSync('mosquitto_pub', args, { input: payload, stdio: ['pipe', 'pipe', 'pipe'] });
}

// Publishes many messages to one topic with one mosquitto_pub -l (one message a line).
export function publishLines(broker, topic, lines) {
  execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', topic, '-l'],
    { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
}

// A meshcoretomqtt-shaped packet message.
export function packetMessage(raw, over = {}) {
  return JSON.stringify({ origin: 'test observer', timestamp: '2025-09-21T12:00:00Z', type: 'PACKET',
    direction: 'rx', raw, SNR: '7', RSSI: '-90', ...over });
}

// Starts meshscope-mqtt with `args`; `liveness()` reads its status file.
export async function startBridge({ socket, args, liveness, env = {}, waitConnected = true }) {
  const all = ['--ingest-socket', socket, '--liveness-file', liveness, ...args];
  const child = spawn(BRIDGE, all, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const bridge = { child, log: '', pid: child.pid };
  child.stderr.on('data', (d) => { bridge.log += d; });
  bridge.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  bridge.liveness = () => (existsSync(liveness) ? JSON.parse(readFileSync(liveness, 'utf8')) : null);
  bridge.stop = async (signal = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return bridge.exited;
  };
  if (waitConnected) {
    await waitFor(() => {
      const l = bridge.liveness();
      return l && l.pid === child.pid && Object.values(l.sources).every((s) => s.connected);
    }, { what: `meshscope-mqtt connected:\n${bridge.log}` });
  }
  return bridge;
}
