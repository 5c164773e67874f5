/* writer_accounting.c: per-source wait and hold histograms of the worker's write transactions. */
#include "writer_accounting.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "rate_limit.h"
#include "util.h"

struct source_figures {
    char name[64];
    int64_t transactions, wait_sum_us, hold_sum_us, hold_max_us;
    int64_t wait_buckets[WRITER_STATS_BUCKETS + 1], hold_buckets[WRITER_STATS_BUCKETS + 1];
};

static const int64_t bounds_us[WRITER_STATS_BUCKETS] = WRITER_STATS_BOUNDS_US;

/* Ingest and the migration runner record from their own threads. */
static pthread_mutex_t acct_lock = PTHREAD_MUTEX_INITIALIZER;
static struct source_figures sources[WRITER_ACCT_MAX_SOURCES];
static size_t source_count;
static int64_t slow_hold_us = WRITER_ACCT_DEFAULT_SLOW_HOLD_MS * 1000;
static struct rate_limiter slow_log = {.interval_ms = 1000};
static int dirty;
static int64_t written_ms;
static struct {
    int present, log_frames, done_frames, completed;
    int64_t at; /* Unix seconds */
} last_checkpoint;

void writer_acct_configure(int64_t slow_hold_ms)
{
    pthread_mutex_lock(&acct_lock);
    slow_hold_us = slow_hold_ms * 1000;
    rate_limiter_init(&slow_log, 1000);
    pthread_mutex_unlock(&acct_lock);
}

static int bucket_of(int64_t us)
{
    int b = 0;
    while (b < WRITER_STATS_BUCKETS && us > bounds_us[b])
        b++;
    return b;
}

