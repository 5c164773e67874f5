/* reader_db.c: the responder's read-only SQLite connection (design §1, §9). */
#include <errno.h>
#include <sys/stat.h>

#include "responder.h"
#include "schema.h"
#include "util.h"

/* Short: a reader must answer quickly even when something holds an exclusive lock. */
#define READER_BUSY_TIMEOUT_MS 250

enum reader_db_state reader_db_get(struct responder *r, sqlite3 **db, char **errp)
{
    if (r->db != NULL) {
        *db = r->db;
        return READER_DB_OK;
    }
    struct stat st;
    if (stat(r->db_path, &st) != 0 && errno == ENOENT)
        return READER_DB_MISSING;

    sqlite3 *conn = NULL;
    int rc = sqlite3_open_v2(r->db_path, &conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        set_error(errp, "cannot open database: %s",
                  conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
        sqlite3_close(conn);
        return READER_DB_ERROR;
    }
    char *err = NULL;
    if (schema_configure_connection(conn, READER_BUSY_TIMEOUT_MS, &err) != 0 ||
        sqlite3_exec(conn, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "cannot configure database: %s", err ? err : sqlite3_errmsg(conn));
        free(err);
        sqlite3_close(conn);
        return READER_DB_ERROR;
    }
    r->db = conn;
    *db = conn;
    return READER_DB_OK;
}

void reader_db_close(struct responder *r)
{
    sqlite3_close(r->db);
    r->db = NULL;
}
