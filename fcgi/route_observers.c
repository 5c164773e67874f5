/* route_observers.c: GET /api/observers, every observer with its packet figures, last hour's medians and status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "route_query.h"
#include "router.h"
#include "util.h"

#define OBSERVERS_HOUR_S 3600

/* One row per observer: the table is small (an observer is a radio). */
static const struct reader_query observers_query = {
    .sql = "SELECT id, name, region, first_packet, last_packet, packet_count, model, firmware,"
           " battery_mv, uptime_s, noise_floor, status_at FROM observers ORDER BY id",
    .table = "observers",
};

/*
 * The last hour's observations, by the observations(timestamp) index: what
 * this reads grows with the traffic of one hour, not with the table.
 */
static const struct reader_query observers_hour_query = {
    .sql = "SELECT CAST(observer AS TEXT), snr, rssi FROM observations"
           " WHERE timestamp >= ?1 AND timestamp <= ?2 AND observer IS NOT NULL",
    .table = "observations",
};

struct hour_stats {
    char *observer;
    int64_t packets;
    double *snr, *rssi;
    size_t snr_len, rssi_len, snr_cap, rssi_cap;
};

static void push(double **v, size_t *len, size_t *cap, double x)
{
    if (*len == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*len)++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v (sorted in place), or JSON null when there is none. */
static struct json_object *median_json(double *v, size_t n)
{
    if (n == 0)
        return NULL;
    qsort(v, n, sizeof *v, cmp_double);
    double m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
    return encode_json_number(m);
}

static struct hour_stats *hour_find(struct hour_stats **all, size_t *len, const char *observer)
{
    for (size_t i = 0; i < *len; i++)
        if (strcmp((*all)[i].observer, observer) == 0)
            return &(*all)[i];
    *all = xrealloc(*all, (*len + 1) * sizeof **all);
    struct hour_stats *h = &(*all)[(*len)++];
    memset(h, 0, sizeof *h);
    h->observer = xstrdup(observer);
    return h;
}

static void hour_free(struct hour_stats *all, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        free(all[i].observer);
        free(all[i].snr);
        free(all[i].rssi);
    }
    free(all);
}

/* Reads the last hour into per-observer figures; -1 with *errp on a read error. */
static int read_hour(struct responder *r, int64_t now, struct hour_stats **all, size_t *len,
                     char **errp)
{
    sqlite3_stmt *stmt = NULL;
    int open = route_query_open(r, &observers_hour_query, &stmt, errp);
    if (open != 0)
        return open > 0 ? 0 : -1;
    sqlite3_bind_int64(stmt, 1, now - OBSERVERS_HOUR_S);
    sqlite3_bind_int64(stmt, 2, now);
    int rc;
    while ((rc = reader_db_step(stmt)) == SQLITE_ROW) {
        struct hour_stats *h = hour_find(all, len, (const char *)sqlite3_column_text(stmt, 0));
        h->packets++;
        if (sqlite3_column_type(stmt, 1) != SQLITE_NULL)
            push(&h->snr, &h->snr_len, &h->snr_cap, sqlite3_column_double(stmt, 1));
        if (sqlite3_column_type(stmt, 2) != SQLITE_NULL)
            push(&h->rssi, &h->rssi_len, &h->rssi_cap, sqlite3_column_double(stmt, 2));
    }
    if (rc != SQLITE_DONE) {
        set_error(errp, "%s", reader_db_errmsg(&r->reader));
        reader_db_release(stmt);
        return -1;
    }
    reader_db_release(stmt);
    return 0;
}

static struct json_object *column_int_or_null(sqlite3_stmt *stmt, int col)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL
               ? NULL : json_object_new_int64(sqlite3_column_int64(stmt, col));
}

static struct json_object *column_text(sqlite3_stmt *stmt, int col)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL
               ? NULL : encode_json_string((const char *)sqlite3_column_text(stmt, col));
}

static struct json_object *observer_json(sqlite3_stmt *stmt, struct hour_stats *all, size_t len)
{
    struct json_object *o = json_object_new_object();
    const char *id = (const char *)sqlite3_column_text(stmt, 0);
    json_object_object_add(o, "id", encode_json_string(id ? id : ""));
    json_object_object_add(o, "name", column_text(stmt, 1));
    json_object_object_add(o, "region", column_text(stmt, 2));
    json_object_object_add(o, "firstPacketUnix", column_int_or_null(stmt, 3));
    json_object_object_add(o, "lastPacketUnix", column_int_or_null(stmt, 4));
    json_object_object_add(o, "packetsTotal", json_object_new_int64(sqlite3_column_int64(stmt, 5)));
    struct hour_stats *h = NULL;
    for (size_t i = 0; id != NULL && i < len && h == NULL; i++)
        if (strcmp(all[i].observer, id) == 0)
            h = &all[i];
    json_object_object_add(o, "packetsLastHour", json_object_new_int64(h ? h->packets : 0));
    json_object_object_add(o, "medianSnrLastHour", h ? median_json(h->snr, h->snr_len) : NULL);
    json_object_object_add(o, "medianRssiLastHour", h ? median_json(h->rssi, h->rssi_len) : NULL);
    json_object_object_add(o, "model", column_text(stmt, 6));
    json_object_object_add(o, "firmware", column_text(stmt, 7));
    json_object_object_add(o, "batteryMv", column_int_or_null(stmt, 8));
    json_object_object_add(o, "uptimeSec", column_int_or_null(stmt, 9));
    json_object_object_add(o, "noiseFloor", sqlite3_column_type(stmt, 10) == SQLITE_NULL
                               ? NULL : encode_json_number(sqlite3_column_double(stmt, 10)));
    json_object_object_add(o, "statusUnix", column_int_or_null(stmt, 11));
    return o;
}

static void observers(struct responder *r, const struct http_request *req,
                      struct http_response *resp)
{
    (void)req;
    int64_t now = r->wall_clock_ms() / 1000;
    struct json_object *list = json_object_new_array();
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "nowUnix", json_object_new_int64(now));
    json_object_object_add(body, "observers", list);
    struct hour_stats *all = NULL;
    size_t len = 0;
    sqlite3_stmt *stmt = NULL;
    char *err = NULL;
    if (read_hour(r, now, &all, &len, &err) != 0)
        goto fail;
    int open = route_query_open(r, &observers_query, &stmt, &err);
    if (open < 0)
        goto fail;
    if (open > 0) { /* nothing stored yet: no observers */
        hour_free(all, len);
        http_response_json(resp, 200, body);
        return;
    }
    int rc;
    while ((rc = reader_db_step(stmt)) == SQLITE_ROW)
        json_object_array_add(list, observer_json(stmt, all, len));
    if (rc != SQLITE_DONE)
        err = xstrdup(reader_db_errmsg(&r->reader));
    reader_db_release(stmt);
    if (err != NULL)
        goto fail;
    hour_free(all, len);
    http_response_json(resp, 200, body);
    return;

fail:
    hour_free(all, len);
    json_object_put(body);
    http_response_error(resp, 500, err);
    free(err);
}

const struct route route_observers_entry = {
    .path = "/api/observers",
    .handler = observers,
};