/* Called with acct_lock held. */
static struct source_figures *find_source(const char *name)
{
    for (size_t i = 0; i < source_count; i++)
        if (strcmp(sources[i].name, name) == 0)
            return &sources[i];
    if (source_count == WRITER_ACCT_MAX_SOURCES)
        return &sources[WRITER_ACCT_MAX_SOURCES - 1]; /* a bounded table, never a lost count */
    struct source_figures *s = &sources[source_count++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

int writer_acct_step_progress(sqlite3_stmt *stmt)
{
    int alone = sqlite3_get_autocommit(sqlite3_db_handle(stmt));
    int64_t began = clock_monotonic_us();
    int rc = sqlite3_step(stmt);
    if (alone)
        writer_acct_record(WRITER_SOURCE_PROGRESS, 0, clock_monotonic_us() - began);
    return rc;
}

int writer_txn_begin(sqlite3 *db, const char *source, const char *what, struct writer_txn *txn,
                     char **errp)
{
    int64_t asked = clock_monotonic_us();
    if (db_exec(db, "BEGIN IMMEDIATE", what, errp) != 0)
        return -1;
    txn->source = source;
    txn->held_from_us = clock_monotonic_us();
    txn->wait_us = txn->held_from_us - asked;
    return 0;
}

int writer_txn_commit(sqlite3 *db, const struct writer_txn *txn, const char *what, char **errp)
{
    if (db_exec(db, "COMMIT", what, errp) != 0)
        return -1;
    writer_acct_record(txn->source, txn->wait_us, clock_monotonic_us() - txn->held_from_us);
    return 0;
}

void writer_acct_record(const char *source, int64_t wait_us, int64_t hold_us)
{
    if (wait_us < 0)
        wait_us = 0;
    if (hold_us < 0)
        hold_us = 0;
    int64_t held_back = 0;
    int log_it = 0;
    pthread_mutex_lock(&acct_lock);
    struct source_figures *s = find_source(source);
    s->transactions++;
    s->wait_sum_us += wait_us;
    s->hold_sum_us += hold_us;
    if (hold_us > s->hold_max_us)
        s->hold_max_us = hold_us;
    s->wait_buckets[bucket_of(wait_us)]++;
    s->hold_buckets[bucket_of(hold_us)]++;
    dirty = 1;
    if (slow_hold_us > 0 && hold_us > slow_hold_us)
        log_it = rate_limiter_allow(&slow_log, clock_monotonic_ms(), &held_back);
    int64_t limit_ms = slow_hold_us / 1000;
    pthread_mutex_unlock(&acct_lock);
    if (log_it)
        log_warnx("writer: slow hold of %.1f ms by %s (over %lld ms; %lld more since the last"
                  " report)",
                  (double)hold_us / 1000.0, source, (long long)limit_ms, (long long)held_back);
}

void writer_acct_checkpoint(int log_frames, int done_frames, int completed)
{
    int64_t at = (int64_t)time(NULL);
    pthread_mutex_lock(&acct_lock);
    last_checkpoint.present = 1;
    last_checkpoint.log_frames = log_frames;
    last_checkpoint.done_frames = done_frames;
    last_checkpoint.completed = completed;
    last_checkpoint.at = at;
    dirty = 1;
    pthread_mutex_unlock(&acct_lock);
}

int writer_acct_flush_due(int64_t now_ms)
{
    pthread_mutex_lock(&acct_lock);
    int due = dirty && now_ms - written_ms >= 1000;
    pthread_mutex_unlock(&acct_lock);
    return due;
}

static void buckets_text(const int64_t *counts, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int b = 0; b <= WRITER_STATS_BUCKETS && used < len; b++)
        used += (size_t)snprintf(buf + used, len - used, b ? " %lld" : "%lld",
                                 (long long)counts[b]);
}

static const char upsert_sql[] =
    "INSERT INTO " SCHEMA_WRITER_STATS_TABLE "(source, transactions, wait_sum_us, hold_sum_us,"
    " hold_max_us, wait_buckets, hold_buckets, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, datetime('now'))"
    " ON CONFLICT(source) DO UPDATE SET transactions = ?2, wait_sum_us = ?3, hold_sum_us = ?4,"
    " hold_max_us = ?5, wait_buckets = ?6, hold_buckets = ?7, updated_at = datetime('now')";
static const char checkpoint_sql[] =
    "INSERT INTO " SCHEMA_WRITER_STATS_TABLE "(source, checkpoint_at, checkpoint_log_frames,"
    " checkpoint_done_frames, checkpoint_completed) VALUES ('" WRITER_SOURCE_CHECKPOINT "',"
    " datetime(?1, 'unixepoch'), ?2, ?3, ?4) ON CONFLICT(source) DO UPDATE SET"
    " checkpoint_at = datetime(?1, 'unixepoch'), checkpoint_log_frames = ?2,"
    " checkpoint_done_frames = ?3, checkpoint_completed = ?4";

static int write_source(sqlite3_stmt *st, const struct source_figures *s)
{
    char waits[WRITER_STATS_BUCKETS * 24], holds[WRITER_STATS_BUCKETS * 24];
    buckets_text(s->wait_buckets, waits, sizeof waits);
    buckets_text(s->hold_buckets, holds, sizeof holds);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, s->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, s->transactions);
    sqlite3_bind_int64(st, 3, s->wait_sum_us);
    sqlite3_bind_int64(st, 4, s->hold_sum_us);
    sqlite3_bind_int64(st, 5, s->hold_max_us);
    sqlite3_bind_text(st, 6, waits, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, holds, -1, SQLITE_TRANSIENT);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

static int write_checkpoint(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, checkpoint_sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, last_checkpoint.at);
    sqlite3_bind_int(st, 2, last_checkpoint.log_frames);
    sqlite3_bind_int(st, 3, last_checkpoint.done_frames);
    sqlite3_bind_int(st, 4, last_checkpoint.completed);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int writer_acct_write(sqlite3 *db, char **errp)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, upsert_sql, -1, &st, NULL) != SQLITE_OK)
        return set_error(errp, "writing %s: %s", SCHEMA_WRITER_STATS_TABLE, sqlite3_errmsg(db));
    int rc = 0;
    pthread_mutex_lock(&acct_lock);
    for (size_t i = 0; i < source_count && rc == 0; i++)
        rc = write_source(st, &sources[i]);
    if (rc == 0 && last_checkpoint.present)
        rc = write_checkpoint(db);
    if (rc == 0) {
        dirty = 0;
        written_ms = clock_monotonic_ms();
    }
    pthread_mutex_unlock(&acct_lock);
    sqlite3_finalize(st);
    if (rc != 0)
        return set_error(errp, "writing %s: %s", SCHEMA_WRITER_STATS_TABLE, sqlite3_errmsg(db));
    return 0;
}

int writer_acct_write_alone(sqlite3 *db, char **errp)
{
    if (!writer_acct_flush_due(INT64_MAX / 2))
        return 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "writing %s: %s", SCHEMA_WRITER_STATS_TABLE, sqlite3_errmsg(db));
    if (writer_acct_write(db, errp) != 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return set_error(errp, "writing %s: %s", SCHEMA_WRITER_STATS_TABLE, sqlite3_errmsg(db));
    }
    return 0;
}

int64_t writer_acct_hold_sum_us(const char *source)
{
    int64_t sum = 0;
    pthread_mutex_lock(&acct_lock);
    for (size_t i = 0; i < source_count; i++)
        if (strcmp(sources[i].name, source) == 0)
            sum = sources[i].hold_sum_us;
    pthread_mutex_unlock(&acct_lock);
    return sum;
}

void writer_acct_reset_for_test(void)
{
    pthread_mutex_lock(&acct_lock);
    memset(sources, 0, sizeof sources);
    source_count = 0;
    memset(&last_checkpoint, 0, sizeof last_checkpoint);
    dirty = 0;
    written_ms = 0;
    pthread_mutex_unlock(&acct_lock);
}
