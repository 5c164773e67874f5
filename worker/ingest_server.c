/* ingest_server.c: the ingest socket: one poll loop, group commits, in-order acknowledgements. */
#include "ingest.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rate_limit.h"
#include "unix_listener.h"
#include "util.h"
#include "writer_accounting.h"

/*
 * Why one thread and poll(): SQLite admits one writer at a time, so the
 * commit is the serial step whatever the I/O model. While a commit runs, new
 * lines wait in the kernel's socket buffers and become the next group; when
 * they fill up, clients block in write(): that is the back-pressure, with no
 * queue between threads to bound and no locks. Parsing costs microseconds
 * per line, far below the commit. poll() over at most max_clients descriptors
 * is cheap at the few hundred connections an installation has.
 *
 * Memory is bounded per client by its input buffer (CLIENT_IN_MAX) and its
 * reply buffer (CLIENT_OUT_MAX): a line is taken from a client only while the
 * longest replies of all its lines in flight still fit beside its unsent
 * ones, so a flood of short bad lines cannot queue more replies than that.
 * Plus one batch of max batch_rows lines.
 */

#define CLIENT_IN_INITIAL 4096
#define CLIENT_IN_MAX (INGEST_LINE_MAX + 2)  /* a maximal line, a CRLF line's '\r', its '\n' */
#define REPLY_MAX (6 + INGEST_REASON_MAX + 1) /* "error " + reason + '\n' */
#define CLIENT_OUT_MAX (64 * 1024)           /* unsent replies a client may hold */
#define STATS_FLUSH_MS 1000                  /* figures not carried by a commit wait at most this */
#define STOP_DRAIN_MS 2000                   /* on SIGTERM, how long replies may take to drain */
#define ACCEPT_PAUSE_MS 100                  /* after accept() ran out of descriptors */
#define ERROR_LOG_MS 60000                   /* a persistent database error, once a minute */

struct client {
    int fd;
    uint64_t id;
    char *in;
    size_t in_cap, in_start, in_len, in_scan; /* unconsumed bytes are [in_start, in_len) */
    int discarding;                           /* skipping the rest of an oversized line */
    int64_t read_us;                          /* when the last bytes arrived */
    char *out;                                /* CLIENT_OUT_MAX bytes, from the first reply */
    size_t out_start, out_len;
    size_t pending; /* lines of this client in the open batch */
    int eof;        /* no more input: the peer shut down its sending side, or reading failed */
    int gone;       /* nobody reads the replies: they are counted and dropped */
    uint64_t lines, oks, duplicates, errors, undelivered;
};

struct batch_entry {
    struct client *client;
    int64_t read_us;
    char *error; /* NULL: obs is valid and goes to the store */
    struct ingest_obs obs;
};

struct server {
    const struct ingest_config *config;
    struct unix_listener listener;
    struct client **clients;
    size_t nclients;
    size_t rr; /* round-robin start, so one busy client cannot starve the others */
    uint64_t next_id;
    int stopping;
    int64_t stop_deadline_ms;       /* replies may drain until then */
    int64_t accept_paused_until_ms; /* out of descriptors: retry accept() then */
    struct pollfd *fds;             /* the listener, then one slot per client */

    struct batch_entry *batch;
    size_t batch_len;
    int64_t batch_deadline_us;
    const struct ingest_obs **batch_obs;
    struct ingest_result *results;

    struct ingest_store *store;
    struct ingest_latency latency;
    int latency_dirty;
    struct ingest_stats_delta unflushed; /* figures not yet in _ingest_stats */
    int64_t stats_written_ms;
    struct rate_limiter db_error_log;
    struct rate_limiter gone_log;
};

void ingest_config_defaults(struct ingest_config *config)
{
    config->socket_mode = 0660;
    config->socket_group = NULL;
    config->batch_rows = 256;
    config->batch_ms = 0;
    config->max_clients = 256;
    config->busy_timeout_ms = 10000;
    config->durable = 1;
}

