// report.mjs: turns the benchmark's figures into the table of the targets in
// docs/benchmark.md (met / missed / unstable), the results file and the
// README's Benchmark section.
//
// A figure is a number, or { na: why } when it could not be measured, or
// { notBuilt: what } when the feature it measures does not exist yet, or
// { value, repeats, sides } for a ratio measured over repeated windows:
// `repeats` the ratio of each repeat, `sides` each side's per-repeat values.

// Every row of the table, in order. `target` is present only for the figures
// docs/benchmark.md sets a bound on (the v2 targets); the rest are the context
// those ratios are made from.
const SHAPES = ['scattered', 'clustered'];
const SHAPE_BOUND = { scattered: 0.5, clustered: 1.0 };

function backfillRows(shape) {
  const k = `backfill.${shape}`;
  return [
    { section: `1. Backfill efficiency (1×, ${shape} shape)` },
    { key: `${k}.reference_ms`, label: `one-statement reference UPDATE, ${shape}`, unit: 'ms' },
    { key: `${k}.y0.work_ms`, label: `worker work time, yield 0, ${shape}`, unit: 'ms' },
    { key: `${k}.y0.ratio`, label: `work ÷ reference, yield 0, ${shape}`, unit: '×', target: ['<=', SHAPE_BOUND[shape]] },
    { key: `${k}.def.work_ms`, label: `worker work time, defaults, ${shape}`, unit: 'ms' },
    { key: `${k}.def.ratio`, label: `work ÷ reference, defaults, ${shape}`, unit: '×', target: ['<=', SHAPE_BOUND[shape]] },
    { key: `${k}.def.wall_ms`, label: `worker wall time, defaults, ${shape}`, unit: 'ms' },
    { key: `${k}.def.batches`, label: `batches, defaults, ${shape}`, unit: '', decimals: 0 },
    { key: `${k}.def.hold_p50`, label: `writer hold per batch p50, defaults, ${shape}`, unit: 'ms' },
    { key: `${k}.def.hold_p99`, label: `writer hold per batch p99, defaults, ${shape}`, unit: 'ms' },
    { key: `${k}.def.hold_max`, label: `writer hold per batch max, defaults, ${shape}`, unit: 'ms', target: ['<=', 25] },
    { key: `${k}.y0.hold_max`, label: `writer hold per batch max, yield 0, ${shape}`, unit: 'ms', target: ['<=', 25] },
    { key: `${k}.mismatches`, label: `rows differing from the reference, ${shape}`, unit: '', decimals: 0, target: ['==', 0] },
  ];
}

function scalingRows(shape) {
  const k = `scale.${shape}`;
  return [
    { key: `${k}.1.work_ms`, label: `work time, 1×, ${shape}`, unit: 'ms' },
    { key: `${k}.10.work_ms`, label: `work time, 10×, ${shape}`, unit: 'ms' },
    { key: `${k}.time_ratio_10`, label: `work time 10× ÷ 1×, ${shape}`, unit: '×', target: ['<=', 11] },
    { key: `${k}.10.ref_ms`, label: `reference UPDATE, 10×, ${shape}`, unit: 'ms' },
    { key: `${k}.ref_ratio_10`, label: `reference 10× ÷ 1× (the statement's own growth), ${shape}`, unit: '×' },
    { key: `${k}.10.work_ratio`, label: `work ÷ reference, 10×, ${shape}`, unit: '×', target: ['<=', SHAPE_BOUND[shape]] },
    { key: `${k}.10.rss_mib`, label: `worker peak RSS, 10×, ${shape}`, unit: 'MiB', target: ['<=', 32] },
  ];
}

