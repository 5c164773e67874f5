/* backfill_maxima.c: per-transmission maxima of the backfill, computed in memory in the table's own order. */
#include "backfill_maxima.h"

#include <inttypes.h>
#include <string.h>

#include "util.h"

void backfill_maxima_init(struct backfill_maxima *m, int64_t budget_kib)
{
    memset(m, 0, sizeof *m);
    uint64_t cap = (uint64_t)budget_kib * 1024u / BACKFILL_MAXIMA_ROW_BYTES;
    m->cap = cap < 1 ? 1 : (size_t)cap;
}

void backfill_maxima_release(struct backfill_maxima *m)
{
    free(m->ids);
    free(m->max);
    m->ids = m->max = NULL;
    m->count = m->alloc = 0;
}

/* Grows the arrays by doubling, never past cap, so a small database costs little. */
static void backfill_maxima_grow(struct backfill_maxima *m)
{
    size_t next = m->alloc ? m->alloc * 2 : 1024;
    if (next > m->cap)
        next = m->cap;
    m->ids = xrealloc(m->ids, next * sizeof *m->ids);
    m->max = xrealloc(m->max, next * sizeof *m->max);
    m->alloc = next;
}

int backfill_maxima_collect(struct backfill_maxima *m, sqlite3_stmt *collect, int64_t lo,
                            int64_t snapshot, int *final, int64_t *next_lo, char **errp)
{
    m->count = m->hint = 0;
    sqlite3_reset(collect);
    sqlite3_bind_int64(collect, 1, lo);
    sqlite3_bind_int64(collect, 2, snapshot);
    /* One row more than fits says whether another window follows. */
    sqlite3_bind_int64(collect, 3, (int64_t)m->cap + 1);
    int rc;
    *final = 1;
    while ((rc = sqlite3_step(collect)) == SQLITE_ROW) {
        if (m->count == m->cap) {
            *final = 0;
            break;
        }
        if (m->count == m->alloc)
            backfill_maxima_grow(m);
        m->ids[m->count] = sqlite3_column_int64(collect, 0);
        m->max[m->count] = BACKFILL_MAXIMA_UNSEEN;
        m->count++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_error(errp, "reading the rows to fill from id %" PRId64 " failed: %s", lo,
                  sqlite3_errmsg(sqlite3_db_handle(collect)));
        sqlite3_reset(collect);
        return -1;
    }
    sqlite3_reset(collect);
    int64_t last = m->count ? m->ids[m->count - 1] : snapshot;
    if (last >= snapshot)
        *final = 1; /* also keeps next_lo from overflowing past INT64_MAX */
    *next_lo = *final ? snapshot : last + 1;
    /* Unsigned: the span of INT64_MIN..INT64_MAX does not fit an int64_t. */
    m->dense = m->count > 0 &&
               (uint64_t)m->ids[m->count - 1] - (uint64_t)m->ids[0] == (uint64_t)(m->count - 1);
    return 0;
}

/* The window's row for a transmission id, or SIZE_MAX when it is not in the window. */
static size_t backfill_maxima_find(struct backfill_maxima *m, int64_t id)
{
    if (m->count == 0)
        return SIZE_MAX;
    if (m->dense) {
        uint64_t off = (uint64_t)id - (uint64_t)m->ids[0];
        return id >= m->ids[0] && off < m->count ? (size_t)off : SIZE_MAX;
    }
    if (m->ids[m->hint] == id)
        return m->hint;
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == m->count || m->ids[lo] != id)
        return SIZE_MAX;
    m->hint = lo;
    return lo;
}

/*
 * One observation. Only an INTEGER transmission_id can equal a rowid (both
 * columns have INTEGER affinity, so SQLite converts neither side), and only
 * INTEGER timestamps are compared here; any other type hands the row to SQL,
 * whose MAX orders NULL < numbers < TEXT < BLOB.
 */