/* Socket setup */

/* Clients */

static void client_free(struct client *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

static void accept_clients(struct server *srv)
{
    while (srv->nclients < (size_t)srv->config->max_clients) {
        int fd = accept4(srv->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The listener stays readable: pause, or the loop would spin. */
                if (srv->accept_paused_until_ms == 0)
                    log_warn("ingest: accept; new connections wait");
                srv->accept_paused_until_ms = clock_monotonic_ms() + ACCEPT_PAUSE_MS;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED) {
                log_warn("ingest: accept");
            }
            return;
        }
        srv->accept_paused_until_ms = 0;
        struct client *c = xcalloc(1, sizeof *c);
        c->fd = fd;
        c->id = ++srv->next_id;
        c->in_cap = CLIENT_IN_INITIAL;
        c->in = xmalloc(c->in_cap);
        srv->clients[srv->nclients++] = c;
        log_debug("ingest: client %llu connected", (unsigned long long)c->id);
    }
}

static size_t client_unsent(const struct client *c)
{
    return c->out_len - c->out_start;
}

/* The peer reads no more replies; lines it sent are still taken, their replies dropped. */
static void client_gone(struct client *c)
{
    c->gone = 1;
    c->out_start = c->out_len = 0;
}

/* Whether another line may be taken: the longest replies of its lines in flight fit. */
static int client_has_room(const struct client *c)
{
    return c->gone || client_unsent(c) + (c->pending + 1) * REPLY_MAX <= CLIENT_OUT_MAX;
}

/* Whether the bytes after the last newline can no longer become a line within the cap. */
static int client_line_overflows(const struct client *c)
{
    size_t have = c->in_len - c->in_start;
    if (have > INGEST_LINE_MAX + 1)
        return 1;
    /* One byte over is fine only as the '\r' of a CRLF line whose '\n' is next. */
    return have == INGEST_LINE_MAX + 1 && c->in[c->in_len - 1] != '\r';
}

static int client_has_line(const struct client *c)
{
    return memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan) != NULL;
}

/* Whether client_take_lines, given room, would take a line now. */
static int client_has_work(const struct client *c)
{
    if (client_has_line(c))
        return 1;
    return !c->discarding && (client_line_overflows(c) || (c->eof && c->in_len > c->in_start));
}

static void client_read(struct client *c)
{
    if (c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
        c->in_len -= c->in_start;
        c->in_scan -= c->in_start;
        c->in_start = 0;
    }
    if (c->in_len == c->in_cap && c->in_cap < CLIENT_IN_MAX) {
        c->in_cap = c->in_cap * 2 < CLIENT_IN_MAX ? c->in_cap * 2 : CLIENT_IN_MAX;
        c->in = xrealloc(c->in, c->in_cap);
    }
    /* Only read while the buffer holds no line: a full one would have overflowed. */
    assert(c->in_len < c->in_cap);
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n > 0) {
        c->in_len += (size_t)n;
        c->read_us = clock_monotonic_us();
    } else if (n == 0) {
        c->eof = 1;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        /* A reset comes after the data the peer sent, which has been read by now. */
        log_debug("ingest: client %llu: read: %s", (unsigned long long)c->id, strerror(errno));
        c->eof = 1;
        client_gone(c);
    }
}

static void client_write(struct client *c)
{
    while (!c->gone && c->out_start < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_start, c->out_len - c->out_start, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_start += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        log_debug("ingest: client %llu: write: %s", (unsigned long long)c->id, strerror(errno));
        client_gone(c);
    }
    if (c->out_start == c->out_len)
        c->out_start = c->out_len = 0;
}

/*
 * Appends one reply line: `ok`, `ok duplicate`, or `error REASON` with the
 * reason cut to INGEST_REASON_MAX and kept on one line.
 */
