/* route_perf_sqlite.c: GET /api/perf/sqlite, the database file's shape and the worker's last checkpoint. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "encode.h"
#include "router.h"
#include "util.h"
#include "writer_stats.h"

static const char *const auto_vacuum_names[] = {"none", "full", "incremental"};

/* One integer or text pragma; -1 and *errp when the read fails, -2 when the file is locked. */
static int pragma_value(sqlite3 *db, const char *sql, int64_t *num, char **text, char **errp)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || reader_db_step(st) != SQLITE_ROW) {
        set_error(errp, "%s: %s", sql, sqlite3_errmsg(db));
        int code = sqlite3_errcode(db) & 0xff;
        sqlite3_finalize(st);
        return code == SQLITE_BUSY || code == SQLITE_LOCKED ? -2 : -1;
    }
    if (num != NULL)
        *num = sqlite3_column_int64(st, 0);
    if (text != NULL) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        *text = xstrdup(t ? (const char *)t : "");
    }
    sqlite3_finalize(st);
    return 0;
}

static struct json_object *file_bytes(const char *path, const char *suffix)
{
    char *name = xasprintf("%s%s", path, suffix);
    struct stat st;
    int present = stat(name, &st) == 0;
    free(name);
    return present ? json_object_new_int64((int64_t)st.st_size) : json_object_new_int64(0);
}

/* The freelist goes back to the file system only with auto_vacuum: say so where it cannot. */
static void add_vacuum(struct json_object *body, int64_t mode)
{
    const char *name = mode >= 0 && mode <= 2 ? auto_vacuum_names[mode] : "unknown";
    json_object_object_add(body, "autoVacuum", json_object_new_string(name));
    json_object_object_add(body, "freelistReclaimable", json_object_new_boolean(mode == 2));
    json_object_object_add(body, "freelistNote",
                           mode == 2 ? NULL
                                     : json_object_new_string(
                                           "auto_vacuum is not INCREMENTAL: free pages cannot be"
                                           " returned online; convert offline with PRAGMA"
                                           " auto_vacuum = INCREMENTAL; VACUUM while the worker"
                                           " is stopped (see the README)"));
}

static int add_file(sqlite3 *db, struct json_object *body, char **errp)
{
    int64_t page_size = 0, page_count = 0, freelist = 0, vacuum = 0;
    char *journal = NULL;
    int rc;
    if ((rc = pragma_value(db, "PRAGMA page_size", &page_size, NULL, errp)) != 0 ||
        (rc = pragma_value(db, "PRAGMA page_count", &page_count, NULL, errp)) != 0 ||
        (rc = pragma_value(db, "PRAGMA freelist_count", &freelist, NULL, errp)) != 0 ||
        (rc = pragma_value(db, "PRAGMA auto_vacuum", &vacuum, NULL, errp)) != 0 ||
        (rc = pragma_value(db, "PRAGMA journal_mode", NULL, &journal, errp)) != 0)
        return rc;
    const char *path = sqlite3_db_filename(db, "main");
    json_object_object_add(body, "pageSize", json_object_new_int64(page_size));
    json_object_object_add(body, "pageCount", json_object_new_int64(page_count));
    json_object_object_add(body, "freelistCount", json_object_new_int64(freelist));
    json_object_object_add(body, "databaseBytes", file_bytes(path ? path : "", ""));
    json_object_object_add(body, "walBytes", file_bytes(path ? path : "", "-wal"));
    json_object_object_add(body, "journalMode", json_object_new_string(journal));
    free(journal);
    add_vacuum(body, vacuum);
    return 0;
}

static struct json_object *checkpoint_json(struct responder *r)
{
    struct writer_stats ws;
    enum reader_presence presence;
    char *err = NULL;
    if (writer_stats_read(&r->reader, &ws, &presence, &err) != 0) {
        free(err);
        return NULL;
    }
    if (presence != READER_PRESENT || !ws.checkpoint.present) {
        writer_stats_free(&ws);
        return NULL;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "at", encode_json_string(ws.checkpoint.at));
    json_object_object_add(o, "walFrames", json_object_new_int64(ws.checkpoint.log_frames));
    json_object_object_add(o, "checkpointedFrames", json_object_new_int64(ws.checkpoint.done_frames));
    json_object_object_add(o, "completed", json_object_new_boolean(ws.checkpoint.completed));
    writer_stats_free(&ws);
    return o;
}

static void perf_sqlite(struct responder *r, const struct http_request *req,
                        struct http_response *resp)
{
    (void)req;
    sqlite3 *db = NULL;
    enum reader_presence presence;
    char *err = NULL;
    if (reader_db_get(&r->reader, &db, &presence, &err) != 0) {
        http_response_error(resp, 500, err);
        free(err);
        return;
    }
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "sqliteVersion", json_object_new_string(sqlite3_libversion()));
    json_object_object_add(body, "database", json_object_new_boolean(presence == READER_PRESENT));
    if (presence == READER_PRESENT) {
        int rc = add_file(db, body, &err);
        if (rc != 0) {
            json_object_put(body);
            /* The writer holds the file exclusively: try again, not a server fault. */
            if (rc == -2)
                http_response_add_header(resp, "Retry-After", "1");
            http_response_error(resp, rc == -2 ? 503 : 500, err);
            free(err);
            return;
        }
        json_object_object_add(body, "lastCheckpoint", checkpoint_json(r));
    }
    http_response_json(resp, 200, body);
}

const struct route route_perf_sqlite_entry = {
    .path = "/api/perf/sqlite",
    .handler = perf_sqlite,
};
