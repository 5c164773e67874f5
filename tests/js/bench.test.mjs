// The benchmark's arithmetic, parsers and report: what bench/run's figures
// and met/missed verdicts are made of.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseHeyCsv, parseProcStatus, parseWorkerStats, parseWrk, percentile, ratio, summarize,
} from '../../bench/lib/stats.mjs';
import {
  ROWS, brokenFigures, buildRows, missingFigures, renderTable, summaryLine, updateReadme, verdict, README_BEGIN,
  README_END,
} from '../../bench/lib/report.mjs';
import { makeLine } from '../../bench/lib/ingest-load.mjs';
import { retainDaysFor } from '../../bench/lib/retention.mjs';

const oneToHundred = Array.from({ length: 100 }, (_, i) => 100 - i); // unsorted on purpose

test('percentile is nearest-rank over unsorted samples', () => {
  const cases = [
    [oneToHundred, 50, 50], [oneToHundred, 99, 99], [oneToHundred, 100, 100], [oneToHundred, 0, 1],
    [[7], 99, 7], [[3, 1, 2], 50, 2], [[], 50, null],
  ];
  for (const [values, p, want] of cases) assert.equal(percentile(values, p), want, `p${p} of ${values.length}`);
});

test('summarize gives n, p50, p99 and max, and nulls for no samples', () => {
  assert.deepEqual(summarize(oneToHundred), { n: 100, p50: 50, p99: 99, max: 100 });
  assert.deepEqual(summarize([]), { n: 0, p50: null, p99: null, max: null });
});

test('ratio refuses unknown sides and non-positive denominators', () => {
  assert.equal(ratio(3, 2), 1.5);
  for (const [a, b] of [[1, 0], [1, -1], [null, 1], [1, null], [{ na: 'x' }, 1], [NaN, 1], [1, Infinity]]) {
    assert.equal(ratio(a, b), null, `${a} / ${b}`);
  }
});

test('hey CSV rows become latencies in ms, with non-2xx counted apart', () => {
  const csv = [
    'response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset',
    '0.0019,0.0003,0.0000,0.0001,0.0014,0.0001,200,0.0002',
    '0.0100,0.0001,0.0000,0.0000,0.0006,0.0003,503,0.0021',
    '0.0011,0.0002,0.0000,0.0001,0.0008,0.0000,200,0.0031',
    '',
  ].join('\n');
  const r = parseHeyCsv(csv);
  assert.deepEqual(r.latenciesMs.map((x) => Math.round(x * 10) / 10), [1.9, 10, 1.1]);
  assert.deepEqual(r.statuses, { 200: 2, 503: 1 });
  assert.equal(r.ok, 2);
  assert.equal(r.notOk, 1);
});

test('wrk --latency output gives req/s, percentiles in ms and error counts', () => {
  const out = `Running 1s test @ http://127.0.0.1:1/x
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.00ms    0.86ms  11.28ms   95.97%
    Req/Sec     2.11k   176.58     2.33k    80.00%
  Latency Distribution
     50%  860.00us
     75%    1.07ms
     90%    1.36ms
     99%    1.20s
  2103 requests in 1.00s, 1.04MB read
  Socket errors: connect 1, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   2100.90
Transfer/sec:      1.04MB
`;
  assert.deepEqual(parseWrk(out), {
    reqPerSec: 2100.9, requests: 2103, p50: 0.86, p99: 1200, non2xx: 7, socketErrors: 6,
  });
  assert.equal(parseWrk('garbage').reqPerSec, null);
});

test('/proc status gives peak and current RSS in KiB', () => {
  const status = 'Name:\tmeshscope-fcgi\nVmPeak:\t   10000 kB\nVmHWM:\t    3652 kB\nVmRSS:\t    3500 kB\n';
  assert.deepEqual(parseProcStatus(status), { vmHwmKb: 3652, vmRssKb: 3500 });
  assert.deepEqual(parseProcStatus(''), { vmHwmKb: null, vmRssKb: null });
});

test('worker stats: work time is wall minus yields, holds are summarized', () => {
  const doc = JSON.stringify({ migrations: [
    { name: 'other', wall_ms: 1 },
    { name: 'tx_last_seen_backfill_v1', status: 'done', rows: 70000, batches: 3,
      wall_ms: 1000, yield_ms: 200, holds_ms: [10, 30, 20] },
  ] });
  const s = parseWorkerStats(doc);
  assert.equal(s.workMs, 800);
  assert.equal(s.batches, 3);
  assert.deepEqual(s.hold, { n: 3, p50: 20, p99: 30, max: 30 });
  assert.equal(parseWorkerStats(JSON.stringify({ migrations: [
    { name: 'tx_last_seen_backfill_v1', wall_ms: 1000, yield_ms: 200, work_ms: 750 }] })).workMs, 750,
  'an explicit work_ms wins');
  assert.equal(parseWorkerStats('{"migrations": []}'), null);
  assert.equal(parseWorkerStats('not json'), null);
});