static void backfill_maxima_fold(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct backfill_maxima *m = sqlite3_user_data(ctx);
    sqlite3_result_int(ctx, 1);
    m->folded++;
    if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER)
        return;
    size_t i = backfill_maxima_find(m, sqlite3_value_int64(argv[0]));
    if (i == SIZE_MAX)
        return;
    int64_t cur = m->max[i];
    if (cur == BACKFILL_MAXIMA_MIXED)
        return;
    if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
        m->max[i] = BACKFILL_MAXIMA_MIXED;
        return;
    }
    int64_t ts = sqlite3_value_int64(argv[1]);
    if (ts <= BACKFILL_MAXIMA_MIXED)
        m->max[i] = BACKFILL_MAXIMA_MIXED;
    else if (ts > cur) /* UNSEEN is below every other value */
        m->max[i] = ts;
}

static void backfill_maxima_value(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct backfill_maxima *m = sqlite3_user_data(ctx);
    if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER)
        return; /* NULL */
    size_t i = backfill_maxima_find(m, sqlite3_value_int64(argv[0]));
    if (i != SIZE_MAX && m->max[i] != BACKFILL_MAXIMA_UNSEEN && m->max[i] != BACKFILL_MAXIMA_MIXED)
        sqlite3_result_int64(ctx, m->max[i]);
}

int backfill_maxima_register(struct backfill_maxima *m, sqlite3 *db, char **errp)
{
    /* DIRECTONLY: never callable from a trigger or view the database might hold. */
    int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    if (sqlite3_create_function_v2(db, "meshscope_backfill_fold", 2, flags, m,
                                   backfill_maxima_fold, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(db, "meshscope_backfill_value", 1, flags, m,
                                   backfill_maxima_value, NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "registering the backfill's functions failed: %s",
                         sqlite3_errmsg(db));
    return 0;
}

void backfill_maxima_unregister(sqlite3 *db)
{
    int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    sqlite3_create_function_v2(db, "meshscope_backfill_fold", 2, flags, NULL, NULL, NULL, NULL,
                               NULL);
    sqlite3_create_function_v2(db, "meshscope_backfill_value", 1, flags, NULL, NULL, NULL, NULL,
                               NULL);
}

/* Steps a statement that returns one integer; *is_null when it is NULL. */
static int backfill_maxima_one(sqlite3_stmt *stmt, int64_t a, int64_t b, int64_t *value,
                               int *is_null, char **errp)
{
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, a);
    sqlite3_bind_int64(stmt, 2, b);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        set_error(errp, "reading observations %" PRId64 "..%" PRId64 " failed: %s", a, b,
                  rc == SQLITE_DONE ? "no row returned" : sqlite3_errmsg(sqlite3_db_handle(stmt)));
        sqlite3_reset(stmt);
        return -1;
    }
    *is_null = sqlite3_column_type(stmt, 0) == SQLITE_NULL;
    *value = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt); /* ends the statement's read transaction */
    return 0;
}

int backfill_maxima_scan(struct backfill_maxima *m, sqlite3_stmt *scan, sqlite3_stmt *next,
                         int64_t *lo, int64_t hi, int64_t span, int64_t *rows, int *done,
                         char **errp)
{
    /* Unsigned: the distance from INT64_MIN to hi does not fit an int64_t. */
    int64_t end = (uint64_t)hi - (uint64_t)*lo < (uint64_t)span ? hi : *lo + (span - 1);
    int64_t before = m->folded, found = 0;
    int is_null = 0;
    sqlite3_reset(scan);
    sqlite3_bind_int64(scan, 1, *lo);
    sqlite3_bind_int64(scan, 2, end);
    int rc = sqlite3_step(scan);
    sqlite3_reset(scan); /* ends the statement's read transaction */
    if (rc != SQLITE_DONE)
        return set_error(errp, "reading observations %" PRId64 "..%" PRId64 " failed: %s", *lo,
                         end, rc == SQLITE_ROW ? "the fold returned 0"
                                               : sqlite3_errmsg(sqlite3_db_handle(scan)));
    int64_t n = m->folded - before;
    *rows += n;
    *done = end >= hi;
    if (*done)
        return 0;
    if (n > 0) {
        *lo = end + 1;
        return 0;
    }
    if (backfill_maxima_one(next, end + 1, hi, &found, &is_null, errp) != 0)
        return -1;
    *done = is_null;
    if (!is_null)
        *lo = found;
    return 0;
}
