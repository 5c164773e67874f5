// report.mjs: turns the benchmark's figures into the table of the targets in
// docs/benchmark.md (met / missed), the results file and the README's Benchmark section.

// Every row of the table, in order. `target` is present only for the figures
// docs/benchmark.md sets a bound on; the rest are the context those ratios are made from.
export const ROWS = [
  { section: '1. Backfill efficiency (1×)' },
  { key: 'backfill.reference_ms', label: 'one-statement reference UPDATE', unit: 'ms' },
  { key: 'backfill.y0.work_ms', label: 'worker work time, yield 0', unit: 'ms' },
  { key: 'backfill.y0.ratio', label: 'work ÷ reference, yield 0', unit: '×', target: ['<=', 1.1] },
  { key: 'backfill.def.work_ms', label: 'worker work time, defaults', unit: 'ms' },
  { key: 'backfill.def.ratio', label: 'work ÷ reference, defaults', unit: '×', target: ['<=', 1.1] },
  { key: 'backfill.y0.wall_ms', label: 'worker wall time, yield 0', unit: 'ms' },
  { key: 'backfill.def.wall_ms', label: 'worker wall time, defaults', unit: 'ms' },
  { key: 'backfill.y0.batches', label: 'batches, yield 0', unit: '', decimals: 0 },
  { key: 'backfill.def.batches', label: 'batches, defaults', unit: '', decimals: 0 },
  { key: 'backfill.def.hold_p50', label: 'writer hold per batch p50, defaults', unit: 'ms' },
  { key: 'backfill.def.hold_p99', label: 'writer hold per batch p99, defaults', unit: 'ms' },
  { key: 'backfill.def.hold_max', label: 'writer hold per batch max, defaults', unit: 'ms', target: ['<=', 50] },
  { key: 'backfill.y0.hold_max', label: 'writer hold per batch max, yield 0', unit: 'ms', target: ['<=', 50] },
  { key: 'backfill.fixed5000.hold_max', label: 'the seed\'s fixed 5000-row batch: hold max (it claimed 150 ms)', unit: 'ms' },
  { key: 'backfill.mismatches', label: 'rows differing from the reference', unit: '', decimals: 0, target: ['==', 0] },

  { section: '2. Writer sharing (live ingest, defaults)' },
  { key: 'ingest.idle.p50', label: 'ack latency p50, idle', unit: 'ms' },
  { key: 'ingest.idle.p99', label: 'ack latency p99, idle', unit: 'ms' },
  { key: 'ingest.busy.p50', label: 'ack latency p50, during backfill', unit: 'ms' },
  { key: 'ingest.busy.p99', label: 'ack latency p99, during backfill', unit: 'ms' },
  { key: 'ingest.p99_ratio', label: 'ack p99 during ÷ idle', unit: '×', target: ['<=', 2] },
  { key: 'writer.idle.max', label: 'longest wait for the writer, idle', unit: 'ms' },
  { key: 'writer.busy.max', label: 'longest wait for the writer, during backfill', unit: 'ms' },
  { key: 'writer.busy.p99', label: 'wait for the writer p99, during backfill', unit: 'ms' },
  { key: 'busy.coverage', label: 'share of the busy window the backfill ran (validity check)', unit: '%', decimals: 0, target: ['>=', 95] },

  { section: '3. Reader latency through nginx (fixed offered rate)' },
  { key: 'read.healthz.idle.p50', label: '/api/healthz p50, idle', unit: 'ms' },
  { key: 'read.healthz.idle.p99', label: '/api/healthz p99, idle', unit: 'ms' },
  { key: 'read.healthz.busy.p50', label: '/api/healthz p50, during backfill', unit: 'ms' },
  { key: 'read.healthz.busy.p99', label: '/api/healthz p99, during backfill', unit: 'ms' },
  { key: 'read.healthz.p99_ratio', label: '/api/healthz p99 during ÷ idle', unit: '×', target: ['<=', 1.25] },
  { key: 'read.packets.idle.p50', label: '/api/packets p50, idle', unit: 'ms' },
  { key: 'read.packets.idle.p99', label: '/api/packets p99, idle', unit: 'ms' },
  { key: 'read.packets.busy.p50', label: '/api/packets p50, during backfill', unit: 'ms' },
  { key: 'read.packets.busy.p99', label: '/api/packets p99, during backfill', unit: 'ms' },
  { key: 'read.packets.p99_ratio', label: '/api/packets p99 during ÷ idle', unit: '×', target: ['<=', 1.25] },
  { key: 'read.errors', label: 'reader requests not 2xx (both windows)', unit: '', decimals: 0, target: ['==', 0] },

  { section: '4. Throughput (wrk, same threads/connections/duration)' },
  { key: 'tput.static_rps', label: 'nginx static file, same size as healthz', unit: 'req/s', decimals: 0 },
  { key: 'tput.healthz_rps', label: '/api/healthz through nginx + pool', unit: 'req/s', decimals: 0 },
  { key: 'tput.ratio', label: 'healthz ÷ static', unit: '×', target: ['>=', 0.4] },

  { section: '5. Memory (peak RSS, VmHWM)' },
  { key: 'mem.responder_max_mib', label: 'responder, largest of the pool', unit: 'MiB', target: ['<=', 8] },
  { key: 'mem.worker_daemon_mib', label: 'worker daemon (ingest + backfill)', unit: 'MiB' },
  { key: 'mem.worker_runonce_mib', label: 'worker --run-once, 1×', unit: 'MiB' },

  { section: '6. Scaling (worker --run-once, yield 0; the reference beside it)' },
  { key: 'scale.0.1.work_ms', label: 'work time, 0.1×', unit: 'ms' },
  { key: 'scale.1.work_ms', label: 'work time, 1×', unit: 'ms' },
  { key: 'scale.10.work_ms', label: 'work time, 10×', unit: 'ms' },
  { key: 'scale.time_ratio_1', label: 'work time 1× ÷ 0.1×', unit: '×', target: ['<=', 12] },
  { key: 'scale.time_ratio_10', label: 'work time 10× ÷ 1×', unit: '×', target: ['<=', 12] },
  { key: 'scale.0.1.rss_mib', label: 'worker peak RSS, 0.1×', unit: 'MiB' },
  { key: 'scale.1.rss_mib', label: 'worker peak RSS, 1×', unit: 'MiB' },
  { key: 'scale.10.rss_mib', label: 'worker peak RSS, 10×', unit: 'MiB' },
  { key: 'scale.rss_ratio_10', label: 'peak RSS 10× ÷ 1×', unit: '×', target: ['<=', 1.2] },
  { key: 'scale.1.ref_ms', label: 'reference UPDATE, 1×', unit: 'ms' },
  { key: 'scale.10.ref_ms', label: 'reference UPDATE, 10×', unit: 'ms' },
  { key: 'scale.ref_ratio_10', label: 'reference 10× ÷ 1× (the statement\'s own growth)', unit: '×' },
  { key: 'scale.10.work_ratio', label: 'worker work ÷ reference, 10×', unit: '×' },
];

