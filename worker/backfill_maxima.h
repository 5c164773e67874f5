/* backfill_maxima.h: the backfill's window of rows to fill and their MAX(timestamp), built by one pass over observations. */
#ifndef MESHSCOPE_BACKFILL_MAXIMA_H
#define MESHSCOPE_BACKFILL_MAXIMA_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/*
 * A window holds, for up to `cap` transmissions still at last_seen = 0 (in id
 * order), the largest INTEGER timestamp of their observations seen so far.
 * Each costs BACKFILL_MAXIMA_ROW_BYTES, so the window never takes more than
 * the memory budget it was given, whatever the data.
 */
#define BACKFILL_MAXIMA_ROW_BYTES (2 * sizeof(int64_t) + 1)

/* flags[i] */
#define BACKFILL_MAXIMA_SEEN 1  /* at least one observation */
#define BACKFILL_MAXIMA_MIXED 2 /* one timestamp is not an INTEGER: SQL computes this row's MAX */

struct backfill_maxima {
    int64_t *ids;   /* ascending */
    int64_t *max;   /* valid where flags has SEEN and not MIXED */
    uint8_t *flags;
    size_t count, alloc, cap;
    int dense;      /* ids[i] == ids[0] + i: found by subtraction */
    size_t hint;    /* the last row found: a packet's observations come together */
};

/* An empty window of at most budget_kib KiB (at least one row). */
void backfill_maxima_init(struct backfill_maxima *m, int64_t budget_kib);
void backfill_maxima_release(struct backfill_maxima *m);

/*
 * Replaces the window with the rows still at 0 with ids in [lo, snapshot],
 * at most cap of them, read by `collect` (?1 lo, ?2 snapshot, ?3 limit).
 * *final is set when no row at 0 is left after them; *next_lo is the id the
 * next window starts at.
 */
int backfill_maxima_collect(struct backfill_maxima *m, sqlite3_stmt *collect, int64_t lo,
                            int64_t snapshot, int *final, int64_t *next_lo, char **errp);

/*
 * Registers, on db, the two SQL functions the statements below call:
 * meshscope_backfill_fold(transmission_id, timestamp), which folds one
 * observation into the window and returns 1, and meshscope_backfill_value(id),
 * the maximum to store for a row of the window (NULL when the pass saw no
 * observation of it, or when SQL must compute it: see BACKFILL_MAXIMA_MIXED).
 * Running the fold inside the statement spares a sqlite3_step and column
 * calls per observation. backfill_maxima_unregister removes them.
 */
int backfill_maxima_register(struct backfill_maxima *m, sqlite3 *db, char **errp);
void backfill_maxima_unregister(sqlite3 *db);

/*
 * The pass reads id ranges of the observations table (a rowid range is read
 * in the table's own order, and without a LIMIT the fold runs flat in the
 * statement, with no subquery copying rows); an empty range is followed by a
 * seek to the next id, so gaps in the ids cost one statement each.
 */
#define BACKFILL_MAXIMA_SCAN_SQL                                                      \
    "SELECT count(meshscope_backfill_fold(transmission_id, timestamp))"               \
    " FROM observations WHERE id BETWEEN ?1 AND ?2"
#define BACKFILL_MAXIMA_NEXT_SQL "SELECT MIN(id) FROM observations WHERE id BETWEEN ?1 AND ?2"

/*
 * Folds the observations with ids in [*lo, *lo + span - 1] (within hi) into
 * the window with `scan` (BACKFILL_MAXIMA_SCAN_SQL), one statement and so one
 * short read transaction, or, when there are none, finds the next id with
 * `next`. *lo moves past them; *done is set once [*lo, hi] is exhausted.
 */
int backfill_maxima_scan(sqlite3_stmt *scan, sqlite3_stmt *next, int64_t *lo, int64_t hi,
                         int64_t span, int64_t *rows, int *done, char **errp);

#endif