export const ROWS = [
  ...SHAPES.flatMap(backfillRows),
  { key: 'backfill.fixed5000.hold_max', label: 'the seed\'s fixed 5000-row batch: hold max (it claimed 150 ms)', unit: 'ms' },

  { section: '2. Writer sharing (live ingest, defaults, scattered shape)' },
  { key: 'ingest.idle.p50', label: 'ack latency p50, idle', unit: 'ms' },
  { key: 'ingest.idle.p99', label: 'ack latency p99, idle (per window: range)', unit: 'ms' },
  { key: 'ingest.busy.p50', label: 'ack latency p50, during backfill', unit: 'ms' },
  { key: 'ingest.busy.p99', label: 'ack latency p99, during backfill (per window: range)', unit: 'ms' },
  { key: 'ingest.p99_ratio', label: 'ack p99 during ÷ idle (per pair of windows: range)', unit: '×', target: ['<=', 1.5] },
  { key: 'writer.idle.max', label: 'longest wait for the writer, idle', unit: 'ms' },
  { key: 'writer.busy.max', label: 'longest wait for the writer, during backfill', unit: 'ms' },
  { key: 'writer.busy.p99', label: 'wait for the writer p99, during backfill', unit: 'ms' },
  { key: 'busy.coverage', label: 'share of the busy window the backfill ran (validity check)', unit: '%', decimals: 0, target: ['>=', 95] },

  { section: '3. Reader latency through nginx (fixed offered rate)' },
  { key: 'read.healthz.idle.p50', label: '/api/healthz p50, idle', unit: 'ms' },
  { key: 'read.healthz.idle.p99', label: '/api/healthz p99, idle (per window: range)', unit: 'ms' },
  { key: 'read.healthz.busy.p50', label: '/api/healthz p50, during backfill', unit: 'ms' },
  { key: 'read.healthz.busy.p99', label: '/api/healthz p99, during backfill (per window: range)', unit: 'ms' },
  { key: 'read.healthz.p99_ratio', label: '/api/healthz p99 during ÷ idle (per pair: range)', unit: '×', target: ['<=', 1.1] },
  { key: 'read.packets.idle.p50', label: '/api/packets p50, idle', unit: 'ms' },
  { key: 'read.packets.idle.p99', label: '/api/packets p99, idle (per window: range)', unit: 'ms' },
  { key: 'read.packets.busy.p50', label: '/api/packets p50, during backfill', unit: 'ms' },
  { key: 'read.packets.busy.p99', label: '/api/packets p99, during backfill (per window: range)', unit: 'ms' },
  { key: 'read.packets.p99_ratio', label: '/api/packets p99 during ÷ idle (per pair: range)', unit: '×', target: ['<=', 1.1] },
  { key: 'read.errors', label: 'reader requests not 2xx (both windows)', unit: '', decimals: 0, target: ['==', 0] },

  { section: '4. Throughput (wrk, same threads/connections/duration)' },
  { key: 'tput.static_rps', label: 'nginx static file, same size as healthz', unit: 'req/s', decimals: 0 },
  { key: 'tput.healthz_rps', label: '/api/healthz through nginx + pool', unit: 'req/s', decimals: 0 },
  { key: 'tput.ratio', label: 'healthz ÷ static (per round: range)', unit: '×', target: ['>=', 0.8] },
  { key: 'tput.stats_static_rps', label: 'nginx static file, same size as /api/stats', unit: 'req/s', decimals: 0 },
  { key: 'tput.stats_rps', label: '/api/stats through nginx + pool (uncached)', unit: 'req/s', decimals: 0 },
  { key: 'tput.stats_ratio', label: '/api/stats ÷ static (per round: range)', unit: '×', target: ['>=', 0.45] },

  { section: '5. Memory (peak RSS, VmHWM)' },
  { key: 'mem.responder_max_mib', label: 'responder, largest of the pool', unit: 'MiB', target: ['<=', 4] },
  { key: 'mem.worker_daemon_mib', label: 'worker daemon (ingest + backfill)', unit: 'MiB', target: ['<=', 32] },
  { key: 'mem.worker_runonce_mib', label: 'worker --run-once, 1×, largest of both shapes', unit: 'MiB', target: ['<=', 32] },

  { section: '6. Scaling (worker --run-once, yield 0; the reference beside it)' },
  ...SHAPES.flatMap(scalingRows),

  { section: '7. Control plane and real traffic' },
  { key: 'eta.error', label: 'ETA error: predicted ÷ actual remaining, worst of 25/50/75 %', unit: '×', target: ['within', 0.15] },
  { key: 'throttle.batches', label: 'throttle reaction: batches written after a throttle or pause begins', unit: '', decimals: 0, target: ['<=', 1] },
  { key: 'mqtt.rate', label: 'MQTT path: messages per second, broker to durable rows', unit: 'msg/s', decimals: 0, target: ['>=', 5000] },
  { key: 'mqtt.ack_p99', label: 'MQTT path: ack p99 at 500 messages/s', unit: 'ms', target: ['<=', 20] },

  // The contract sets no bound on retention's time, only the hold bound every
  // writer job shares and the reference's rows (docs/benchmark.md).
  { section: '8. Retention (1×, scattered shape, about half the observations old, live ingest running)' },
  { key: 'ret.reference_ms', label: 'one-transaction reference DELETEs (its work time and its writer hold)', unit: 'ms' },
  { key: 'ret.work_ms', label: 'retention work time: its write transactions\' holds, summed', unit: 'ms' },
  { key: 'ret.ratio', label: 'retention work ÷ reference (no target in the contract)', unit: '×' },
  { key: 'ret.checkpoint_ms', label: 'checkpoints between its transactions (the WAL throttle\'s probe)', unit: 'ms' },
  { key: 'ret.ratio_ckpt', label: '(retention work + those checkpoints) ÷ reference', unit: '×' },
  { key: 'ret.run_ms', label: 'retention run time, yields included', unit: 'ms' },
  { key: 'ret.transactions', label: 'retention write transactions', unit: '', decimals: 0 },
  { key: 'ret.hold_max', label: 'retention longest writer hold of one transaction', unit: 'ms', target: ['<=', 25] },
  { key: 'ret.hold_ratio', label: 'retention longest hold ÷ the reference\'s hold', unit: '×' },
  { key: 'ret.deleted_pct', label: 'observations deleted (share of the table)', unit: '%', decimals: 0 },
  { key: 'ret.ingest.busy_p99', label: 'ingest ack p99 during retention', unit: 'ms' },
  { key: 'ret.ingest.idle_p99', label: 'ingest ack p99 on the same worker after it', unit: 'ms' },
  { key: 'ret.ingest.ratio', label: 'ingest ack p99 during retention ÷ after', unit: '×' },
  { key: 'ret.mismatches', label: 'old rows differing from the reference (both tables)', unit: '', decimals: 0, target: ['==', 0], mustHold: true },
];

