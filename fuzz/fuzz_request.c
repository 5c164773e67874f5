/* fuzz_request.c: libFuzzer target over request parsing, validation and routing (request_answer). */
/*
 * One input is one request: a flags byte, then NUL-separated fields in the
 * order REQUEST_METHOD, REQUEST_URI, QUERY_STRING, SCRIPT_NAME, PATH_INFO.
 * Bit i of the flags byte makes field i absent (NULL), as a missing CGI
 * variable would be; missing trailing fields are absent too.
 *
 * It runs against one long-lived responder over a small database full of
 * awkward values (invalid UTF-8, unparseable times, zero elapsed time,
 * infinite latencies), as a pool member would between restarts. Besides the
 * sanitizers, every answer must keep the contract of docs/api.md: a known
 * status and never a 500 on a healthy database, Cache-Control: no-store, a
 * Content-Length that matches, and a JSON body that strict json-c accepts
 * as valid UTF-8 with no NaN or Infinity in it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "poolstats.h"
#include "migrations.h"
#include "request.h"
#include "responder.h"
#include "router.h"
#include "schema.h"
#include "util.h"

#define FIELD_COUNT 5

static struct responder responder;
static char db_dir[] = "/tmp/meshscope-fuzz-XXXXXX";
static char *db_path;

static const char seed_sql[] =
    "INSERT INTO transmissions(id, hash, raw_hex, payload_type, first_seen, last_seen) VALUES"
    " (1, 'aa01', '0a0b', 4, 1760000000, 1760000100),"
    " (2, CAST(X'fffe225c0041' AS TEXT), '', NULL, -1, 0),"
    " (3, 'big', 'ff', 9223372036854775807, 9223372036854775807, -9223372036854775808),"
    " (4, '<script>\"x\"</script>', 'zz', -1, 0, 1);"
    "INSERT INTO observations(transmission_id, observer, snr, rssi, path_json, timestamp) VALUES"
    " (1, 'o1', -7.5, -101, '[\"a3\"]', 1760000100), (1, NULL, 1e308, -1e308, 'not json', 0),"
    " (3, CAST(X'c328' AS TEXT), NULL, NULL, NULL, 9223372036854775807);"
    "INSERT INTO _async_migrations(name, status, started_at, ended_at, error, rows_processed,"
    " rows_total, last_update_at) VALUES"
    " ('a_running', 'pending_async', datetime('now'), NULL, NULL, 12000, 71000, NULL),"
    " ('b_zero_elapsed', 'pending_async', datetime('now'), NULL, NULL, 0, 0,"
    "  strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),"
    " ('c_done', 'done', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 'ignored', 5, 5,"
    "  '2026-01-01T00:00:00Z'),"
    " ('d_failed', 'failed', '2026-01-01 00:00:00', 'garbage', CAST(X'ff220a' AS TEXT), -5,"
    "  -9223372036854775808, '9999-99-99T99:99:99Z'),"
    " ('e_bogus', 'bogus', 'not a time', NULL, 'err', 9223372036854775807, 1, ''),"
    " (CAST(X'e282' AS TEXT), 'pending_async', '1970-01-01 00:00:00', NULL, NULL,"
    "  9223372036854775807, 9223372036854775807, '1970-01-01T00:00:00Z');"
    "INSERT INTO _ingest_stats(id, lines_accepted, lines_rejected, lines_acked, commits,"
    " commit_rows_max, ack_latency_p50_ms, ack_latency_p99_ms, updated_at) VALUES"
    " (1, 9223372036854775807, -1, 0, 0, 0, 1e999, -1e999, CAST(X'ff' AS TEXT));";

static void cleanup(void)
{
    reader_db_close(&responder.reader);
    poolstats_close(responder.stats);
    migration_cache_destroy(&responder.migrations);
    char *wal = xasprintf("%s-wal", db_path), *shm = xasprintf("%s-shm", db_path);
    unlink(wal);
    unlink(shm);
    unlink(db_path);
    rmdir(db_dir);
    free(wal);
    free(shm);
    free(db_path);
}

static int64_t fixed_clock_ms(void)
{
    return INT64_C(1795600805000); /* 2026-11-25 10:00:05 UTC */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (mkdtemp(db_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    db_path = xasprintf("%s/fuzz.db", db_dir);
    sqlite3 *db = NULL;
    char *err = NULL;
    if (sqlite3_open(db_path, &db) != SQLITE_OK || schema_upgrade(db, &err) != 0 ||
        sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, seed_sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "fuzz: cannot build the database: %s\n", err ? err : sqlite3_errmsg(db));
        abort();
    }
    sqlite3_close(db);

    responder.reader.path = db_path;
    responder.cache_ttl_ms = 0; /* every request reads the table, as after each TTL expiry */
    responder.stalled_after_ms = 60000;
    responder.wall_clock_ms = fixed_clock_ms;
    migrations_init(&responder);
    responder.stats = poolstats_open_private(router_endpoint_count());
    atexit(cleanup);
    return 0;
}