static void client_reply(struct client *c, int duplicate, const char *reason)
{
    if (reason != NULL)
        c->errors++;
    else if (duplicate)
        c->duplicates++;
    else
        c->oks++;
    if (c->gone) {
        c->undelivered++;
        return;
    }
    if (c->out == NULL)
        c->out = xmalloc(CLIENT_OUT_MAX);
    if (c->out_start > 0 && c->out_len + REPLY_MAX > CLIENT_OUT_MAX) {
        memmove(c->out, c->out + c->out_start, c->out_len - c->out_start);
        c->out_len -= c->out_start;
        c->out_start = 0;
    }
    /* Room was reserved when the line was taken (client_has_room). */
    assert(c->out_len + REPLY_MAX <= CLIENT_OUT_MAX);
    if (reason == NULL) {
        const char *text = duplicate ? "ok duplicate\n" : "ok\n";
        memcpy(c->out + c->out_len, text, strlen(text));
        c->out_len += strlen(text);
        return;
    }
    memcpy(c->out + c->out_len, "error ", 6);
    c->out_len += 6;
    for (size_t i = 0; i < INGEST_REASON_MAX && reason[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)reason[i];
        c->out[c->out_len++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    c->out[c->out_len++] = '\n';
}

/* The batch */

static int batch_full(const struct server *srv)
{
    return srv->batch_len >= (size_t)srv->config->batch_rows;
}

static void batch_add(struct server *srv, struct client *c, const char *line, size_t len)
{
    struct batch_entry *e = &srv->batch[srv->batch_len];
    memset(e, 0, sizeof *e);
    e->client = c;
    e->read_us = c->read_us;
    if (line == NULL)
        e->error = xasprintf("line too long (more than %d bytes)", INGEST_LINE_MAX);
    else
        ingest_parse_line(line, len, &e->obs, &e->error);
    if (srv->batch_len == 0)
        srv->batch_deadline_us = clock_monotonic_us() + (int64_t)srv->config->batch_ms * 1000;
    srv->batch_len++;
    c->pending++;
    c->lines++;
}

/*
 * The bytes after the last newline: dropped while discarding, answered once
 * when they overflow the cap, or taken as the last line at end of input.
 */
static void client_take_unterminated(struct server *srv, struct client *c)
{
    c->in_scan = c->in_len;
    size_t have = c->in_len - c->in_start;
    if (c->discarding) {
        c->in_start = c->in_len = c->in_scan = 0;
    } else if (client_line_overflows(c)) {
        batch_add(srv, c, NULL, 0);
        c->discarding = 1;
        c->in_start = c->in_len = c->in_scan = 0;
    } else if (c->eof && have > 0) {
        /* A last line without its newline is still a line. */
        batch_add(srv, c, c->in + c->in_start, have);
        c->in_start = c->in_len = c->in_scan = 0;
    }
}

/*
 * Moves complete lines from the client's buffer into the batch while both
 * the batch and the client's reply buffer have room. An oversized line is
 * answered once and its remaining bytes are dropped up to the next newline.
 */
static void client_take_lines(struct server *srv, struct client *c)
{
    while (!batch_full(srv) && client_has_room(c)) {
        char *start = c->in + c->in_start;
        char *nl = memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan);
        if (nl == NULL) {
            client_take_unterminated(srv, c);
            return;
        }
        size_t len = (size_t)(nl - start);
        c->in_start = c->in_scan = (size_t)(nl + 1 - c->in);
        if (c->discarding) {
            c->discarding = 0;
            continue;
        }
        batch_add(srv, c, start, len);
    }
}

static void take_all_lines(struct server *srv)
{
    size_t n = srv->nclients;
    for (size_t k = 0; k < n && !batch_full(srv); k++)
        client_take_lines(srv, srv->clients[(srv->rr + k) % n]);
    if (n > 0)
        srv->rr = (srv->rr + 1) % n;
}

static int batch_due(const struct server *srv)
{
    return srv->batch_len > 0 &&
           (batch_full(srv) || srv->stopping || clock_monotonic_us() >= srv->batch_deadline_us);
}

/* Figures */

static int stats_dirty(const struct server *srv)
{
    const struct ingest_stats_delta *d = &srv->unflushed;
    return d->accepted || d->duplicates || d->rejected || d->acked || d->commits ||
           srv->latency_dirty;
}

/* Adds the latency gauges to `d` when new samples arrived since the last write. */
static void stats_with_latency(struct server *srv, struct ingest_stats_delta *d)
{
    d->has_latency = srv->latency_dirty &&
                     ingest_latency_percentiles(&srv->latency, &d->p50_ms, &d->p99_ms) == 0;
}

static void stats_written(struct server *srv)
{
    memset(&srv->unflushed, 0, sizeof srv->unflushed);
    srv->latency_dirty = 0;
    srv->stats_written_ms = clock_monotonic_ms();
}

/* A persistent failure (disk full) would repeat per batch or per line. */
static void log_db_error(struct server *srv, const char *what, const char *err)
{
    int64_t held_back = 0;
    if (!rate_limiter_allow(&srv->db_error_log, clock_monotonic_ms(), &held_back))
        return;
    if (held_back > 0)
        log_error("ingest: %s: %s (%lld more database errors since the last report)", what,
                  err, (long long)held_back);
    else
        log_error("ingest: %s: %s", what, err);
}

/* Figures with no commit to ride on (only rejected lines, the last latencies). */
static void stats_flush_if_due(struct server *srv, int force)
{
    /* The writer figures of the other sources ride on this write too. */
    if (!stats_dirty(srv) && !writer_acct_flush_due(INT64_MAX / 2))
        return;
    if (!force && clock_monotonic_ms() - srv->stats_written_ms < STATS_FLUSH_MS)
        return;
    struct ingest_stats_delta d = srv->unflushed;
    stats_with_latency(srv, &d);
    char *err = NULL;
    if (ingest_store_write_stats(srv->store, &d, &err) == 0) {
        stats_written(srv);
    } else {
        log_db_error(srv, "writing figures", err);
        free(err);
        srv->stats_written_ms = clock_monotonic_ms(); /* retry in a second, not in a spin */
    }
}

/* Commit and replies */

/*
 * Commits the batch's `valid` lines with the figures not yet written (plus
 * `refused`, the lines the parser refused). Returns NULL, or the reply for
 * every valid line when the transaction itself failed.
 */
static char *batch_commit(struct server *srv, size_t valid, int64_t refused)
{
    struct ingest_stats_delta d = srv->unflushed;
    d.rejected += refused;
    stats_with_latency(srv, &d);
    char *err = NULL;
    if (ingest_store_commit(srv->store, srv->batch_obs, valid, srv->results, &d, &err) == 0) {
        stats_written(srv);
        return NULL;
    }
    log_db_error(srv, "commit failed, answering its lines with errors", err);
    char *reply = xasprintf("database: %s", err);
    free(err);
    srv->unflushed.rejected += refused + (int64_t)valid;
    return reply;
}

/* Queues every reply of the batch in arrival order, then empties the batch. */
static void batch_answer(struct server *srv, const char *db_error)
{
    int64_t done_us = clock_monotonic_us();
    size_t k = 0;
    for (size_t i = 0; i < srv->batch_len; i++) {
        struct batch_entry *e = &srv->batch[i];
        const char *reason = e->error;
        char *line_error = NULL;
        int duplicate = 0;
        if (reason == NULL && db_error != NULL) {
            reason = db_error;
        } else if (reason == NULL) {
            struct ingest_result *r = &srv->results[k++];
            if (r->outcome == INGEST_FAILED) {
                log_db_error(srv, "a line failed alone, the rest of its group commits",
                             r->error);
                reason = line_error = xasprintf("database: %s", r->error);
            }
            duplicate = r->outcome == INGEST_DUPLICATE;
            free(r->error);
            r->error = NULL;
        }
        client_reply(e->client, duplicate, reason);
        if (reason == NULL) {
            ingest_latency_add(&srv->latency, (double)(done_us - e->read_us) / 1000.0);
            srv->latency_dirty = 1;
        }
        e->client->pending--;
        free(line_error);
        free(e->error);
        ingest_obs_clear(&e->obs);
    }
    srv->batch_len = 0;
}

/*
 * Commits the batch's valid lines and its figures in one transaction, then
 * answers every line in arrival order: `ok` only once its commit has returned.
 */
static void batch_flush(struct server *srv)
{
    size_t valid = 0;
    for (size_t i = 0; i < srv->batch_len; i++) {
        if (srv->batch[i].error == NULL)
            srv->batch_obs[valid++] = &srv->batch[i].obs;
    }
    int64_t refused = (int64_t)(srv->batch_len - valid);
    char *db_error = NULL;
    if (valid > 0)
        db_error = batch_commit(srv, valid, refused);
    else
        srv->unflushed.rejected += refused;
    batch_answer(srv, db_error);
    free(db_error);
    for (size_t i = 0; i < srv->nclients; i++) {
        if (client_unsent(srv->clients[i]) > 0)
            client_write(srv->clients[i]);
    }
}

/* Connection lifetime */

static void log_client_closed(struct server *srv, const struct client *c)
{
    log_debug("ingest: client %llu closed: %llu lines, %llu ok, %llu duplicate, %llu errors",
              (unsigned long long)c->id, (unsigned long long)c->lines,
              (unsigned long long)c->oks, (unsigned long long)c->duplicates,
              (unsigned long long)c->errors);
    int64_t held_back = 0;
    if (c->undelivered == 0 ||
        !rate_limiter_allow(&srv->gone_log, clock_monotonic_ms(), &held_back))
        return;
    char more[80] = "";
    if (held_back > 0)
        snprintf(more, sizeof more, " (and %lld more clients since the last report)",
                 (long long)held_back);
    log_info("ingest: client %llu went without reading %llu replies (it left, or did not "
             "read them before a stop); its lines were committed and counted all the same%s",
             (unsigned long long)c->id, (unsigned long long)c->undelivered, more);
}

/* Closes clients that are finished: nothing pending, nothing more to say or hear. */
static void reap_clients(struct server *srv)
{
    size_t kept = 0;
    for (size_t i = 0; i < srv->nclients; i++) {
        struct client *c = srv->clients[i];
        int done = c->pending == 0 && c->eof && !client_has_work(c) &&
                   (c->gone || client_unsent(c) == 0);
        if (!done) {
            srv->clients[kept++] = c;
            continue;
        }
        log_client_closed(srv, c);
        client_free(c);
    }
    srv->nclients = kept;
}

static int wants_input(const struct server *srv, const struct client *c)
{
    return !srv->stopping && !c->eof && !batch_full(srv) && client_has_room(c) &&
           !client_has_line(c);
}

static void begin_stop(struct server *srv)
{
    srv->stopping = 1;
    srv->stop_deadline_ms = clock_monotonic_ms() + STOP_DRAIN_MS;
    unix_listener_close(&srv->listener);
    log_info("ingest: stopping: no new connections or lines; committing and answering what "
             "was read");
}

/*
 * While stopping: finished once no client holds a line still to take. A
 * client that has not made room for its replies by the deadline is treated
 * as gone, so its lines are committed all the same.
 */
static int stop_finished(struct server *srv)
{
    int late = clock_monotonic_ms() >= srv->stop_deadline_ms, left = 0;
    for (size_t i = 0; i < srv->nclients; i++) {
        struct client *c = srv->clients[i];
        if (!client_has_work(c))
            continue;
        left = 1;
        if (late && !c->gone)
            client_gone(c);
    }
    return !left;
}

/* Polling */

static void timespec_from_us(struct timespec *ts, int64_t us)
{
    if (us < 0)
        us = 0;
    ts->tv_sec = (time_t)(us / 1000000);
    ts->tv_nsec = (long)(us % 1000000) * 1000;
}

/* Fills srv->fds: slot 0 the listener (fd -1 while full or paused), then one per client. */
static nfds_t poll_set(struct server *srv, int accepting)
{
    nfds_t nfds = 0;
    srv->fds[nfds++] = (struct pollfd){.fd = accepting ? srv->listener.fd : -1, .events = POLLIN};
    for (size_t i = 0; i < srv->nclients; i++) {
        struct client *c = srv->clients[i];
        short events = 0;
        if (wants_input(srv, c))
            events |= POLLIN;
        if (!c->gone && client_unsent(c) > 0)
            events |= POLLOUT;
        /* fd -1 keeps the slot aligned with clients[] and is ignored by poll. */
        srv->fds[nfds++] = (struct pollfd){.fd = events ? c->fd : -1, .events = events};
    }
    return nfds;
}

/* The wait: until the open batch is due, else the next timer; NULL for none. */
static struct timespec *poll_timeout(const struct server *srv, int accepting,
                                     struct timespec *ts)
{
    if (srv->batch_len > 0) {
        timespec_from_us(ts, srv->batch_deadline_us - clock_monotonic_us());
        return ts;
    }
    int64_t now_ms = clock_monotonic_ms(), wake_ms = INT64_MAX;
    if (stats_dirty(srv) || writer_acct_flush_due(INT64_MAX / 2))
        wake_ms = srv->stats_written_ms + STATS_FLUSH_MS;
    if (!accepting && srv->accept_paused_until_ms > now_ms &&
        srv->accept_paused_until_ms < wake_ms)
        wake_ms = srv->accept_paused_until_ms;
    if (srv->stopping && srv->stop_deadline_ms < wake_ms)
        wake_ms = srv->stop_deadline_ms;
    if (wake_ms == INT64_MAX)
        return NULL;
    timespec_from_us(ts, (wake_ms - now_ms) * 1000);
    return ts;
}

/* Acts on what poll reported for the first `polled` clients (new ones come after). */
static void poll_handle(struct server *srv, size_t polled)
{
    if (srv->fds[0].revents & POLLIN)
        accept_clients(srv);
    for (size_t i = 0; i < polled; i++) {
        struct client *c = srv->clients[i];
        const struct pollfd *p = &srv->fds[1 + i];
        if (p->revents & POLLOUT)
            client_write(c);
        /* A hang-up still leaves the peer's last bytes to read, then EOF. */
        if ((p->events & POLLIN) && (p->revents & (POLLIN | POLLHUP | POLLERR)))
            client_read(c);
        if (p->revents & (POLLHUP | POLLERR))
            client_gone(c);
    }
}

/* One wait for I/O or a timer, and what it brought. */
static int poll_once(struct server *srv, const sigset_t *wait_mask, char **errp)
{
    int accepting = !srv->stopping && srv->nclients < (size_t)srv->config->max_clients &&
                    clock_monotonic_ms() >= srv->accept_paused_until_ms;
    nfds_t nfds = poll_set(srv, accepting);
    struct timespec ts;
    if (ppoll(srv->fds, nfds, poll_timeout(srv, accepting, &ts), wait_mask) < 0) {
        if (errno == EINTR)
            return 0;
        return set_error(errp, "ingest: poll: %s", strerror(errno));
    }
    poll_handle(srv, nfds - 1);
    return 0;
}

/* After the last commit: gives clients until the stop deadline to read their replies. */
static void drain_replies(struct server *srv, const sigset_t *wait_mask)
{
    for (;;) {
        nfds_t nfds = 0;
        for (size_t i = 0; i < srv->nclients; i++) {
            struct client *c = srv->clients[i];
            if (!c->gone && client_unsent(c) > 0)
                srv->fds[nfds++] = (struct pollfd){.fd = c->fd, .events = POLLOUT};
        }
        int64_t left = srv->stop_deadline_ms - clock_monotonic_ms();
        if (nfds == 0 || left <= 0)
            return;
        struct timespec ts;
        timespec_from_us(&ts, left * 1000);
        if (ppoll(srv->fds, nfds, &ts, wait_mask) < 0 && errno != EINTR)
            return;
        for (size_t i = 0; i < srv->nclients; i++)
            client_write(srv->clients[i]);
    }
}

/* The loop: take lines, commit when due, close finished clients, wait. */
static int serve_until_stopped(struct server *srv, volatile sig_atomic_t *stop,
                               const sigset_t *wait_mask, char **errp)
{
    for (;;) {
        if (*stop && !srv->stopping)
            begin_stop(srv);
        take_all_lines(srv);
        if (batch_due(srv)) {
            batch_flush(srv);
            continue; /* buffered lines may be waiting for room in the batch */
        }
        reap_clients(srv);
        if (srv->stopping && stop_finished(srv))
            return 0;
        stats_flush_if_due(srv, 0);
        if (poll_once(srv, wait_mask, errp) != 0)
            return -1;
    }
}

static void server_init(struct server *srv, const struct ingest_config *config)
{
    *srv = (struct server){.config = config, .listener = {.fd = -1}};
    srv->clients = xcalloc((size_t)config->max_clients, sizeof *srv->clients);
    srv->fds = xcalloc((size_t)config->max_clients + 1, sizeof *srv->fds);
    srv->batch = xcalloc((size_t)config->batch_rows, sizeof *srv->batch);
    srv->batch_obs = xcalloc((size_t)config->batch_rows, sizeof *srv->batch_obs);
    srv->results = xcalloc((size_t)config->batch_rows, sizeof *srv->results);
    rate_limiter_init(&srv->db_error_log, ERROR_LOG_MS);
    rate_limiter_init(&srv->gone_log, ERROR_LOG_MS);
}

static void server_free(struct server *srv)
{
    unix_listener_close(&srv->listener);
    for (size_t i = 0; i < srv->nclients; i++) {
        log_client_closed(srv, srv->clients[i]);
        client_free(srv->clients[i]);
    }
    for (size_t i = 0; i < srv->batch_len; i++) {
        free(srv->batch[i].error);
        ingest_obs_clear(&srv->batch[i].obs);
    }
    free(srv->clients);
    free(srv->fds);
    free(srv->batch);
    free(srv->batch_obs);
    free(srv->results);
    ingest_store_close(srv->store);
}

int ingest_serve(const struct ingest_config *config, volatile sig_atomic_t *stop,
                 const sigset_t *wait_mask, char **errp)
{
    if (config->batch_rows < 1 || config->batch_ms < 0 || config->max_clients < 1)
        return set_error(errp, "ingest: invalid batch or client limits");
    struct server srv;
    server_init(&srv, config);
    int rc = -1;
    if (ingest_store_open(config->db_path, config->busy_timeout_ms, config->durable, &srv.store,
                          errp) != 0 ||
        unix_listener_open(&srv.listener, config->socket_path, config->socket_mode,
                           config->socket_group, "--ingest-socket", errp) != 0)
        goto out;
    srv.stats_written_ms = clock_monotonic_ms();
    log_info("ingest: listening on %s (mode %04o, group commit of up to %d lines or %d ms, "
             "synchronous=%s)",
             config->socket_path, (unsigned)config->socket_mode, config->batch_rows,
             config->batch_ms, config->durable ? "FULL" : "NORMAL");
    if (serve_until_stopped(&srv, stop, wait_mask, errp) != 0)
        goto out;
    stats_flush_if_due(&srv, 1);
    drain_replies(&srv, wait_mask);
    rc = 0;
    log_info("ingest: stopped");

out:
    server_free(&srv);
    return rc;
}
