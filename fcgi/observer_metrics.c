/* observer_metrics.c: the per-observer series of /api/metrics, for observers heard in the last 7 days. */
#include <stdio.h>
#include <stdlib.h>

#include "encode.h"
#include "log.h"
#include "observer_metrics.h"
#include "route_query.h"

/* Observers silent longer than this drop out, so the series stay bounded. */
#define OBSERVER_METRICS_WINDOW_S (7 * 86400)

static const struct reader_query observer_metrics_query = {
    .sql = "SELECT id, last_packet, packet_count FROM observers"
           " WHERE last_packet >= ?1 AND id IS NOT NULL ORDER BY id",
    .table = "observers",
};

static void series(FILE *out, const char *name, const char *observer, double v)
{
    fprintf(out, "%s{observer=\"", name);
    encode_prom_label(out, observer);
    fputs("\"} ", out);
    encode_prom_value(out, v);
    fputc('\n', out);
}

void observer_metrics_write(FILE *out, struct responder *r)
{
    static const char *const names[] = {"meshscope_observer_last_packet_timestamp_seconds",
                                        "meshscope_observer_packets_total"};
    sqlite3_stmt *st = NULL;
    char *err = NULL;
    int open = route_query_open(r, &observer_metrics_query, &st, &err);
    if (open < 0)
        log_warnx("/api/metrics: observers: %s", err);
    free(err);
    if (open != 0)
        return;
    sqlite3_bind_int64(st, 1, r->wall_clock_ms() / 1000 - OBSERVER_METRICS_WINDOW_S);
    static const char *const help[] = {
        "Unix time of the observer's newest stored packet.\n# TYPE %s gauge\n",
        "Packets stored from the observer.\n# TYPE %s counter\n"};
    /* Prometheus wants a family's samples together: two passes over the small result. */
    for (int pass = 0; pass < 2; pass++) {
        fprintf(out, "# HELP %s ", names[pass]);
        fprintf(out, help[pass], names[pass]);
        int rc;
        while ((rc = reader_db_step(st)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(st, 0);
            series(out, names[pass], id, sqlite3_column_double(st, pass == 0 ? 1 : 2));
        }
        if (rc != SQLITE_DONE)
            log_warnx("/api/metrics: observers: %s", reader_db_errmsg(&r->reader));
        sqlite3_reset(st);
    }
    reader_db_release(st);
}
