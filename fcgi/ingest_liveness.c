/* ingest_liveness.c: reads the MQTT bridge's status file, trusting none of it, for healthz, perf and metrics. */
#include "ingest_liveness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encode.h"
#include "utf8.h"
#include "util.h"

static int name_ok(const char *s, size_t len)
{
    if (len < 1 || len > LIVENESS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    }
    return utf8_valid(s, len);
}

/* A non-negative integer member; 0 when absent or null (never), -1 when anything else. */
static int get_count(struct json_object *obj, const char *key, int64_t *out)
{
    struct json_object *v = NULL;
    *out = 0;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
        return -1;
    *out = json_object_get_int64(v);
    return 0;
}

/* A finite non-negative number member; 1 with *out when present. */
static int get_ms(struct json_object *obj, const char *key, double *out)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return 0;
    double d = json_object_get_double(v);
    if (!(d >= 0 && d < 1e9))
        return 0;
    *out = d;
    return 1;
}

static int get_bool(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_boolean) &&
           json_object_get_boolean(v);
}

static int read_reasons(struct json_object *counts, const char *key, struct liveness_reason *out,
                        int *n)
{
    struct json_object *obj = NULL;
    *n = 0;
    if (!json_object_object_get_ex(counts, key, &obj) || obj == NULL)
        return 0;
    if (!json_object_is_type(obj, json_type_object))
        return -1;
    json_object_object_foreach(obj, reason, v)
    {
        if (*n == LIVENESS_REASONS_MAX)
            break;
        if (!name_ok(reason, strlen(reason)) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0)
            return -1;
        strcpy(out[*n].name, reason);
        out[*n].count = json_object_get_int64(v);
        (*n)++;
    }
    return 0;
}

static int read_source(const char *name, struct json_object *obj, struct liveness_source *s)
{
    memset(s, 0, sizeof *s);
    struct json_object *counts = NULL;
    if (!name_ok(name, strlen(name)) || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, "counts", &counts) ||
        !json_object_is_type(counts, json_type_object))
        return -1;
    strcpy(s->name, name);
    s->connected = get_bool(obj, "connected");
    s->backlogged = get_bool(obj, "backlogged");
    if (get_count(obj, "lastReceiptUnix", &s->last_receipt_unix) ||
        get_count(obj, "lastMessageUnix", &s->last_message_unix) ||
        get_count(counts, "received", &s->received) || get_count(counts, "stored", &s->stored) ||
        get_count(counts, "duplicate", &s->duplicate) ||
        get_count(counts, "filtered", &s->filtered) || get_count(counts, "status", &s->status) ||
        read_reasons(counts, "bad", s->bad, &s->bad_count) ||
        read_reasons(counts, "refused", s->refused, &s->refused_count))
        return -1;
    return 0;
}

