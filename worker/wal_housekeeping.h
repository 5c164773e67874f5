/* wal_housekeeping.h: a TRUNCATE checkpoint at a quiet moment once the WAL has grown past its limit. */
#ifndef MESHSCOPE_WAL_HOUSEKEEPING_H
#define MESHSCOPE_WAL_HOUSEKEEPING_H

#include <sqlite3.h>
#include <stdint.h>

/* How often the scheduler looks at the WAL while it has nothing else to run. */
#define WAL_HOUSEKEEPING_EVERY_MS 5000

/*
 * When the -wal file is over limit_mb (0: never) and no writer waits: a
 * PASSIVE checkpoint first, and only if it copied every frame back (no reader
 * pins an old snapshot) a TRUNCATE one, which then has nothing left to wait
 * for. Returns 1 when the file was truncated, 0 when not (yet), -1 on error.
 */
int wal_housekeeping_step(sqlite3 *db, int64_t limit_mb, char **errp);

#endif