test('verdicts: bounds are inclusive, a missing figure misses, no target no verdict', () => {
  const cases = [
    [1.1, ['<=', 1.1], 'met'], [1.11, ['<=', 1.1], 'missed'], [0.4, ['>=', 0.4], 'met'],
    [0.39, ['>=', 0.4], 'missed'], [0, ['==', 0], 'met'], [1, ['==', 0], 'missed'],
    [{ na: 'x' }, ['<=', 1], 'missed'], [5, undefined, ''],
  ];
  for (const [value, target, want] of cases) assert.equal(verdict(value, target), want, `${value} ${target}`);
});

test('every v2 benchmark target has a row, and the table marks each met or missed', () => {
  const targeted = ROWS.filter((r) => r.target).map((r) => r.key);
  for (const key of ['backfill.scattered.y0.ratio', 'backfill.clustered.y0.ratio',
    'backfill.scattered.def.hold_max', 'ingest.p99_ratio', 'read.healthz.p99_ratio',
    'read.packets.p99_ratio', 'tput.ratio', 'tput.stats_ratio', 'mem.responder_max_mib',
    'mem.worker_daemon_mib', 'scale.scattered.time_ratio_10', 'scale.clustered.time_ratio_10',
    'scale.scattered.10.work_ratio', 'scale.clustered.10.work_ratio', 'scale.clustered.10.rss_mib',
    'eta.error', 'throttle.batches', 'mqtt.rate', 'mqtt.ack_p99']) {
    assert.ok(targeted.includes(key), key);
  }
  const figures = Object.fromEntries(ROWS.filter((r) => r.key).map((r) => [r.key, 1]));
  Object.assign(figures, {
    'backfill.scattered.mismatches': 0, 'backfill.clustered.mismatches': 0, 'read.errors': 0,
    'ret.mismatches': 0,
    'busy.coverage': 100, 'tput.ratio': 0.9, 'tput.stats_ratio': 0.5, 'throttle.batches': 1,
    'mqtt.rate': 6000, 'backfill.scattered.y0.ratio': 0.3, 'backfill.scattered.def.ratio': 0.3,
    'scale.scattered.10.work_ratio': 0.3, 'read.packets.p99_ratio': 1.05, 'ingest.p99_ratio': 1.2,
    'read.healthz.p99_ratio': 1.05,
  });
  figures['backfill.clustered.y0.ratio'] = 1.2;
  figures['mqtt.ack_p99'] = { notBuilt: 'the MQTT bridge' };
  figures['eta.error'] = { na: 'not in this build: the control plane' };
  const rows = buildRows(figures);
  const table = renderTable(rows);
  assert.match(table, /\| work ÷ reference, yield 0, clustered \| 1\.20 × \| ≤ 1 × \| missed \|/);
  assert.match(table, /\| work ÷ reference, yield 0, scattered \| 0\.30 × \| ≤ 0\.5 × \| met \|/);
  assert.match(table, /\| rows differing from the reference, scattered \| 0 \| = 0 \| met \|/);
  assert.match(table, /\| MQTT path: ack p99 at 500 messages\/s \| not built yet \| ≤ 20 ms \| not built yet \|/);
  assert.match(table, /\| ETA error[^|]*\| n\/a \(not in this build: the control plane\) \| 1 ± 0\.15 \| missed \|/);
  // A feature not built yet is neither missing from the smoke test nor counted as a target.
  assert.deepEqual(missingFigures(rows), [{ label: ROWS.find((r) => r.key === 'eta.error').label,
    reason: 'not in this build: the control plane' }]);
  const targets = ROWS.filter((r) => r.target).length;
  assert.equal(summaryLine(rows), `${targets - 3} of ${targets - 1} targets met, 1 not built yet`);
});

test('a figure just missing its bound never prints as the bound', () => {
  const figures = { 'tput.stats_ratio': 0.4481 };
  const printed = buildRows(figures).find((r) => r.key === 'tput.stats_ratio');
  assert.equal(printed.value, '0.448 ×');
  assert.equal(printed.verdict, 'missed');
  assert.equal(buildRows({ 'tput.stats_ratio': 0.46 }).find((r) => r.key === 'tput.stats_ratio').value, '0.46 ×');
});