static char *slurp(const char *path, size_t *len, char **errp)
{
    /* O_NONBLOCK: a FIFO put in its place must not hang a responder. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return set_error(errp, "liveness file %s: %s", path, strerror(errno)), NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > LIVENESS_FILE_MAX) {
        close(fd);
        return set_error(errp, "liveness file %s: not a regular file of at most %d bytes", path,
                         LIVENESS_FILE_MAX), NULL;
    }
    char *buf = xmalloc(LIVENESS_FILE_MAX + 1);
    size_t got = 0;
    ssize_t n;
    while (got < LIVENESS_FILE_MAX && (n = read(fd, buf + got, LIVENESS_FILE_MAX - got)) > 0)
        got += (size_t)n;
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

int ingest_liveness_read(const char *path, struct ingest_liveness *out, char **errp)
{
    memset(out, 0, sizeof *out);
    size_t len = 0;
    char *text = slurp(path, &len, errp);
    if (text == NULL)
        return -1;
    struct json_tokener *tok = json_tokener_new_ex(8);
    struct json_object *root = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    if (tok)
        json_tokener_free(tok);
    free(text);
    struct json_object *sources = NULL;
    if (root == NULL || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "sources", &sources) ||
        !json_object_is_type(sources, json_type_object)) {
        json_object_put(root);
        return set_error(errp, "liveness file %s: not the bridge's status JSON", path);
    }
    get_count(root, "updatedUnix", &out->updated_unix);
    get_count(root, "inFlight", &out->in_flight);
    get_count(root, "window", &out->window);
    out->worker_connected = get_bool(root, "workerConnected");
    out->has_latency = get_ms(root, "ackLatencyP50Ms", &out->ack_p50_ms) &&
                       get_ms(root, "ackLatencyP99Ms", &out->ack_p99_ms);
    json_object_object_foreach(sources, name, v)
    {
        if (out->source_count == LIVENESS_SOURCES_MAX)
            break;
        if (read_source(name, v, &out->sources[out->source_count]) == 0)
            out->source_count++;
    }
    json_object_put(root);
    return 0;
}

static struct json_object *unix_json(int64_t t)
{
    return t > 0 ? json_object_new_int64(t) : NULL;
}

struct json_object *ingest_liveness_healthz_json(const struct ingest_liveness *l)
{
    struct json_object *obj = json_object_new_object();
    for (int i = 0; i < l->source_count; i++) {
        struct json_object *s = json_object_new_object();
        json_object_object_add(s, "lastReceiptUnix", unix_json(l->sources[i].last_receipt_unix));
        json_object_object_add(s, "lastMessageUnix", unix_json(l->sources[i].last_message_unix));
        json_object_object_add(obj, l->sources[i].name, s);
    }
    return obj;
}

static struct json_object *reasons_json(const struct liveness_reason *r, int n)
{
    struct json_object *obj = json_object_new_object();
    for (int i = 0; i < n; i++)
        json_object_object_add(obj, r[i].name, json_object_new_int64(r[i].count));
    return obj;
}

struct json_object *ingest_liveness_perf_json(const struct ingest_liveness *l)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "updatedUnix", unix_json(l->updated_unix));
    json_object_object_add(obj, "workerConnected", json_object_new_boolean(l->worker_connected));
    json_object_object_add(obj, "inFlight", json_object_new_int64(l->in_flight));
    json_object_object_add(obj, "window", json_object_new_int64(l->window));
    if (l->has_latency) {
        json_object_object_add(obj, "ackLatencyP50Ms", encode_json_number(l->ack_p50_ms));
        json_object_object_add(obj, "ackLatencyP99Ms", encode_json_number(l->ack_p99_ms));
    }
    struct json_object *sources = json_object_new_object();
    for (int i = 0; i < l->source_count; i++) {
        const struct liveness_source *s = &l->sources[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "connected", json_object_new_boolean(s->connected));
        json_object_object_add(o, "backlogged", json_object_new_boolean(s->backlogged));
        json_object_object_add(o, "lastReceiptUnix", unix_json(s->last_receipt_unix));
        json_object_object_add(o, "lastMessageUnix", unix_json(s->last_message_unix));
        json_object_object_add(o, "received", json_object_new_int64(s->received));
        json_object_object_add(o, "stored", json_object_new_int64(s->stored));
        json_object_object_add(o, "duplicate", json_object_new_int64(s->duplicate));
        json_object_object_add(o, "filtered", json_object_new_int64(s->filtered));
        json_object_object_add(o, "status", json_object_new_int64(s->status));
        json_object_object_add(o, "bad", reasons_json(s->bad, s->bad_count));
        json_object_object_add(o, "refused", reasons_json(s->refused, s->refused_count));
        json_object_object_add(sources, s->name, o);
    }
    json_object_object_add(obj, "sources", sources);
    return obj;
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *out, const char *name, const char *source, const char *label,
                   const char *value, int64_t v)
{
    fprintf(out, "%s{source=\"", name);
    encode_prom_label(out, source);
    if (label != NULL) {
        fprintf(out, "\",%s=\"", label);
        encode_prom_label(out, value);
    }
    fprintf(out, "\"} %lld\n", (long long)v);
}

static void reason_family(FILE *out, const struct ingest_liveness *l, const char *name,
                          const char *help, int refused)
{
    family(out, name, "counter", help);
    for (int i = 0; i < l->source_count; i++) {
        const struct liveness_source *s = &l->sources[i];
        const struct liveness_reason *r = refused ? s->refused : s->bad;
        int n = refused ? s->refused_count : s->bad_count;
        for (int k = 0; k < n; k++)
            sample(out, name, s->name, "reason", r[k].name, r[k].count);
    }
}

void ingest_liveness_metrics(FILE *out, const struct ingest_liveness *l)
{
    family(out, "meshscope_mqtt_source_connected", "gauge",
           "1 while the bridge is connected to the source's broker.");
    for (int i = 0; i < l->source_count; i++)
        sample(out, "meshscope_mqtt_source_connected", l->sources[i].name, NULL, NULL,
               l->sources[i].connected);
    family(out, "meshscope_mqtt_source_last_receipt_timestamp_seconds", "gauge",
           "Unix time of the last message from the source's broker (0: never).");
    for (int i = 0; i < l->source_count; i++)
        sample(out, "meshscope_mqtt_source_last_receipt_timestamp_seconds", l->sources[i].name,
               NULL, NULL, l->sources[i].last_receipt_unix);
    family(out, "meshscope_mqtt_source_last_stored_timestamp_seconds", "gauge",
           "Unix time the worker last acknowledged a packet of the source (0: never).");
    for (int i = 0; i < l->source_count; i++)
        sample(out, "meshscope_mqtt_source_last_stored_timestamp_seconds", l->sources[i].name,
               NULL, NULL, l->sources[i].last_message_unix);
    family(out, "meshscope_mqtt_messages_total", "counter",
           "Messages from the source by result: received, stored, duplicate, filtered, status.");
    for (int i = 0; i < l->source_count; i++) {
        const struct liveness_source *s = &l->sources[i];
        const char *names[] = {"received", "stored", "duplicate", "filtered", "status"};
        const int64_t values[] = {s->received, s->stored, s->duplicate, s->filtered, s->status};
        for (int k = 0; k < 5; k++)
            sample(out, "meshscope_mqtt_messages_total", s->name, "result", names[k], values[k]);
    }
    reason_family(out, l, "meshscope_mqtt_bad_messages_total",
                  "Messages the bridge refused, by reason.", 0);
    reason_family(out, l, "meshscope_mqtt_refused_lines_total",
                  "Lines the worker refused, by its reason.", 1);
    family(out, "meshscope_mqtt_in_flight_lines", "gauge",
           "Lines the bridge holds until the worker acknowledges them.");
    fprintf(out, "meshscope_mqtt_in_flight_lines %lld\n", (long long)l->in_flight);
    if (l->has_latency) {
        family(out, "meshscope_mqtt_ack_latency_p99_seconds", "gauge",
               "99th percentile of recent times from a message's arrival to the worker's acknowledgement.");
        fputs("meshscope_mqtt_ack_latency_p99_seconds ", out);
        encode_prom_value(out, l->ack_p99_ms / 1e3);
        fputc('\n', out);
    }
}
