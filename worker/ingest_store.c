/* ingest_store.c: the ingest's own connection, its group-commit transaction and the figures row. */
#include "ingest.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "schema.h"
#include "testhook.h"
#include "timefmt.h"
#include "util.h"
#include "writer_accounting.h"
#include "writer_demand.h"

struct ingest_store {
    sqlite3 *db;
    int busy_timeout_ms;
    int64_t busy_since_ms;
    int demanding; /* announced to writer_demand while waiting for the lock */
    sqlite3_stmt *find_tx;
    sqlite3_stmt *insert_tx;
    sqlite3_stmt *find_obs;
    sqlite3_stmt *insert_obs;
    sqlite3_stmt *update_tx;
    sqlite3_stmt *write_stats;
    sqlite3_stmt *observer_packets;
    sqlite3_stmt *observer_status;
    sqlite3_stmt *savepoint, *release, *rollback_to;
};

static const char sql_find_tx[] = "SELECT id FROM transmissions WHERE hash = ?1";

/*
 * Looked up first and inserted only when missing: an INSERT .. ON CONFLICT
 * upsert would spend an AUTOINCREMENT id on every repeat observation. A new
 * transmission's only observation is this one, so it starts with
 * last_seen = timestamp.
 */
static const char sql_insert_tx[] =
    "INSERT INTO transmissions(hash, raw_hex, payload_type, first_seen, last_seen)"
    " VALUES (?1, ?2, ?3, ?4, ?4)";

/*
 * The duplicate check: MQTT delivers a message again after a reconnect, and a
 * client resends lines whose reply it lost. `IS` makes an absent observer or
 * path equal to an absent one. The index led by (transmission_id, timestamp)
 * that a new database gets makes it one seek; a legacy database's
 * observations(transmission_id) index walks the observations of that one
 * transmission (about 21 at demo scale).
 */
static const char sql_find_obs[] =
    "SELECT 1 FROM observations WHERE transmission_id = ?1 AND timestamp = ?2"
    " AND observer IS ?3 AND path_json IS ?4 LIMIT 1";

static const char sql_insert_obs[] =
    "INSERT INTO observations(transmission_id, observer, snr, rssi, path_json, timestamp)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/*
 * For a known transmission, run after its new observation is inserted. It
 * keeps raw_hex (the first seen) and may learn an earlier first_seen or a
 * missing payload_type.
 *
 * last_seen = MAX(observations.timestamp): a row with last_seen > 0 already
 * holds the maximum of its earlier observations (ingest and the backfill both
 * write exact maxima, each inside its own transaction), so the new maximum is
 * MAX(last_seen, timestamp), and a late, older observation leaves it alone. A
 * row still at 0 has not been reached by the backfill and may have older
 * observations: it gets the maximum over all of them, found through the
 * observations(transmission_id) index, after which the backfill (WHERE
 * last_seen = 0) has nothing left to do for it.
 */
static const char sql_update_tx[] =
    "UPDATE transmissions SET"
    " last_seen = CASE WHEN last_seen = 0"
    "  THEN (SELECT MAX(timestamp) FROM observations WHERE transmission_id = ?1)"
    "  ELSE MAX(last_seen, ?2) END,"
    " first_seen = MIN(first_seen, ?2),"
    " payload_type = COALESCE(payload_type, ?3)"
    " WHERE id = ?1 AND (last_seen < ?2 OR first_seen > ?2"
    "  OR (payload_type IS NULL AND ?3 IS NOT NULL))";

