// backfill.mjs: legacy databases for the backfill's end-to-end tests, the
// one-statement reference result (docs/database.md), and the worker's status view.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TOP, BINDIR } from './stack.mjs';

export const WORKER = path.join(BINDIR, 'worker', 'meshscope-worker');
export const MIGRATION = 'tx_last_seen_backfill_v1';

export const REFERENCE_UPDATE = `UPDATE transmissions SET last_seen = COALESCE((SELECT MAX(timestamp)
  FROM observations WHERE transmission_id = transmissions.id), last_seen) WHERE last_seen = 0`;

export function sqlite(db, sql) {
  // maxBuffer: some suites read whole tables back (a reference to compare with).
  return execFileSync('sqlite3', ['-batch', db], { input: sql, encoding: 'utf8', maxBuffer: 1 << 28 }).trim();
}

// A legacy database from scripts/gen-demo-db, plus an untouched copy to which
// the reference UPDATE has been applied. Returns { db, reference }.
export function legacyWithReference(dir, { transmissions = 10000, observations = 200000 } = {}) {
  const db = path.join(dir, 'legacy.db');
  const reference = path.join(dir, 'reference.db');
  execFileSync(path.join(TOP, 'scripts', 'gen-demo-db'), [db, '--transmissions',
    String(transmissions), '--observations', String(observations)], { stdio: 'ignore' });
  copyFileSync(db, reference);
  sqlite(reference, `ALTER TABLE transmissions ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
    ${REFERENCE_UPDATE};`);
  return { db, reference };
}

// Rows of transmissions whose (id, last_seen) differ between the two files, both ways.
export function rowsDifferingFromReference(db, reference) {
  const escaped = reference.replace(/'/g, "''");
  return Number(sqlite(db, `ATTACH '${escaped}' AS ref;
    SELECT (SELECT count(*) FROM (SELECT id, last_seen FROM main.transmissions
              EXCEPT SELECT id, last_seen FROM ref.transmissions))
         + (SELECT count(*) FROM (SELECT id, last_seen FROM ref.transmissions
              EXCEPT SELECT id, last_seen FROM main.transmissions));`));
}

// `meshscope-worker status --json`: the migration's row, or null when absent.
export function migrationStatus(db, name = MIGRATION) {
  const res = spawnSync(WORKER, ['status', '--db', db, '--json'], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`status exited ${res.status}: ${res.stderr}`);
  return JSON.parse(res.stdout).find((m) => m.name === name) ?? null;
}

// The worker's log lines as { at (ms since epoch), text }.
export function logLines(text) {
  return text.split('\n').filter(Boolean).map((line) => {
    const m = line.match(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (.*)$/);
    return m ? { at: Date.parse(m[1]), text: m[2] } : { at: NaN, text: line };
  });
}

// gen-demo-db's hash of transmission i, and the lowest timestamp any of its
// observations can carry (each lies in [base(i), base(i + 1) + 3599]).
export function legacyHash(i) {
  const mix = (BigInt(i) * 2654435761n) % 4294967296n;
  return i.toString(16).padStart(8, '0') + mix.toString(16).padStart(8, '0');
}
export function legacyBaseTimestamp(i, transmissions) {
  return 1760000000 - 2592000 + Math.floor((i * 2592000) / transmissions);
}

export function integrityCheck(db) {
  return sqlite(db, 'PRAGMA integrity_check;');
}

// The one-statement reference applied to the final data: a copy with every
// last_seen reset to 0 and then the reference UPDATE, compared row for row.
// Returns the number of transmissions whose last_seen differs.
export function rowsDifferingFromFinalReference(db, dir) {
  const reference = path.join(dir, `final-reference-${process.pid}-${Date.now()}.db`);
  sqlite(db, `VACUUM INTO '${reference.replace(/'/g, "''")}';`);
  sqlite(reference, `UPDATE transmissions SET last_seen = 0; ${REFERENCE_UPDATE};`);
  try {
    return rowsDifferingFromReference(db, reference);
  } finally {
    rmSync(reference, { force: true });
  }
}