// The number a figure holds, or null.
export function valueOf(v) {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v && typeof v.value === 'number' && Number.isFinite(v.value)) return v.value;
  return null;
}

export function isFigure(v) {
  return valueOf(v) !== null;
}

function meets(value, [op, bound]) {
  return {
    '<=': value <= bound, '>=': value >= bound, '==': value === bound,
    within: Math.abs(value - 1) <= bound,
  }[op];
}

// How far a value is from flipping its verdict, relative to the bound.
function margin(value, [op, bound]) {
  if (op === 'within') return Math.abs(Math.abs(value - 1) - bound) / bound;
  return bound === 0 ? Infinity : Math.abs(value - bound) / Math.abs(bound);
}

// Relative spread of one side's repeats: (max - min) / min.
export function spread(values) {
  const v = (values ?? []).filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (v.length < 2) return 0;
  const lo = Math.min(...v), hi = Math.max(...v);
  return lo > 0 ? (hi - lo) / lo : Infinity;
}

/*
 * met / missed, or "unstable" when the repeats cannot support either: their
 * ratios fall on both sides of the bound, or one side's repeats differ among
 * themselves by more than the margin between the figure and its bound (a
 * baseline that noisy could flip the verdict by itself).
 */
export function verdict(figure, target) {
  if (!target) return '';
  if (figure?.notBuilt) return 'not built yet';
  const value = valueOf(figure);
  if (value === null) return 'missed';
  const ok = meets(value, target);
  const repeats = (figure?.repeats ?? []).filter(Number.isFinite);
  if (repeats.length >= 2 && new Set(repeats.map((r) => meets(r, target))).size > 1) return 'unstable';
  const m = margin(value, target);
  for (const side of Object.values(figure?.sides ?? {})) {
    if (spread(side) > m) return 'unstable';
  }
  return ok ? 'met' : 'missed';
}

