/* queue.c: the bounded in-flight window between the source threads and the sink, and the result counters. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "log.h"
#include "message.h"
#include "util.h"

int bridge_init(struct bridge *b, const struct bridge_config *config, int window, char **errp)
{
    memset(b, 0, sizeof *b);
    if (pipe2(b->wake_fd, O_CLOEXEC | O_NONBLOCK) != 0)
        return set_error(errp, "pipe: %s", strerror(errno));
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->room, NULL);
    b->window = window;
    /* A source that was already waiting when the bridge stops still gets its message in. */
    b->ring_cap = window + CONFIG_MAX_SOURCES;
    b->ring = xcalloc((size_t)b->ring_cap, sizeof *b->ring);
    b->source_count = config->source_count;
    for (int i = 0; i < config->source_count; i++) {
        b->sources[i].bridge = b;
        b->sources[i].config = &config->sources[i];
        b->sources[i].index = i;
    }
    b->dirty = 1;
    return 0;
}

static void free_reasons(struct reason_count *list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i].reason);
}

void bridge_destroy(struct bridge *b)
{
    for (int i = 0; i < b->count; i++)
        free(b->ring[(b->head + i) % b->ring_cap].line);
    free(b->ring);
    for (int i = 0; i < b->source_count; i++) {
        free_reasons(b->sources[i].stats.bad, b->sources[i].stats.bad_count);
        free_reasons(b->sources[i].stats.refused, b->sources[i].stats.refused_count);
    }
    for (int i = 0; i < b->observer_count; i++) {
        free(b->observers[i].id);
        free(b->observers[i].region);
        free(b->observers[i].status);
    }
    close(b->wake_fd[0]);
    close(b->wake_fd[1]);
    pthread_cond_destroy(&b->room);
    pthread_mutex_destroy(&b->lock);
}

void bridge_count_reason(struct reason_count *list, int *count, const char *reason,
                         const char *source, const char *what)
{
    int i;
    for (i = 0; i < *count; i++) {
        if (strcmp(list[i].reason, reason) == 0)
            break;
    }
    if (i == *count) {
        /* The last slot collects whatever does not fit, so the list stays bounded. */
        if (*count == BRIDGE_REASONS_MAX - 1 && strcmp(reason, "other") != 0)
            return bridge_count_reason(list, count, "other", source, what);
        list[i].reason = xstrdup(reason);
        rate_limiter_init(&list[i].log_limit, 60000);
        (*count)++;
    }
    list[i].count++;
    int64_t held = 0;
    if (rate_limiter_allow(&list[i].log_limit, clock_monotonic_ms(), &held))
        log_warnx("source %s: %s: %s (%lld so far; %lld more since the last such line)", source,
                  what, reason, (long long)list[i].count, (long long)held);
}

static void keep_status(struct bridge *b, int source, const struct message *m, int64_t now)
{
    int i;
    for (i = 0; i < b->observer_count; i++) {
        if (b->observers[i].source == source && strcmp(b->observers[i].id, m->observer) == 0)
            break;
    }
    if (i == b->observer_count) {
        if (b->observer_count == BRIDGE_OBSERVERS_MAX)
            return; /* counted as a status message, details not kept */
        b->observers[i].id = xstrdup(m->observer);
        b->observers[i].region = xstrdup(m->region);
        b->observers[i].source = source;
        b->observer_count++;
    }
    free(b->observers[i].status);
    b->observers[i].status = xstrdup(m->status);
    b->observers[i].received_unix = now;
}

/* Waits for room in the window; the broker keeps what follows in the session meanwhile. */
static void enqueue(struct bridge *b, struct source_stats *st, int source, char *line)
{
    while (b->count >= b->window && !atomic_load(&b->stop)) {
        st->backlogged = 1;
        b->dirty = 1;
        pthread_cond_wait(&b->room, &b->lock);
    }
    st->backlogged = 0;
    if (b->count >= b->ring_cap) {
        log_error("source %s: window overflow, message dropped", b->sources[source].config->name);
        free(line);
        return;
    }
    struct pending *p = &b->ring[(b->head + b->count) % b->ring_cap];
    p->line = line;
    p->len = strlen(line);
    p->source = source;
    p->taken_us = clock_monotonic_us();
    b->count++;
    ssize_t ignored = write(b->wake_fd[1], "x", 1);
    (void)ignored;
}

void bridge_take(struct bridge *b, int source, const char *topic, const void *payload,
                 size_t len)
{
    struct source *s = &b->sources[source];
    int64_t now = time(NULL);
    struct message m;
    message_parse(topic, payload, len, (const char *const *)s->config->regions, now, &m);
    pthread_mutex_lock(&b->lock);
    struct source_stats *st = &s->stats;
    st->received++;
    st->last_receipt_unix = now;
    b->dirty = 1;
    switch (m.kind) {
    case MESSAGE_PACKET:
        enqueue(b, st, source, m.line);
        m.line = NULL;
        break;
    case MESSAGE_STATUS:
        st->status++;
        keep_status(b, source, &m, now);
        /* The status goes to the observers table too, as an observer_status line. */
        if (m.line != NULL) {
            enqueue(b, st, source, m.line);
            m.line = NULL;
        }
        break;
    case MESSAGE_FILTERED:
        st->filtered++;
        break;
    case MESSAGE_BAD:
        bridge_count_reason(st->bad, &st->bad_count, m.reason, s->config->name,
                            "bad message refused");
        break;
    }
    pthread_mutex_unlock(&b->lock);
    message_clear(&m);
}
