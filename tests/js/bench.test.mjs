// The benchmark's arithmetic, parsers and report: what bench/run's figures
// and met/missed verdicts are made of.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseHeyCsv, parseProcStatus, parseWorkerStats, parseWrk, percentile, ratio, summarize,
} from '../../bench/lib/stats.mjs';
import {
  ROWS, buildRows, missingFigures, renderTable, summaryLine, updateReadme, verdict, README_BEGIN,
  README_END,
} from '../../bench/lib/report.mjs';
import { makeLine } from '../../bench/lib/ingest-load.mjs';

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

test('every benchmark target has a row, and the table marks each met or missed', () => {
  const targeted = ROWS.filter((r) => r.target).map((r) => r.key);
  for (const key of ['backfill.y0.ratio', 'backfill.def.hold_max', 'ingest.p99_ratio',
    'read.healthz.p99_ratio', 'read.packets.p99_ratio', 'tput.ratio', 'mem.responder_max_mib',
    'scale.rss_ratio_10', 'scale.time_ratio_10']) {
    assert.ok(targeted.includes(key), key);
  }
  const figures = Object.fromEntries(ROWS.filter((r) => r.key).map((r) => [r.key, 1]));
  Object.assign(figures, { 'backfill.mismatches': 0, 'read.errors': 0, 'busy.coverage': 100 });
  figures['tput.ratio'] = 0.3;
  figures['ingest.p99_ratio'] = { na: 'not in this build: live ingest' };
  const rows = buildRows(figures);
  const table = renderTable(rows);
  assert.match(table, /\| healthz ÷ static \| 0\.30 × \| ≥ 0\.4 × \| missed \|/);
  assert.match(table, /\| work ÷ reference, yield 0 \| 1\.00 × \| ≤ 1\.1 × \| met \|/);
  assert.match(table, /\| rows differing from the reference \| 0 \| = 0 \| met \|/);
  assert.match(table, /\| ack p99 during ÷ idle \| n\/a \(not in this build: live ingest\) \| ≤ 2 × \| missed \|/);
  assert.deepEqual(missingFigures(rows), [{ label: 'ack p99 during ÷ idle', reason: 'not in this build: live ingest' }]);
  const targets = ROWS.filter((r) => r.target).length;
  assert.equal(summaryLine(rows), `${targets - 2} of ${targets} targets met`);
});

test('a figure just missing its bound never prints as the bound', () => {
  const row = ROWS.find((r) => r.key === 'tput.ratio');
  const figures = { 'tput.ratio': 0.3981 };
  const printed = buildRows(figures).find((r) => r.key === 'tput.ratio');
  assert.equal(printed.value, '0.398 ×');
  assert.equal(printed.verdict, 'missed');
  assert.equal(buildRows({ 'tput.ratio': 0.41 }).find((r) => r.key === row.key).value, '0.41 ×');
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
