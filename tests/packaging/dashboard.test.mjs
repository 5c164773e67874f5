// The Grafana dashboard (packaging/grafana/) and the alert rules against the
// real thing: a real Prometheus (Debian's) scrapes the real stack (nginx, the
// pool, the worker with live ingest from the demo feeder, and the MQTT path:
// mosquitto, the demo publisher, meshscope-mqtt) through /api/metrics, and
// every panel's query runs through Prometheus's HTTP API.
// Each must succeed and return at least one finite sample, unless its metric
// is listed in CONDITIONAL with the reason the test cannot produce it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TOP, BINDIR, freePort, tempDir, waitFor } from '../lib/stack.mjs';
import { DASHBOARD, RULES, alertRules, metricNames, run } from './lib.mjs';

// Metrics that exist only in conditions this test does not create, with why.
const CONDITIONAL = {
  // The bridge counts a line the worker refused only when the worker refuses
  // one, which a packet the bridge decoded does not make it do.
  meshscope_mqtt_refused_lines_total: 'only after the worker refuses a line from the bridge',
};

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
let dir, stack, prometheus, promUrl, promLog = '';

// The tail of every log of the stack, for a failure's message.
function stackLogs() {
  const logs = path.join(dir, 'stack', 'logs');
  if (!existsSync(logs)) return '(no logs)';
  return readdirSync(logs).map((f) => `--- ${f}\n${readFileSync(path.join(logs, f), 'utf8').slice(-1500)}`)
    .join('\n');
}

// scripts/stack with the demo feeder on the ingest socket and the MQTT path
// (its own broker, the demo publisher, the bridge) beside it.
async function startFullStack() {
  const port = await freePort();
  const mqttPort = await freePort();
  const child = spawn(path.join(TOP, 'scripts', 'stack'), ['--db', path.join(dir, 'meshscope.db'),
    '--port', String(port), '--dir', path.join(dir, 'stack'), '--numprocs', '2', '--bindir', BINDIR,
    '--feed-rate', '20', '--mqtt-port', String(mqttPort), '--mqtt-feed-rate', '10'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const s = { port, mqttPort, stop: async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await exited; } } };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`stack exited:\n${output}`);
      const body = await (await fetch(`http://127.0.0.1:${port}/api/healthz`)).json();
      return body.ingest_liveness?.local?.lastMessageUnix > 0;
    }, { timeoutMs: 90000, what: 'the stack to store an MQTT packet' });
  } catch (err) {
    await s.stop();
    err.message += `\n${output}\n${stackLogs()}`;
    throw err;
  }
  // One malformed message, so the bridge's bad-message counter has a series.
  execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-q', '1',
    '-t', 'meshcore/DEMO/bad-observer/packets', '-m', 'not json']);
  return s;
}

function targets() {
  return dashboard.panels.filter((p) => p.type !== 'row')
    .flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
}

// What Grafana would send for "All instances" and a short rate window.
function concrete(expr) {
  return expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '30s');
}

async function query(expr) {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`${expr}: ${body.errorType}: ${body.error}`);
  return body.data.result;
}

const finite = (result) => result.some((r) => Number.isFinite(Number(r.value[1])));

before(async () => {
  dir = tempDir('meshscope-prometheus-');
  stack = await startFullStack();
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(config, JSON.stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [RULES],
    scrape_configs: [{ job_name: 'meshscope', metrics_path: '/api/metrics',
      static_configs: [{ targets: [`127.0.0.1:${stack.port}`] }] }],
  }));
  prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stdout.on('data', (d) => { promLog += d; });
  prometheus.stderr.on('data', (d) => { promLog += d; });
  // Data for rate() over 30 s: a healthy target with at least 10 scrapes, and
  // ingest having stored lines between them.
  await waitFor(async () => {
    const r = await query('count_over_time(up{job="meshscope"}[1m]) >= 10 and up{job="meshscope"} == 1');
    const ingest = await query('rate(meshscope_ingest_lines_accepted_total[30s]) > 0');
    const mqtt = await query('rate(meshscope_mqtt_messages_total{result="stored"}[30s]) > 0');
    const bad = await query('meshscope_mqtt_bad_messages_total > 0');
    return r.length === 1 && ingest.length === 1 && mqtt.length === 1 && bad.length > 0;
  }, { timeoutMs: 90000, intervalMs: 500, what: `Prometheus to have scraped the stack\n${promLog}` });
});

after(async () => {
  if (prometheus && prometheus.exitCode === null) {
    prometheus.kill('SIGTERM');
    await new Promise((r) => prometheus.on('exit', r));
  }
  if (stack) await stack.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the shipped dashboard is what packaging/grafana/dashboard.mjs generates', () => {
  const r = run(process.execPath, [path.join(path.dirname(DASHBOARD), 'dashboard.mjs')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(DASHBOARD, 'utf8'), 'regenerate meshscope-dashboard.json');
});

test('the dashboard is importable: unique ids, a datasource variable, every panel on the grid', () => {
  assert.equal(dashboard.uid, 'meshscope');
  assert.ok(dashboard.schemaVersion >= 36);
  const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
  assert.equal(vars.datasource.type, 'datasource');
  assert.equal(vars.datasource.query, 'prometheus');
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dashboard.panels) {
    const g = p.gridPos;
    assert.ok(g && g.w > 0 && g.h > 0 && g.x + g.w <= 24, `${p.title}: gridPos`);
    if (p.type === 'row') continue;
    assert.equal(p.datasource.uid, '${datasource}', `${p.title}: datasource is the variable`);
    assert.ok(p.targets.length > 0, `${p.title}: has queries`);
    const refs = p.targets.map((t) => t.refId);
    assert.equal(new Set(refs).size, refs.length, `${p.title}: refIds unique`);
  }
});

test('every panel query returns data from Prometheus scraping the real stack', async (t) => {
  const failures = [];
  for (const { panel, expr } of targets()) {
    const names = [...metricNames(expr)];
    const skip = names.find((n) => CONDITIONAL[n]);
    let result;
    try {
      result = await query(concrete(expr));
    } catch (err) {
      failures.push(`${panel}: ${err.message}`);
      continue;
    }
    if (skip) {
      t.diagnostic(`skipped ${panel}: ${expr}: ${CONDITIONAL[skip]}`);
      continue;
    }
    if (!finite(result)) failures.push(`${panel}: ${expr} returned no finite sample (${JSON.stringify(result)})`);
  }
  assert.deepEqual(failures, []);
});

test('every metric the alert rules use is one the stack publishes', async () => {
  const published = new Set((await query('group by (__name__) ({job="meshscope"})'))
    .map((r) => r.metric.__name__));
  const missing = [];
  for (const [alert, rule] of Object.entries(alertRules())) {
    for (const name of metricNames(rule.expr)) {
      if (!published.has(name) && !CONDITIONAL[name]) missing.push(`${alert}: ${name}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('Prometheus evaluates every alert rule without error, and none fires on a healthy stack', async () => {
  const rules = await waitFor(async () => {
    const res = await (await fetch(`${promUrl}/api/v1/rules`)).json();
    const all = res.data.groups.flatMap((g) => g.rules);
    return all.every((r) => r.lastEvaluation && !r.lastEvaluation.startsWith('0001')) && all;
  }, { what: 'every rule to have been evaluated' });
  assert.equal(rules.length, Object.keys(alertRules()).length);
  for (const r of rules) {
    assert.equal(r.health, 'ok', `${r.name}: ${r.lastError}`);
    assert.notEqual(r.state, 'firing', `${r.name} fires on a healthy stack`);
  }
});
