/* migration_stats.c: per-batch writer holds and the stats file the benchmark reads. */
#include "migration_stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "util.h"

void migration_holds_add(struct migration_holds *holds, int64_t hold_us)
{
    if (holds->len == holds->cap) {
        holds->cap = holds->cap ? holds->cap * 2 : 256;
        holds->us = xrealloc(holds->us, holds->cap * sizeof *holds->us);
    }
    holds->us[holds->len++] = hold_us;
}

void migration_holds_release(struct migration_holds *holds)
{
    free(holds->us);
    *holds = (struct migration_holds){0};
}

static double us_to_ms(int64_t us)
{
    return (double)us / 1000.0;
}

static void stats_add_double(json_object *obj, const char *key, double value)
{
    json_object_object_add(obj, key, json_object_new_double(value));
}

static json_object *stats_one(const struct migration_stat *st)
{
    const struct migration_result *r = &st->result;
    json_object *m = json_object_new_object();
    json_object *holds = json_object_new_array();
    for (size_t k = 0; k < st->holds.len; k++)
        json_object_array_add(holds, json_object_new_double(us_to_ms(st->holds.us[k])));
    json_object_object_add(m, "name", json_object_new_string(st->name));
    json_object_object_add(m, "status", json_object_new_string(st->status));
    json_object_object_add(m, "rows", json_object_new_int64(r->processed));
    json_object_object_add(m, "total", json_object_new_int64(r->total));
    json_object_object_add(m, "batches", json_object_new_int64(r->batches));
    json_object_object_add(m, "wall_ms", json_object_new_int64(r->wall_ms));
    stats_add_double(m, "yield_ms", us_to_ms(r->yield_us));
    /* Work is wall minus yields: snapshot, batch bounds and checkpoints count too. */
    stats_add_double(m, "work_ms", (double)r->wall_ms - us_to_ms(r->yield_us));
    stats_add_double(m, "hold_total_ms", us_to_ms(r->hold_total_us));
    stats_add_double(m, "hold_max_ms", us_to_ms(r->max_hold_us));
    json_object_object_add(m, "holds_ms", holds);
    return m;
}

int migration_stats_write(const char *path, const struct migration_stat *stats, size_t count,
                          char **errp)
{
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < count; i++)
        json_object_array_add(list, stats_one(&stats[i]));
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "migrations", list);
    char *tmp = xasprintf("%s.tmp", path);
    int rc = 0;
    FILE *out = fopen(tmp, "w");
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
    if (out == NULL || fputs(text, out) < 0 || fputc('\n', out) == EOF) {
        rc = set_error(errp, "writing %s: %s", tmp, strerror(errno));
        if (out != NULL)
            fclose(out);
    } else if (fclose(out) != 0 || rename(tmp, path) != 0) {
        rc = set_error(errp, "writing %s: %s", path, strerror(errno));
    }
    if (rc != 0)
        remove(tmp);
    free(tmp);
    json_object_put(doc);
    return rc;
}