export function isFigure(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

export function verdict(value, target) {
  if (!target) return '';
  if (!isFigure(value)) return 'missed';
  const [op, bound] = target;
  const ok = { '<=': value <= bound, '>=': value >= bound, '==': value === bound }[op];
  return ok ? 'met' : 'missed';
}

function formatNumber(value, decimals) {
  if (decimals !== undefined) return value.toFixed(decimals);
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toFixed(0);
  if (abs >= 100) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatValue(value, row) {
  if (!isFigure(value)) return `n/a${value?.na ? ` (${value.na})` : ''}`;
  let text = formatNumber(value, row.decimals);
  // 0.398 must not print as 0.40 beside a missed "≥ 0.4": add digits until
  // the printed figure agrees with its verdict.
  for (let d = 3; row.target && d <= 6; d++) {
    const printed = Number(text);
    if (verdict(printed, row.target) === verdict(value, row.target)) break;
    text = value.toFixed(d);
  }
  return `${text}${row.unit ? ` ${row.unit}` : ''}`;
}

export function formatTarget(target, unit) {
  if (!target) return '';
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
      reason: isFigure(value) ? null : (value?.na ?? 'not measured'),
      target: formatTarget(row.target, row.unit),
      verdict: verdict(value, row.target),
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
  const targeted = rows.filter((r) => r.verdict);
  const met = targeted.filter((r) => r.verdict === 'met').length;
  return `${met} of ${targeted.length} targets met`;
}

// Rows whose figure is not a number, with the reason, for the smoke test.
export function missingFigures(rows) {
  return rows.filter((r) => !r.section && !r.numeric).map(({ label, reason }) => ({ label, reason }));
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