static void fail(const char *what, const char *out, size_t len)
{
    fprintf(stderr, "fuzz: contract broken: %s\n--- answer ---\n%.*s\n", what,
            (int)(len > 4000 ? 4000 : len), out);
    abort();
}

/* A number token outside any string that is not plain JSON (NaN, Infinity, inf, nan). */
static int has_non_finite_token(const char *body, size_t len)
{
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == 'N' || c == 'I' || c == 'n' || c == 'i') {
            /* Outside strings JSON only has true, false and null as words. */
            if (strncmp(body + i, "null", 4) != 0)
                return 1;
            i += 3;
        }
    }
    return 0;
}

static void check_answer(const char *method, const char *out, size_t len, int status)
{
    static const int known[] = {200, 400, 404, 405, 503};
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        ok |= status == known[i];
    if (!ok)
        fail("unexpected status on a healthy database", out, len);

    char line[32];
    snprintf(line, sizeof line, "Status: %d ", status);
    if (len < strlen(line) || memcmp(out, line, strlen(line)) != 0)
        fail("the first line is not the status", out, len);
    const char *end = memmem(out, len, "\r\n\r\n", 4);
    if (end == NULL)
        fail("no end of headers", out, len);
    size_t header_len = (size_t)(end - out) + 4;
    char *headers = xmalloc(header_len + 1);
    memcpy(headers, out, header_len);
    headers[header_len] = '\0';
    if (strstr(headers, "\r\nCache-Control: no-store\r\n") == NULL)
        fail("no Cache-Control: no-store", out, len);
    const char *cl = strstr(headers, "\r\nContent-Length: ");
    if (cl == NULL)
        fail("no Content-Length", out, len);
    size_t declared = strtoul(cl + 18, NULL, 10);
    int json = strstr(headers, "\r\nContent-Type: application/json\r\n") != NULL;
    free(headers);

    const char *body = end + 4;
    size_t body_len = len - header_len;
    if (strcmp(method, "HEAD") == 0) {
        if (body_len != 0)
            fail("a body on HEAD", out, len);
        return;
    }
    if (body_len != declared)
        fail("Content-Length does not match the body", out, len);
    if (!json)
        return;
    if (status != 200 && status != 503 && memmem(body, body_len, "\"error\":", 8) == NULL)
        fail("an error without an error field", out, len);
    if (has_non_finite_token(body, body_len))
        fail("a non-finite number in JSON", out, len);
    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *parsed = json_tokener_parse_ex(tok, body, (int)body_len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (parsed == NULL || jerr != json_tokener_success)
        fail("the body is not strict UTF-8 JSON", out, len);
    json_object_put(parsed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t absent = data[0];
    /* NUL-terminated copy: fields are the NUL-separated pieces after the flags byte. */
    char *buf = xmalloc(size);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *fields[FIELD_COUNT] = {0};
    const char *p = buf, *limit = buf + size - 1;
    for (int i = 0; i < FIELD_COUNT && p <= limit; i++) {
        if (!(absent & (1u << i)))
            fields[i] = p;
        p += strlen(p) + 1;
    }

    int endpoint = -1, status = 0;
    size_t len = 0;
    char *out = request_answer(&responder, fields[0], fields[1], fields[3], fields[4], fields[2],
                               &endpoint, &status, &len);
    if (endpoint < 0 || endpoint >= router_endpoint_count())
        fail("endpoint index out of range", out, len);
    /* As the FastCGI loop does after each answer. */
    poolstats_record(responder.stats, endpoint, status, 1);
    check_answer(fields[0] ? fields[0] : "GET", out, len, status);
    free(out);
    free(buf);
    return 0;
}
