// observers.mjs: the reference for the observers table (docs/database.md,
// observers_backfill_v1) and helpers for its tests.
import { sqlite } from './backfill.mjs';

export const OBSERVERS_MIGRATION = 'observers_backfill_v1';

// The reference GROUP BY, stored through the same column affinities as
// observers, compared both ways: the number of rows that differ.
export function observersOffReference(db) {
  return Number(sqlite(db, `
    CREATE TEMP TABLE ref(id TEXT PRIMARY KEY, first_packet INTEGER, last_packet INTEGER,
      packet_count INTEGER NOT NULL);
    INSERT INTO ref SELECT CAST(observer AS TEXT), MIN(timestamp), MAX(timestamp), count(*)
      FROM observations WHERE observer IS NOT NULL GROUP BY CAST(observer AS TEXT);
    CREATE TEMP TABLE got AS SELECT id, first_packet, last_packet, packet_count
      FROM observers WHERE packet_count > 0;
    SELECT (SELECT count(*) FROM (SELECT * FROM ref EXCEPT SELECT * FROM got))
         + (SELECT count(*) FROM (SELECT * FROM got EXCEPT SELECT * FROM ref));`));
}

// Marks the last_seen backfill done in a legacy file, so a test's kills land in this one.
export function skipLastSeenBackfill(db) {
  sqlite(db, `INSERT INTO _async_migrations(name, status, ended_at)
    VALUES ('tx_last_seen_backfill_v1', 'done', datetime('now'));`);
}