test('a ratio whose repeats disagree, or whose baseline is noise, is unstable, not met', () => {
  const target = ['<=', 1.5];
  // The idle baseline of one window was 97.8 ms against 3.4 ms in the other:
  // the pooled ratio looks met, the repeats fall on both sides of the bound.
  assert.equal(verdict({ value: 0.03, repeats: [0.03, 1.9], sides: { idle: [97.8, 1.8], busy: [3.4, 3.4] } }, target), 'unstable');
  // Repeats on one side of the bound, but a baseline spread (40 %) wider than
  // the figure's distance from the bound (1.4 against 1.5: 7 %).
  assert.equal(verdict({ value: 1.4, repeats: [1.35, 1.45], sides: { idle: [1.0, 1.4] } }, target), 'unstable');
  // Stable repeats well inside the bound, and well outside it.
  assert.equal(verdict({ value: 1.0, repeats: [0.95, 1.05], sides: { idle: [1.0, 1.1] } }, target), 'met');
  assert.equal(verdict({ value: 3.0, repeats: [2.9, 3.1], sides: { idle: [1.0, 1.1] } }, target), 'missed');
  // One repeat is not a spread.
  assert.equal(verdict({ value: 1.4, repeats: [1.4], sides: { idle: [1.0] } }, target), 'met');
  const rows = buildRows({ 'ingest.p99_ratio': { value: 1.2, repeats: [0.9, 1.7], sides: {} } });
  const row = rows.find((r) => r.key === 'ingest.p99_ratio');
  assert.equal(row.value, '1.20 × (0.90–1.70)');
  assert.equal(row.verdict, 'unstable');
  assert.match(summaryLine(rows), /, 1 unstable/);
});

test('the README block is appended once, then replaced in place', () => {
  const first = updateReadme('# meshscope\n\n## Tests\n\ntext\n', 'table v1');
  assert.match(first, /## Tests\n\ntext\n\n## Benchmark\n\n/);
  assert.ok(first.includes(`${README_BEGIN}\ntable v1\n${README_END}`));
  const second = updateReadme(`${first}\n## After\n`, 'table v2');
  assert.ok(second.includes('table v2') && !second.includes('table v1'));
  assert.equal(second.split('## Benchmark').length, 2);
  assert.match(second, /## After\n$/);
});

test('ingest load lines carry every protocol field, hex hashes, and hit legacy rows', () => {
  const lines = Array.from({ length: 20 }, (_, seq) =>
    JSON.parse(makeLine(seq, { tag: 'ffff000abc', legacyTransmissions: 71000, nowSec: 1760000000 })));
  for (const l of lines) {
    assert.deepEqual(Object.keys(l).sort(),
      ['hash', 'observer', 'path', 'payload_type', 'raw_hex', 'rssi', 'snr', 'timestamp']);
    assert.match(l.hash, /^[0-9a-f]+$/);
    assert.match(l.raw_hex, /^([0-9a-f]{2})+$/);
  }
  // scripts/gen-demo-db's hash of transmission 23758 (seq 3 picks it), as sqlite3 computes it:
  // printf('%08x%08x', 23758, (23758 * 2654435761) % 4294967296).
  assert.equal(lines[3].hash, '00005cce405f886e');
  assert.equal(lines[17].hash, lines[10].hash, 'a repeat of a recent transmission');
  assert.equal(lines[0].hash.length, 20);
});

test('retention: the cutoff falls mid-way through the data, at least one day back', () => {
  const day = 86400, min = 1757408000, max = min + 30 * day, now = max + 400 * day;
  assert.equal(retainDaysFor(min, max, now), 415);
  assert.equal(retainDaysFor(min, max, min), 1, 'data from the future keeps one day');
});

test('retention rows differing from the reference fail --check; a slow figure does not', () => {
  const figures = Object.fromEntries(ROWS.filter((r) => r.key).map((r) => [r.key, 1]));
  const mismatch = ROWS.find((r) => r.key === 'ret.mismatches');
  assert.deepEqual(brokenFigures(buildRows(figures)), [{ label: mismatch.label, value: '1' }]);
  figures['ret.mismatches'] = 0;
  figures['ret.hold_max'] = 900;
  assert.deepEqual(brokenFigures(buildRows(figures)), []);
  assert.ok(ROWS.find((r) => r.key === 'ret.hold_max').target, 'the shared hold bound applies to retention');
  assert.equal(ROWS.find((r) => r.key === 'ret.ratio').target, undefined, 'the contract sets no bound on its time');
});
