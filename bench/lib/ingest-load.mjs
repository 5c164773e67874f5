// ingest-load.mjs: offers NDJSON observations to the worker's ingest socket at
// a fixed rate and times each acknowledgement (docs/ingest.md: one reply line
// per input line, in order, sent only after the commit).
//
//   node bench/lib/ingest-load.mjs --socket PATH --rate N --duration-ms N
//                                  [--legacy-transmissions N] [--tag TEXT]
//
// Prints one JSON object: sent, acked, errors, and every latency in ms.
import net from 'node:net';
import { parseArgs } from 'node:util';

// Same hash scheme as scripts/gen-demo-db, so some lines land on legacy rows
// the backfill may not have reached yet (last_seen = 0), which ingest must fill inline.
function legacyHash(i) {
  const h = Number((BigInt(i) * 2654435761n) % 4294967296n);
  return i.toString(16).padStart(8, '0') + h.toString(16).padStart(8, '0');
}

// Hashes are hex: legacy ones are 16 digits, the load's own are 20 (a per-run
// tag, then the sequence number), so the two never collide.
export function makeLine(seq, { tag, legacyTransmissions, nowSec }) {
  let hash;
  if (legacyTransmissions > 0 && seq % 10 === 3) {
    hash = legacyHash(1 + ((seq * 7919) % legacyTransmissions));
  } else if (seq % 10 >= 7 && seq >= 10) {
    hash = `${tag}${(seq - 7).toString(16).padStart(10, '0')}`; // a repeat of a recent one
  } else {
    hash = `${tag}${seq.toString(16).padStart(10, '0')}`;
  }
  return JSON.stringify({
    hash,
    raw_hex: (seq * 2654435761 % 4294967296).toString(16).padStart(8, '0') + 'a1b2c3d4',
    payload_type: seq % 12,
    observer: `bench-observer-${seq % 5}`,
    snr: ((seq * 37) % 260) / 10 - 12,
    rssi: -40 - ((seq * 13) % 80),
    path: [(seq % 251).toString(16).padStart(2, '0')],
    timestamp: nowSec,
  });
}

// `signal` (an AbortSignal) ends the offered load early, as the duration would.
export function runIngestLoad({ socket, rate, durationMs, legacyTransmissions = 0,
  tag = `ffff${process.pid.toString(16).padStart(6, '0')}`, signal }) {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    const pending = []; // send times, in order: replies come back in order
    const latenciesMs = [];
    let sent = 0, acked = 0, errors = 0, buffered = '', timer = null, start = 0;
    let firstError = null, finished = false, stopped = false;

    const finish = (err) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      conn.destroy();
      if (err && sent === 0) { reject(err); return; }
      resolve({ rate, durationMs: Math.round(performance.now() - start), sent, acked, errors,
        unanswered: pending.length,
        firstError: firstError ?? (err ? err.message : null), latenciesMs });
    };

    conn.on('connect', () => {
      start = performance.now();
      // A 2 ms tick sends whatever the schedule says is due, so the offered
      // rate holds even when a tick runs late.
      timer = setInterval(() => {
        const elapsed = performance.now() - start;
        if (elapsed >= durationMs || signal?.aborted) {
          stopped = true;
          clearInterval(timer);
          // Give the last lines up to 5 s to be acknowledged.
          setTimeout(() => finish(), pending.length ? 5000 : 0).unref();
          return;
        }
        const due = Math.floor((elapsed / 1000) * rate);
        while (sent < due) {
          const line = makeLine(sent, { tag, legacyTransmissions,
            nowSec: Math.floor(Date.now() / 1000) });
          pending.push(performance.now());
          sent++;
          conn.write(line + '\n');
        }
      }, 2);
    });
    conn.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const reply = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const sentAt = pending.shift();
        if (sentAt === undefined) continue;
        if (reply === 'ok') {
          acked++;
          latenciesMs.push(performance.now() - sentAt);
        } else {
          errors++;
          firstError ??= reply;
        }
      }
      if (pending.length === 0 && stopped) {
        finish();
      }
    });
    conn.on('error', (err) => finish(err));
    conn.on('close', () => finish());
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: {
    socket: { type: 'string' }, rate: { type: 'string' }, 'duration-ms': { type: 'string' },
    'legacy-transmissions': { type: 'string', default: '0' }, tag: { type: 'string' },
  } });
  // SIGINT ends the load early (bench/run stops it when the backfill ends).
  const stop = new AbortController();
  process.on('SIGINT', () => stop.abort());
  const result = await runIngestLoad({
    signal: stop.signal,
    socket: values.socket, rate: Number(values.rate), durationMs: Number(values['duration-ms']),
    legacyTransmissions: Number(values['legacy-transmissions']),
    ...(values.tag ? { tag: values.tag } : {}),
  }).catch((err) => ({ error: err.message }));
  process.stdout.write(JSON.stringify(result) + '\n');
}