function formatNumber(value, decimals) {
  if (decimals !== undefined) return value.toFixed(decimals);
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toFixed(0);
  if (abs >= 100) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatValue(figure, row) {
  if (figure?.notBuilt) return 'not built yet';
  const value = valueOf(figure);
  if (value === null) return `n/a${figure?.na ? ` (${figure.na})` : ''}`;
  let text = formatNumber(value, row.decimals);
  // 0.398 must not print as 0.40 beside a missed "≥ 0.4": add digits until
  // the printed figure agrees with its verdict.
  for (let d = 3; row.target && d <= 6; d++) {
    const printed = Number(text);
    if (meets(printed, row.target) === meets(value, row.target)) break;
    text = value.toFixed(d);
  }
  const range = figure?.repeats?.length >= 2 ? figure.repeats : figure?.range;
  const r = (range ?? []).filter(Number.isFinite);
  const across = r.length >= 2
    ? ` (${formatNumber(Math.min(...r), row.decimals)}–${formatNumber(Math.max(...r), row.decimals)})` : '';
  return `${text}${row.unit ? ` ${row.unit}` : ''}${across}`;
}

export function formatTarget(target, unit) {
  if (!target) return '';
  if (target[0] === 'within') return `1 ± ${target[1]}`;
  return `${{ '<=': '≤', '>=': '≥', '==': '=' }[target[0]]} ${target[1]}${unit ? ` ${unit}` : ''}`;
}

// [{section} | {label, value, target, verdict}] for the figures given.
export function buildRows(figures) {
  return ROWS.map((row) => {
    if (row.section) return { section: row.section };
    const value = figures[row.key];
    return {
      key: row.key,
      label: row.label,
      value: formatValue(value, row),
      numeric: isFigure(value),
      notBuilt: Boolean(value?.notBuilt),
      reason: isFigure(value) ? null : (value?.notBuilt ?? value?.na ?? 'not measured'),
      target: formatTarget(row.target, row.unit),
      verdict: verdict(value, row.target),
      mustHold: Boolean(row.mustHold),
    };
  });
}

export function renderTable(rows) {
  const out = ['| figure | value | target | verdict |', '|---|---:|---|---|'];
  for (const r of rows) {
    if (r.section) out.push(`| **${r.section}** | | | |`);
    else out.push(`| ${r.label} | ${r.value} | ${r.target} | ${r.verdict} |`);
  }
  return out.join('\n');
}

export function summaryLine(rows) {
  const targeted = rows.filter((r) => r.verdict && r.verdict !== 'not built yet');
  const count = (v) => targeted.filter((r) => r.verdict === v).length;
  const notBuilt = rows.filter((r) => r.verdict === 'not built yet').length;
  return `${count('met')} of ${targeted.length} targets met` +
    (count('unstable') ? `, ${count('unstable')} unstable` : '') +
    (notBuilt ? `, ${notBuilt} not built yet` : '');
}

// Rows whose figure is not a number (features not built yet aside), for the smoke test.
export function missingFigures(rows) {
  return rows.filter((r) => !r.section && !r.numeric && !r.notBuilt)
    .map(({ label, reason }) => ({ label, reason }));
}

// Rows that must meet their target even in the smoke test (a wrong result,
// not a slow one): `--check` fails on them.
export function brokenFigures(rows) {
  return rows.filter((r) => r.mustHold && r.numeric && r.verdict !== 'met')
    .map(({ label, value }) => ({ label, value }));
}

export function renderResults({ rows, machine, meta, notes }) {
  const lines = [
    '# meshscope benchmark: latest results',
    '',
    `Run ${meta.date} with \`${meta.command}\` in ${meta.runtimeSec.toFixed(0)} s` +
      ` (${meta.mode} mode). ${summaryLine(rows)}.`,
    '',
    '## Machine',
    '',
    ...Object.entries(machine).map(([k, v]) => `- ${k}: ${v}`),
    '',
    '## Figures',
    '',
    renderTable(rows),
    '',
  ];
  if (notes.length) {
    lines.push('## Notes', '', ...notes.map((n) => `- ${n}`), '');
  }
  return lines.join('\n');
}

export const README_BEGIN = '<!-- bench:begin (bench/run rewrites this block) -->';
export const README_END = '<!-- bench:end -->';

// Replaces the block between the markers, or appends a Benchmark section.
export function updateReadme(readme, block) {
  const start = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  const wrapped = `${README_BEGIN}\n${block}\n${README_END}`;
  if (start >= 0 && end > start) {
    return readme.slice(0, start) + wrapped + readme.slice(end + README_END.length);
  }
  return `${readme.replace(/\n*$/, '\n')}\n## Benchmark\n\n${wrapped}\n`;
}