static const char sql_write_stats[] =
    "INSERT INTO " SCHEMA_INGEST_STATS_TABLE "(id, lines_accepted, lines_rejected, lines_acked,"
    " commits, commit_rows_max, ack_latency_p50_ms, ack_latency_p99_ms, updated_at,"
    " lines_duplicate)"
    " VALUES (1, ?1, ?2, ?3, ?4, ?5, COALESCE(?6, 0), COALESCE(?7, 0), ?8, ?9)"
    " ON CONFLICT(id) DO UPDATE SET"
    "  lines_accepted = lines_accepted + excluded.lines_accepted,"
    "  lines_duplicate = lines_duplicate + excluded.lines_duplicate,"
    "  lines_rejected = lines_rejected + excluded.lines_rejected,"
    "  lines_acked = lines_acked + excluded.lines_acked,"
    "  commits = commits + excluded.commits,"
    "  commit_rows_max = MAX(commit_rows_max, excluded.commit_rows_max),"
    "  ack_latency_p50_ms = COALESCE(?6, ack_latency_p50_ms),"
    "  ack_latency_p99_ms = COALESCE(?7, ack_latency_p99_ms),"
    "  updated_at = excluded.updated_at";

/*
 * One per observer per group commit, after the group's observations: the
 * observers row then always agrees with the observations committed with it.
 * Multi-argument MIN/MAX return NULL when an argument is NULL, hence the
 * CASEs for a row a status message created before any packet.
 */
static const char sql_observer_packets[] =
    "INSERT INTO " SCHEMA_OBSERVERS_TABLE "(id, name, region, first_packet, last_packet,"
    " packet_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT(id) DO UPDATE SET"
    "  name = COALESCE(excluded.name, name),"
    "  region = COALESCE(excluded.region, region),"
    "  first_packet = CASE WHEN first_packet IS NULL THEN excluded.first_packet"
    "   ELSE MIN(first_packet, excluded.first_packet) END,"
    "  last_packet = CASE WHEN last_packet IS NULL THEN excluded.last_packet"
    "   ELSE MAX(last_packet, excluded.last_packet) END,"
    "  packet_count = packet_count + excluded.packet_count";

/*
 * A status message replaces the status fields it carries; one older than the
 * stored status (a redelivery after a reconnect) changes nothing.
 */
static const char sql_observer_status[] =
    "INSERT INTO " SCHEMA_OBSERVERS_TABLE "(id, name, region, model, firmware, battery_mv,"
    " uptime_s, noise_floor, status_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT(id) DO UPDATE SET"
    "  name = COALESCE(excluded.name, name),"
    "  region = COALESCE(excluded.region, region),"
    "  model = COALESCE(excluded.model, model),"
    "  firmware = COALESCE(excluded.firmware, firmware),"
    "  battery_mv = COALESCE(excluded.battery_mv, battery_mv),"
    "  uptime_s = COALESCE(excluded.uptime_s, uptime_s),"
    "  noise_floor = COALESCE(excluded.noise_floor, noise_floor),"
    "  status_at = excluded.status_at"
    " WHERE status_at IS NULL OR excluded.status_at >= status_at";

/*
 * SQLite's own busy_timeout handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, ...
 * ms between attempts, so a commit queued behind a 50 ms migration batch
 * would start up to 25 ms after that batch ended, and every line of the group
 * would wait for it. The runner's transactions are short and SQLite offers
 * no wake-up when a lock is released, so poll finely: a lock attempt per
 * half millisecond costs next to nothing beside an acknowledgement's latency.
 */
static int ingest_busy(void *arg, int attempts)
{
    struct ingest_store *store = arg;
    int64_t now = clock_monotonic_ms();
    if (attempts == 0) {
        store->busy_since_ms = now;
        if (!store->demanding) {
            writer_demand_begin(); /* the migration batch commits early for us */
            store->demanding = 1;
        }
    }
    if (now - store->busy_since_ms >= store->busy_timeout_ms)
        return 0;
    usleep(attempts < 200 ? 500 : 2000);
    return 1;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt, char **errp)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) != SQLITE_OK)
        return set_error(errp, "preparing ingest statement: %s", sqlite3_errmsg(db));
    return 0;
}

