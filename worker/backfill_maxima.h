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
 * the memory budget it was given, whatever the data. One 8-byte word a row
 * carries both the maximum and its state, so the pass touches one place per
 * observation:
 */
#define BACKFILL_MAXIMA_ROW_BYTES (2 * sizeof(int64_t))
#define BACKFILL_MAXIMA_UNSEEN INT64_MIN /* no observation yet */
/* SQL computes this row's MAX: a timestamp was not an INTEGER, or was one of
 * these two values, which a maximum cannot then be told from. */
#define BACKFILL_MAXIMA_MIXED (INT64_MIN + 1)

struct backfill_maxima {
    int64_t *ids;   /* ascending */
    int64_t *max;   /* the maximum, or UNSEEN or MIXED */
    size_t count, alloc, cap;
    int dense;      /* ids[i] == ids[0] + i: found by subtraction */
    size_t hint;    /* the last row found: a packet's observations come together */
    int64_t folded; /* observations the pass read */
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
 * observation into the window and returns 1 (so the scan statement returns
 * no row and aggregates nothing), and meshscope_backfill_value(id),
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
    "SELECT 1 FROM observations WHERE id BETWEEN ?1 AND ?2"                             \
    " AND meshscope_backfill_fold(transmission_id, timestamp) = 0"
#define BACKFILL_MAXIMA_NEXT_SQL "SELECT MIN(id) FROM observations WHERE id BETWEEN ?1 AND ?2"

/*
 * Folds the observations with ids in [*lo, *lo + span - 1] (within hi) into
 * the window with `scan` (BACKFILL_MAXIMA_SCAN_SQL), one statement and so one
 * short read transaction, or, when there are none, finds the next id with
 * `next`. *lo moves past them; *done is set once [*lo, hi] is exhausted.
 */
int backfill_maxima_scan(struct backfill_maxima *m, sqlite3_stmt *scan, sqlite3_stmt *next,
                         int64_t *lo, int64_t hi, int64_t span, int64_t *rows, int *done,
                         char **errp);

#endif
