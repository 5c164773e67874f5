// The alert rules shipped in packaging/prometheus/: promtool accepts them, and
// `promtool test rules` shows each alert firing when it should and staying
// quiet when it should not. The cases below are the unit tests; the expected
// annotations are the rules' own, with their {{ $labels.X }} filled in, so a
// reworded description does not need a second copy here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../lib/stack.mjs';
import { RULES, alertRules, run } from './lib.mjs';

const SITE = { job: 'meshscope', instance: 'site:80' };
const sel = (name, labels = {}) => {
  const all = { ...SITE, ...labels };
  return `${name}{${Object.entries(all).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
};

// Each case: input series (1 minute apart), then evaluations: at `at`, the
// alert fires for exactly the label sets in `fires` ([] = stays quiet).
const CASES = [
  {
    alert: 'MeshscopePoolDown',
    series: [[sel('up'), '1 1 0 0 0 0 0 0'], [sel('up', { instance: 'other:80' }), '1x7'],
      ['up{job="node",instance="n:9100"}', '0x7']],
    evals: [{ at: '3m', fires: [] }, { at: '5m', fires: [SITE] }],
  },
  {
    alert: 'MeshscopeMetricsAbsent',
    series: [['up{job="node",instance="n:9100"}', '1x20']],
    evals: [{ at: '5m', fires: [] }, { at: '15m', fires: [{ job: 'meshscope' }] }],
  },
  {
    alert: 'MeshscopeMetricsAbsent',
    series: [[sel('up'), '0x20']],
    evals: [{ at: '15m', fires: [] }],
  },
  {
    alert: 'MeshscopeMigrationFailed',
    series: [
      [sel('meshscope_async_migration_status', { name: 'a', status: 'failed' }), '0 0 1 1 1 1'],
      [sel('meshscope_async_migration_status', { name: 'a', status: 'running' }), '1 1 0 0 0 0'],
      [sel('meshscope_async_migration_status', { name: 'b', status: 'failed' }), '0x5'],
      [sel('meshscope_async_migration_status', { name: 'b', status: 'done' }), '1x5'],
    ],
    evals: [{ at: '2m', fires: [] },
      { at: '4m', fires: [{ ...SITE, name: 'a', status: 'failed' }] }],
  },
  {
    alert: 'MeshscopeMigrationStalled',
    series: [[sel('meshscope_async_migration_stalled', { name: 'a' }), '0 0 1x10'],
      [sel('meshscope_async_migration_stalled', { name: 'b' }), '0 0 1 1 0x8']],
    evals: [{ at: '6m', fires: [] }, { at: '8m', fires: [{ ...SITE, name: 'a' }] }],
  },
  {
    alert: 'MeshscopeMigrationPausedLong',
    series: [[sel('meshscope_async_migration_paused', { name: 'a' }), '1x180'],
      [sel('meshscope_async_migration_paused', { name: 'b' }), '1x60 0x120']],
    evals: [{ at: '1h', fires: [] }, { at: '2h30m', fires: [{ ...SITE, name: 'a' }] }],
  },
  {
    // a throttled all along; b half the time; c throttled for ten minutes only.
    alert: 'MeshscopeMigrationThrottledLong',
    series: [
      [sel('meshscope_async_migration_throttled_seconds_total', { name: 'a' }), '0+60x120'],
      [sel('meshscope_async_migration_throttled_seconds_total', { name: 'b' }), '0+30x120'],
      [sel('meshscope_async_migration_throttled_seconds_total', { name: 'c' }), '0+60x10 600x110'],
    ],
    evals: [{ at: '20m', fires: [] }, { at: '90m', fires: [{ ...SITE, name: 'a' }] }],
  },
  {
    // 2 GiB of WAL for 10 minutes fires; 512 MiB, under the critical size, never does.
    alert: 'MeshscopeWalCritical',
    series: [[sel('meshscope_sqlite_wal_bytes', { instance: 'big' }), '2147483648x20'],
      [sel('meshscope_sqlite_wal_bytes', { instance: 'ok' }), '536870912x20']],
    evals: [{ at: '3m', fires: [] }, { at: '10m', fires: [{ ...SITE, instance: 'big' }] }],
  },
  {
    // 10 lines a second stored, 2 refused (17 %).
    alert: 'MeshscopeIngestErrorsHigh',
    series: [[sel('meshscope_ingest_lines_accepted_total'), '0+600x30'],
      [sel('meshscope_ingest_lines_rejected_total'), '0+120x30']],
    evals: [{ at: '8m', fires: [] }, { at: '20m', fires: [SITE] }],
  },
  {
    // A steady trickle of refusals (0.1 a second, 1 %) is not an alert.
    alert: 'MeshscopeIngestErrorsHigh',
    series: [[sel('meshscope_ingest_lines_accepted_total'), '0+600x30'],
      [sel('meshscope_ingest_lines_rejected_total'), '0+6x30']],
    evals: [{ at: '20m', fires: [] }],
  },
  {
    // Ingest ran for 400 minutes, then stopped storing anything.
    alert: 'MeshscopeIngestCommitsStopped',
    series: [[sel('meshscope_ingest_lines_accepted_total'), '0+60x400 24000x40']],
    evals: [{ at: '405m', fires: [] }, { at: '425m', fires: [SITE] }],
  },
  {
    // A site that never had live ingest stays quiet.
    alert: 'MeshscopeIngestCommitsStopped',
    series: [[sel('meshscope_ingest_lines_accepted_total'), '0x440']],
    evals: [{ at: '425m', fires: [] }],
  },
  {
    // time() in promtool counts seconds from 0, so a timestamp that grows by 60
    // a minute is "now". a goes quiet at 5m; b keeps receiving.
    alert: 'MeshscopeIngestSourceSilent',
    series: [
      [sel('meshscope_mqtt_source_last_receipt_timestamp_seconds', { source: 'a' }), '0+60x5 300x20'],
      [sel('meshscope_mqtt_source_last_receipt_timestamp_seconds', { source: 'b' }), '0+60x25'],
    ],
    evals: [{ at: '12m', fires: [] }, { at: '20m', fires: [{ ...SITE, source: 'a' }] }],
  },
  {
    alert: 'MeshscopeIngestSourceDisconnected',
    series: [[sel('meshscope_mqtt_source_connected', { source: 'a' }), '1 1 0x10'],
      [sel('meshscope_mqtt_source_connected', { source: 'b' }), '1 0 0 1x9']],
    evals: [{ at: '5m', fires: [] }, { at: '9m', fires: [{ ...SITE, source: 'a' }] }],
  },
  {
    // a: receipts fresh, nothing stored since 5m. b: both stop (silent, not
    // stuck). c: both fresh.
    alert: 'MeshscopeIngestWritePathStuck',
    series: [
      [sel('meshscope_mqtt_source_last_receipt_timestamp_seconds', { source: 'a' }), '0+60x25'],
      [sel('meshscope_mqtt_source_last_stored_timestamp_seconds', { source: 'a' }), '0+60x5 300x20'],
      [sel('meshscope_mqtt_source_last_receipt_timestamp_seconds', { source: 'b' }), '0+60x5 300x20'],
      [sel('meshscope_mqtt_source_last_stored_timestamp_seconds', { source: 'b' }), '0+60x5 300x20'],
      [sel('meshscope_mqtt_source_last_receipt_timestamp_seconds', { source: 'c' }), '0+60x25'],
      [sel('meshscope_mqtt_source_last_stored_timestamp_seconds', { source: 'c' }), '0+60x25'],
    ],
    evals: [{ at: '12m', fires: [] }, { at: '20m', fires: [{ ...SITE, source: 'a' }] }],
  },
  {
    // a: 10 messages a second, 2 of them bad; b: 10 a second, 1 bad a minute.
    alert: 'MeshscopeMqttBadMessagesHigh',
    series: [
      [sel('meshscope_mqtt_messages_total', { source: 'a', result: 'received' }), '0+600x30'],
      [sel('meshscope_mqtt_bad_messages_total', { source: 'a', reason: 'not JSON' }), '0+60x30'],
      [sel('meshscope_mqtt_bad_messages_total', { source: 'a', reason: 'bad hex' }), '0+60x30'],
      [sel('meshscope_mqtt_messages_total', { source: 'b', result: 'received' }), '0+600x30'],
      [sel('meshscope_mqtt_bad_messages_total', { source: 'b', reason: 'bad hex' }), '0+1x30'],
    ],
    evals: [{ at: '8m', fires: [] }, { at: '20m', fires: [{ ...SITE, source: 'a' }] }],
  },
];

function expand(template, labels) {
  return template.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_, k) => labels[k] ?? '');
}

function promtoolTests(rules) {
  return CASES.map((c) => {
    const rule = rules[c.alert];
    assert.ok(rule, `no alert ${c.alert} in the rules file`);
    return {
      name: `${c.alert}: ${c.evals.map((e) => `${e.at} ${e.fires.length ? 'fires' : 'quiet'}`).join(', ')}`,
      interval: '1m',
      input_series: c.series.map(([series, values]) => ({ series, values })),
      alert_rule_test: c.evals.map((e) => ({
        eval_time: e.at,
        alertname: c.alert,
        exp_alerts: e.fires.map((labels) => ({
          exp_labels: { ...labels, ...rule.labels },
          exp_annotations: Object.fromEntries(Object.entries(rule.annotations)
            .map(([k, v]) => [k, expand(v, labels)])),
        })),
      })),
    };
  });
}

test('promtool check rules accepts the shipped rules', () => {
  const r = run('promtool', ['check', 'rules', RULES]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: \d+ rules found/);
});

test('every alert has a summary, a description and a severity', () => {
  for (const [name, rule] of Object.entries(alertRules())) {
    assert.ok(['critical', 'warning'].includes(rule.labels?.severity), `${name}: severity`);
    assert.ok(rule.annotations?.summary, `${name}: summary`);
    assert.ok(rule.annotations?.description?.length > 80, `${name}: a description saying what to do`);
  }
});

test('every alert has a unit test that fires it and one that keeps it quiet', () => {
  const seen = {};
  for (const c of CASES) {
    for (const e of c.evals) {
      seen[c.alert] ??= { fires: false, quiet: false };
      seen[c.alert][e.fires.length ? 'fires' : 'quiet'] = true;
    }
  }
  for (const name of Object.keys(alertRules())) {
    assert.deepEqual(seen[name], { fires: true, quiet: true }, `${name} needs both kinds of case`);
  }
});

test('promtool test rules: each alert fires and stays quiet as the cases say', (t) => {
  const dir = tempDir('meshscope-rules-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'meshscope-rules.test.yml');
  // JSON is YAML, which promtool reads.
  writeFileSync(file, JSON.stringify({
    rule_files: [RULES], evaluation_interval: '1m', tests: promtoolTests(alertRules()),
  }, null, 2));
  const r = run('promtool', ['test', 'rules', file]);
  assert.equal(r.status, 0, `promtool test rules failed:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /SUCCESS/);
});