int ingest_store_open(const char *db_path, int busy_timeout_ms, int durable,
                      struct ingest_store **out, char **errp)
{
    struct ingest_store *store = xcalloc(1, sizeof *store);
    if (db_open(db_path, DB_READ_WRITE, DB_ONE_THREAD, busy_timeout_ms, &store->db, errp) != 0)
        goto err;
    store->busy_timeout_ms = busy_timeout_ms;
    sqlite3_busy_handler(store->db, ingest_busy, store); /* replaces the busy_timeout one */
    /* synchronous is per connection: FULL fsyncs the WAL at each commit. */
    const char *pragmas = durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    char *sqlite_err = NULL;
    if (sqlite3_exec(store->db, pragmas, NULL, NULL, &sqlite_err) != SQLITE_OK) {
        set_error(errp, "ingest: %s", sqlite_err ? sqlite_err : sqlite3_errmsg(store->db));
        sqlite3_free(sqlite_err);
        goto err;
    }
    if (prepare(store->db, sql_find_tx, &store->find_tx, errp) != 0 ||
        prepare(store->db, sql_insert_tx, &store->insert_tx, errp) != 0 ||
        prepare(store->db, sql_find_obs, &store->find_obs, errp) != 0 ||
        prepare(store->db, sql_insert_obs, &store->insert_obs, errp) != 0 ||
        prepare(store->db, sql_update_tx, &store->update_tx, errp) != 0 ||
        prepare(store->db, sql_write_stats, &store->write_stats, errp) != 0 ||
        prepare(store->db, sql_observer_packets, &store->observer_packets, errp) != 0 ||
        prepare(store->db, sql_observer_status, &store->observer_status, errp) != 0 ||
        prepare(store->db, "SAVEPOINT line", &store->savepoint, errp) != 0 ||
        prepare(store->db, "RELEASE line", &store->release, errp) != 0 ||
        prepare(store->db, "ROLLBACK TO line", &store->rollback_to, errp) != 0)
        goto err;
    *out = store;
    return 0;

err:
    ingest_store_close(store);
    return -1;
}

void ingest_store_close(struct ingest_store *store)
{
    if (store == NULL)
        return;
    sqlite3_finalize(store->find_tx);
    sqlite3_finalize(store->insert_tx);
    sqlite3_finalize(store->find_obs);
    sqlite3_finalize(store->insert_obs);
    sqlite3_finalize(store->update_tx);
    sqlite3_finalize(store->write_stats);
    sqlite3_finalize(store->observer_packets);
    sqlite3_finalize(store->observer_status);
    sqlite3_finalize(store->savepoint);
    sqlite3_finalize(store->release);
    sqlite3_finalize(store->rollback_to);
    sqlite3_close(store->db);
    free(store);
}

/* Steps a statement that returns no row, then resets it for the next use. */
static int step_done(struct ingest_store *store, sqlite3_stmt *stmt, const char *what,
                     char **errp)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_DONE)
        return set_error(errp, "%s: %s", what, sqlite3_errmsg(store->db));
    return 0;
}

/* *tx_id gets the transmission's id, or 0 when the hash is new. */
static int find_transmission(struct ingest_store *store, const char *hash, int64_t *tx_id,
                             char **errp)
{
    sqlite3_stmt *st = store->find_tx;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *tx_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return set_error(errp, "looking up transmission: %s", sqlite3_errmsg(store->db));
    return 0;
}

static int insert_transmission(struct ingest_store *store, const struct ingest_obs *obs,
                               int64_t *tx_id, char **errp)
{
    sqlite3_stmt *st = store->insert_tx;
    sqlite3_bind_text(st, 1, obs->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, obs->raw_hex, -1, SQLITE_STATIC);
    if (obs->has_payload_type)
        sqlite3_bind_int64(st, 3, obs->payload_type);
    sqlite3_bind_int64(st, 4, obs->timestamp);
    if (step_done(store, st, "inserting transmission", errp) != 0)
        return -1;
    *tx_id = sqlite3_last_insert_rowid(store->db);
    return 0;
}

/* Binds the fields that identify an observation of `tx_id`: ?1 to ?4 of sql_find_obs. */
static void bind_identity(sqlite3_stmt *st, int64_t tx_id, const struct ingest_obs *obs)
{
    sqlite3_bind_int64(st, 1, tx_id);
    sqlite3_bind_int64(st, 2, obs->timestamp);
    if (obs->observer != NULL)
        sqlite3_bind_text(st, 3, obs->observer, -1, SQLITE_STATIC);
    if (obs->path_json != NULL)
        sqlite3_bind_text(st, 4, obs->path_json, -1, SQLITE_STATIC);
}

