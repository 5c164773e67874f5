/* liveness.c: the bridge's status file, which the responders read for /api/healthz, /api/perf and /api/metrics. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bridge.h"
#include "util.h"

static struct json_object *unix_or_null(int64_t t)
{
    return t > 0 ? json_object_new_int64(t) : NULL;
}

static struct json_object *reasons_json(const struct reason_count *list, int n)
{
    struct json_object *obj = json_object_new_object();
    for (int i = 0; i < n; i++)
        json_object_object_add(obj, list[i].reason, json_object_new_int64(list[i].count));
    return obj;
}

static struct json_object *source_json(const struct source *s)
{
    const struct source_stats *st = &s->stats;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "connected", json_object_new_boolean(st->connected));
    json_object_object_add(o, "backlogged", json_object_new_boolean(st->backlogged));
    json_object_object_add(o, "broker", json_object_new_string_len(s->config->host,
                                                                   (int)strlen(s->config->host)));
    json_object_object_add(o, "lastReceiptUnix", unix_or_null(st->last_receipt_unix));
    json_object_object_add(o, "lastMessageUnix", unix_or_null(st->last_message_unix));
    struct json_object *c = json_object_new_object();
    json_object_object_add(c, "received", json_object_new_int64(st->received));
    json_object_object_add(c, "stored", json_object_new_int64(st->stored));
    json_object_object_add(c, "duplicate", json_object_new_int64(st->duplicate));
    json_object_object_add(c, "filtered", json_object_new_int64(st->filtered));
    json_object_object_add(c, "status", json_object_new_int64(st->status));
    json_object_object_add(c, "bad", reasons_json(st->bad, st->bad_count));
    json_object_object_add(c, "refused", reasons_json(st->refused, st->refused_count));
    json_object_object_add(o, "counts", c);
    return o;
}

/* Observer status messages are kept here until the database has a place for them. */
static struct json_object *observers_json(const struct bridge *b)
{
    struct json_object *obj = json_object_new_object();
    for (int i = 0; i < b->observer_count; i++) {
        const struct observer_status *o = &b->observers[i];
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "source",
                               json_object_new_string(b->sources[o->source].config->name));
        json_object_object_add(e, "region", json_object_new_string(o->region));
        json_object_object_add(e, "receivedUnix", json_object_new_int64(o->received_unix));
        json_object_object_add(e, "status", json_tokener_parse(o->status));
        json_object_object_add(obj, o->id, e);
    }
    return obj;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank p50 and p99 of the recent take-to-acknowledgement times; caller holds the lock. */
static void add_latency(struct json_object *root, const struct bridge *b)
{
    if (b->latency_count == 0)
        return;
    double *sorted = xmalloc(sizeof(double) * (size_t)b->latency_count);
    memcpy(sorted, b->latency_ms, sizeof(double) * (size_t)b->latency_count);
    qsort(sorted, (size_t)b->latency_count, sizeof(double), cmp_double);
    int n = b->latency_count;
    int i50 = (n * 50 + 99) / 100 - 1, i99 = (n * 99 + 99) / 100 - 1;
    json_object_object_add(root, "ackLatencyP50Ms", json_object_new_double(sorted[i50 < 0 ? 0 : i50]));
    json_object_object_add(root, "ackLatencyP99Ms", json_object_new_double(sorted[i99 < 0 ? 0 : i99]));
    json_object_object_add(root, "ackLatencySamples", json_object_new_int(n));
    free(sorted);
}

static char *render(struct bridge *b)
{
    struct json_object *root = json_object_new_object();
    pthread_mutex_lock(&b->lock);
    json_object_object_add(root, "version", json_object_new_int(1));
    json_object_object_add(root, "pid", json_object_new_int((int)getpid()));
    json_object_object_add(root, "updatedUnix", json_object_new_int64(time(NULL)));
    json_object_object_add(root, "workerConnected", json_object_new_boolean(b->worker_connected));
    json_object_object_add(root, "window", json_object_new_int(b->window));
    json_object_object_add(root, "inFlight", json_object_new_int(b->count));
    add_latency(root, b);
    struct json_object *sources = json_object_new_object();
    for (int i = 0; i < b->source_count; i++)
        json_object_object_add(sources, b->sources[i].config->name, source_json(&b->sources[i]));
    json_object_object_add(root, "sources", sources);
    json_object_object_add(root, "observers", observers_json(b));
    b->dirty = 0;
    pthread_mutex_unlock(&b->lock);
    char *text = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return text;
}

int liveness_write(struct bridge *b, const char *path, char **errp)
{
    char *text = render(b);
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    int rc = 0;
    if (fd < 0) {
        rc = set_error(errp, "liveness file %s: %s", tmp, strerror(errno));
    } else {
        size_t len = strlen(text);
        /* Readers see the old file or the new one, never half of one: write aside, then rename. */
        if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
            rc = set_error(errp, "liveness file %s: %s", tmp, strerror(errno));
        close(fd);
        if (rc == 0 && rename(tmp, path) != 0)
            rc = set_error(errp, "liveness file %s: %s", path, strerror(errno));
        if (rc != 0)
            unlink(tmp);
    }
    free(tmp);
    free(text);
    return rc;
}
