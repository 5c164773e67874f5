// stats.mjs: the benchmark's pure arithmetic and the parsers for what its
// tools print (hey CSV, wrk --latency, /proc status, the worker's own stats).

// Nearest-rank percentile of an unsorted list (p in 0..100); null when empty.
export function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(values) {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : null,
  };
}

// a / b, or null when either side is unknown or b is not positive.
export function ratio(a, b) {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) ||
      !Number.isFinite(b) || b <= 0) return null;
  return a / b;
}

// `hey -o csv`: one row per request,
// response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset
// (times in seconds). Requests that failed at the transport level are not rows.
export function parseHeyCsv(text) {
  const latenciesMs = [];
  const statuses = {};
  for (const line of text.split('\n')) {
    const cols = line.trim().split(',');
    if (cols.length < 8 || !/^[0-9.]+$/.test(cols[0])) continue;
    latenciesMs.push(Number(cols[0]) * 1000);
    statuses[cols[6]] = (statuses[cols[6]] || 0) + 1;
  }
  const ok = Object.entries(statuses)
    .filter(([code]) => code.startsWith('2')).reduce((s, [, n]) => s + n, 0);
  return { latenciesMs, statuses, ok, notOk: latenciesMs.length - ok };
}

function wrkDurationMs(value, unit) {
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60000 }[unit];
  return scale === undefined ? null : Number(value) * scale;
}

// `wrk --latency` summary: requests per second, latency percentiles, and the
// error counters wrk prints only when there are errors.
export function parseWrk(text) {
  const rps = text.match(/^Requests\/sec:\s+([0-9.]+)/m);
  const latency = {};
  for (const m of text.matchAll(/^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s|m)\s*$/gm)) {
    latency[`p${m[1]}`] = wrkDurationMs(m[2], m[3]);
  }
  const non2xx = text.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  const sock = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const requests = text.match(/^\s+(\d+) requests in/m);
  return {
    reqPerSec: rps ? Number(rps[1]) : null,
    requests: requests ? Number(requests[1]) : null,
    p50: latency.p50 ?? null,
    p99: latency.p99 ?? null,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? sock.slice(1).reduce((s, n) => s + Number(n), 0) : 0,
  };
}

// /proc/PID/status: peak and current resident set, in KiB.
export function parseProcStatus(text) {
  const field = (name) => {
    const m = text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : null;
  };
  return { vmHwmKb: field('VmHWM'), vmRssKb: field('VmRSS') };
}

// The worker's `--stats-json` file: per migration, its rows, batches, wall
// time, time spent yielding and each batch's writer hold. Work time is wall
// minus yields, the figure docs/benchmark.md compares with the one-statement reference.
export function parseWorkerStats(text, name = 'tx_last_seen_backfill_v1') {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  const list = Array.isArray(doc?.migrations) ? doc.migrations : [];
  const m = list.find((x) => x?.name === name);
  if (!m) return null;
  const holds = Array.isArray(m.holds_ms) ? m.holds_ms.filter(Number.isFinite) : [];
  const wallMs = Number.isFinite(m.wall_ms) ? m.wall_ms : null;
  const yieldMs = Number.isFinite(m.yield_ms) ? m.yield_ms : null;
  const workMs = Number.isFinite(m.work_ms) ? m.work_ms
    : (wallMs !== null && yieldMs !== null ? wallMs - yieldMs : null);
  return {
    holds,
    status: m.status ?? null,
    rows: Number.isFinite(m.rows) ? m.rows : null,
    batches: Number.isFinite(m.batches) ? m.batches : holds.length || null,
    wallMs, yieldMs, workMs,
    hold: holds.length ? summarize(holds) : { n: 0, p50: null, p99: null, max: m.hold_max_ms ?? null },
  };
}