static int find_observation(struct ingest_store *store, int64_t tx_id,
                            const struct ingest_obs *obs, int *found, char **errp)
{
    sqlite3_stmt *st = store->find_obs;
    bind_identity(st, tx_id, obs);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return set_error(errp, "looking up observation: %s", sqlite3_errmsg(store->db));
    *found = rc == SQLITE_ROW;
    return 0;
}

static int insert_observation(struct ingest_store *store, int64_t tx_id,
                              const struct ingest_obs *obs, char **errp)
{
    sqlite3_stmt *st = store->insert_obs;
    sqlite3_bind_int64(st, 1, tx_id);
    if (obs->observer != NULL)
        sqlite3_bind_text(st, 2, obs->observer, -1, SQLITE_STATIC);
    if (obs->has_snr)
        sqlite3_bind_double(st, 3, obs->snr);
    if (obs->has_rssi)
        sqlite3_bind_double(st, 4, obs->rssi);
    if (obs->path_json != NULL)
        sqlite3_bind_text(st, 5, obs->path_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, obs->timestamp);
    return step_done(store, st, "inserting observation", errp);
}

static int update_transmission(struct ingest_store *store, int64_t tx_id,
                               const struct ingest_obs *obs, char **errp)
{
    sqlite3_stmt *st = store->update_tx;
    sqlite3_bind_int64(st, 1, tx_id);
    sqlite3_bind_int64(st, 2, obs->timestamp);
    if (obs->has_payload_type)
        sqlite3_bind_int64(st, 3, obs->payload_type);
    return step_done(store, st, "updating transmission", errp);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int store_status(struct ingest_store *store, const struct ingest_obs *obs, char **errp)
{
    sqlite3_stmt *st = store->observer_status;
    sqlite3_bind_text(st, 1, obs->observer, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, obs->observer_name);
    bind_text_or_null(st, 3, obs->region);
    bind_text_or_null(st, 4, obs->model);
    bind_text_or_null(st, 5, obs->firmware);
    if (obs->has_battery_mv)
        sqlite3_bind_int64(st, 6, obs->battery_mv);
    if (obs->has_uptime_s)
        sqlite3_bind_int64(st, 7, obs->uptime_s);
    if (obs->has_noise_floor)
        sqlite3_bind_double(st, 8, obs->noise_floor);
    sqlite3_bind_int64(st, 9, obs->timestamp);
    return step_done(store, st, "storing observer status", errp);
}

/* One observer's share of a group: the lines stored for it. */
struct observer_tally {
    const struct ingest_obs *first; /* its first stored line: the observer's id */
    const char *name, *region;      /* the group's last given values */
    int64_t count, min_ts, max_ts;
};

/* Sums the group's stored observations per observer; *tallies is on the heap. */
static size_t tally_observers(const struct ingest_obs *const *obs, size_t n,
                              const struct ingest_result *results,
                              struct observer_tally **tallies)
{
    struct observer_tally *t = xcalloc(n > 0 ? n : 1, sizeof *t);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ingest_obs *o = obs[i];
        if (results[i].outcome != INGEST_STORED || o->kind != INGEST_KIND_OBSERVATION ||
            o->observer == NULL)
            continue;
        size_t k = 0;
        while (k < count && strcmp(t[k].first->observer, o->observer) != 0)
            k++;
        if (k == count)
            t[count++] = (struct observer_tally){.first = o, .min_ts = o->timestamp,
                                                 .max_ts = o->timestamp};
        t[k].count++;
        t[k].min_ts = o->timestamp < t[k].min_ts ? o->timestamp : t[k].min_ts;
        t[k].max_ts = o->timestamp > t[k].max_ts ? o->timestamp : t[k].max_ts;
        t[k].name = o->observer_name ? o->observer_name : t[k].name;
        t[k].region = o->region ? o->region : t[k].region;
    }
    *tallies = t;
    return count;
}

/* The group's one upsert per observer, inside its transaction. */
static int store_observers(struct ingest_store *store, const struct ingest_obs *const *obs,
                           size_t n, const struct ingest_result *results, char **errp)
{
    struct observer_tally *t = NULL;
    size_t count = tally_observers(obs, n, results, &t);
    int rc = 0;
    for (size_t k = 0; k < count && rc == 0; k++) {
        sqlite3_stmt *st = store->observer_packets;
        sqlite3_bind_text(st, 1, t[k].first->observer, -1, SQLITE_STATIC);
        bind_text_or_null(st, 2, t[k].name);
        bind_text_or_null(st, 3, t[k].region);
        sqlite3_bind_int64(st, 4, t[k].min_ts);
        sqlite3_bind_int64(st, 5, t[k].max_ts);
        sqlite3_bind_int64(st, 6, t[k].count);
        rc = step_done(store, st, "updating observer", errp);
    }
    free(t);
    return rc;
}

/*
 * One line's statements. A duplicate writes nothing: the stored copy already
 * counted in its transmission's first_seen, last_seen and payload_type.
 */
static int store_one(struct ingest_store *store, const struct ingest_obs *obs,
                     enum ingest_outcome *outcome, char **errp)
{
    if (obs->kind == INGEST_KIND_OBSERVER_STATUS) {
        *outcome = INGEST_STORED;
        return store_status(store, obs, errp);
    }
    int64_t tx_id = 0;
    if (find_transmission(store, obs->hash, &tx_id, errp) != 0)
        return -1;
    *outcome = INGEST_STORED;
    if (tx_id == 0) {
        if (insert_transmission(store, obs, &tx_id, errp) != 0)
            return -1;
        return insert_observation(store, tx_id, obs, errp);
    }
    int found = 0;
    if (find_observation(store, tx_id, obs, &found, errp) != 0)
        return -1;
    if (found) {
        *outcome = INGEST_DUPLICATE;
        return 0;
    }
    if (insert_observation(store, tx_id, obs, errp) != 0)
        return -1;
    return update_transmission(store, tx_id, obs, errp);
}

/*
 * Runs one line inside its own savepoint, so its failure undoes only its own
 * statements. Returns 0 when the group goes on (the line stored, a duplicate,
 * or failed and undone), 1 when its failure ended the whole transaction
 * (SQLite rolls back everything for SQLITE_FULL, which is also what running
 * out of AUTOINCREMENT ids returns, and for some I/O errors), -1 when the
 * savepoint itself failed.
 */
static int store_isolated(struct ingest_store *store, const struct ingest_obs *obs,
                          struct ingest_result *result, char **errp)
{
    if (step_done(store, store->savepoint, "opening the line's savepoint", errp) != 0)
        return -1;
    char *err = NULL;
    if (store_one(store, obs, &result->outcome, &err) == 0)
        return step_done(store, store->release, "releasing the line's savepoint", errp);
    result->outcome = INGEST_FAILED;
    free(result->error);
    result->error = err;
    if (sqlite3_get_autocommit(store->db))
        return 1;
    if (step_done(store, store->rollback_to, "undoing the line", errp) != 0 ||
        step_done(store, store->release, "releasing the line's savepoint", errp) != 0)
        return -1;
    return 0;
}

static int write_stats(struct ingest_store *store, const struct ingest_stats_delta *delta,
                       char **errp)
{
    char now[TIMEFMT_RFC3339_LEN];
    timefmt_rfc3339(clock_realtime_ms() / 1000, now);
    sqlite3_stmt *st = store->write_stats;
    sqlite3_bind_int64(st, 1, delta->accepted);
    sqlite3_bind_int64(st, 2, delta->rejected);
    sqlite3_bind_int64(st, 3, delta->acked);
    sqlite3_bind_int64(st, 4, delta->commits);
    sqlite3_bind_int64(st, 5, delta->commit_rows_max);
    if (delta->has_latency) {
        sqlite3_bind_double(st, 6, delta->p50_ms);
        sqlite3_bind_double(st, 7, delta->p99_ms);
    }
    sqlite3_bind_text(st, 8, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, delta->duplicates);
    return step_done(store, st, "writing ingest figures", errp);
}

/* Adds the outcomes of a group to the figures it commits with. */
static void tally(const struct ingest_result *results, size_t n, struct ingest_stats_delta *d)
{
    int64_t committed = 0;
    for (size_t i = 0; i < n; i++) {
        switch (results[i].outcome) {
        case INGEST_STORED:
            d->accepted++;
            committed++;
            break;
        case INGEST_DUPLICATE:
            d->duplicates++;
            committed++;
            break;
        case INGEST_FAILED:
            d->rejected++;
            break;
        }
    }
    d->acked += committed;
    if (committed > 0)
        d->commits++;
    if (committed > d->commit_rows_max)
        d->commit_rows_max = committed;
}

static int begin_immediate(struct ingest_store *store, int64_t *wait_us, char **errp)
{
    int64_t asked = clock_monotonic_us();
    /*
     * IMMEDIATE takes the write lock up front, so busy_timeout covers the wait
     * for the migration runner's current batch; a deferred transaction would
     * fail with SQLITE_BUSY on upgrading its read lock instead of waiting.
     */
    int rc = db_exec(store->db, "BEGIN IMMEDIATE", "BEGIN IMMEDIATE", errp);
    if (store->demanding) {
        writer_demand_end();
        store->demanding = 0;
    }
    *wait_us = clock_monotonic_us() - asked;
    return rc;
}

/*
 * One attempt at the group: 0 committed, 1 a line's failure ended the
 * transaction (that line is now marked failed; the caller tries again
 * without it), -1 the transaction failed.
 */
static int commit_attempt(struct ingest_store *store, const struct ingest_obs *const *obs,
                          size_t n, struct ingest_result *results,
                          const struct ingest_stats_delta *delta, char **errp)
{
    int64_t wait_us = 0;
    if (begin_immediate(store, &wait_us, errp) != 0)
        return -1;
    int64_t held_from = clock_monotonic_us();
    for (size_t i = 0; i < n; i++) {
        if (results[i].outcome == INGEST_FAILED)
            continue;
        int rc = store_isolated(store, obs[i], &results[i], errp);
        if (rc == 1)
            return 1;
        if (rc < 0)
            goto err;
    }
    if (store_observers(store, obs, n, results, errp) != 0)
        goto err;
    struct ingest_stats_delta d = *delta;
    tally(results, n, &d);
    if (write_stats(store, &d, errp) != 0)
        goto err;
    /* A figures-only write always carries them; a group commit at most once a second. */
    int64_t due_at = n == 0 ? INT64_MAX / 2 : clock_monotonic_ms();
    if (writer_acct_flush_due(due_at) && writer_acct_write(store->db, errp) != 0)
        goto err;
    if (n > 0) /* a group commit of lines, not a figures-only write */
        testhook_pause(TESTHOOK_INGEST_COMMIT);
    if (db_exec(store->db, "COMMIT", "COMMIT", errp) != 0)
        goto err;
    writer_acct_record(WRITER_SOURCE_INGEST, wait_us, clock_monotonic_us() - held_from);
    return 0;

err:
    /* A failed COMMIT may have rolled back already; ROLLBACK then fails harmlessly. */
    sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int ingest_store_commit(struct ingest_store *store, const struct ingest_obs *const *obs,
                        size_t n, struct ingest_result *results,
                        const struct ingest_stats_delta *delta, char **errp)
{
    for (size_t i = 0; i < n; i++)
        results[i] = (struct ingest_result){.outcome = INGEST_STORED};
    /* Each attempt that ends with 1 marks one more line failed: at most n + 1 attempts. */
    int rc;
    while ((rc = commit_attempt(store, obs, n, results, delta, errp)) == 1)
        ;
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            free(results[i].error);
            results[i].error = NULL;
        }
    }
    return rc;
}

int ingest_store_write_stats(struct ingest_store *store, const struct ingest_stats_delta *delta,
                             char **errp)
{
    return ingest_store_commit(store, NULL, 0, NULL, delta, errp);
}
