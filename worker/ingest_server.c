/* ingest_server.c: the ingest socket: one poll loop, group commits, in-order acknowledgements. */
#include "ingest.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/*
 * Why one thread and poll(): SQLite admits one writer at a time, so the
 * commit is the serial step whatever the I/O model. While a commit runs, new
 * lines wait in the kernel's socket buffers and become the next group; when
 * they fill up, clients block in write(): that is the back-pressure, with no
 * queue between threads to bound and no locks. Parsing costs microseconds
 * per line, far below the commit. poll() over at most max_clients descriptors
 * is cheap at the few hundred connections an installation has.
 *
 * Memory is bounded by max_clients x (input buffer <= INGEST_LINE_MAX + 1,
 * output buffer <= CLIENT_OUT_HIGH + one batch of replies) + one batch.
 */

#define CLIENT_IN_INITIAL 4096
#define CLIENT_IN_MAX (INGEST_LINE_MAX + 1) /* a maximal line and its newline */
#define CLIENT_OUT_HIGH (64 * 1024)         /* stop reading a client that does not read replies */
#define STATS_FLUSH_MS 1000                 /* figures not carried by a commit wait at most this */
#define STOP_DRAIN_MS 2000                  /* on SIGTERM, how long replies may take to drain */
#define ACCEPT_PAUSE_MS 100                 /* after accept() ran out of descriptors */

struct client {
    int fd;
    uint64_t id;
    char *in;
    size_t in_cap, in_start, in_len, in_scan; /* unconsumed bytes are [in_start, in_len) */
    int discarding;                           /* skipping the rest of an oversized line */
    int64_t read_us;                          /* when the last bytes arrived */
    char *out;
    size_t out_cap, out_start, out_len;
    size_t pending; /* lines of this client in the open batch */
    int eof;        /* the peer shut down its sending side */
    int broken;     /* I/O error: replies are dropped, close once nothing is pending */
    uint64_t lines, oks, errors;
};

struct batch_entry {
    struct client *client;
    int64_t read_us;
    char *error; /* NULL: obs is valid and goes to the store */
    struct ingest_obs obs;
};

struct server {
    const struct ingest_config *config;
    int listen_fd;
    dev_t sock_dev;
    ino_t sock_ino;
    struct client **clients;
    size_t nclients;
    size_t rr; /* round-robin start, so one busy client cannot starve the others */
    uint64_t next_id;
    int stopping;
    int64_t accept_paused_until_ms; /* out of descriptors: retry accept() then */

    struct batch_entry *batch;
    size_t batch_len;
    size_t batch_valid;
    int64_t batch_deadline_us;
    const struct ingest_obs **batch_obs;

    struct ingest_store *store;
    struct ingest_latency latency;
    int latency_dirty;
    struct ingest_stats_delta unflushed; /* figures not yet in _ingest_stats */
    int64_t stats_written_ms;
    int64_t db_error_logged_ms;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

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

static int listen_socket(struct server *srv, char **errp)
{
    const struct ingest_config *cfg = srv->config;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(cfg->socket_path) >= sizeof addr.sun_path)
        return set_error(errp, "--ingest-socket: path longer than %zu bytes",
                         sizeof addr.sun_path - 1);
    strcpy(addr.sun_path, cfg->socket_path);

    gid_t gid = (gid_t)-1;
    if (cfg->socket_group != NULL) {
        struct group *gr = getgrnam(cfg->socket_group);
        if (gr == NULL)
            return set_error(errp, "--ingest-socket-group: no group named '%s'",
                             cfg->socket_group);
        gid = gr->gr_gid;
    }

    /* A socket file left by a crashed worker is removed; a live one is not stolen. */
    struct stat st;
    if (lstat(cfg->socket_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return set_error(errp, "%s exists and is not a socket", cfg->socket_path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return set_error(errp, "socket: %s", strerror(errno));
        int rc = connect(probe, (struct sockaddr *)&addr, sizeof addr);
        int probe_errno = errno;
        close(probe);
        if (rc == 0)
            return set_error(errp, "another process is listening on %s", cfg->socket_path);
        /* Only "refused" proves nobody listens; EACCES could hide a live worker. */
        if (probe_errno != ECONNREFUSED)
            return set_error(errp, "%s exists and cannot be probed (%s); remove it if no "
                                   "worker uses it", cfg->socket_path, strerror(probe_errno));
        if (unlink(cfg->socket_path) != 0 && errno != ENOENT)
            return set_error(errp, "removing stale socket %s: %s", cfg->socket_path,
                             strerror(errno));
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return set_error(errp, "socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        set_error(errp, "binding %s: %s", cfg->socket_path, strerror(errno));
        close(fd);
        return -1;
    }
    /* Permissions are set before listen(): until then every connect is refused. */
    if (chmod(cfg->socket_path, cfg->socket_mode) != 0 ||
        (gid != (gid_t)-1 && chown(cfg->socket_path, (uid_t)-1, gid) != 0) ||
        listen(fd, 128) != 0 || stat(cfg->socket_path, &st) != 0) {
        set_error(errp, "setting up %s: %s", cfg->socket_path, strerror(errno));
        close(fd);
        unlink(cfg->socket_path);
        return -1;
    }
    srv->listen_fd = fd;
    srv->sock_dev = st.st_dev;
    srv->sock_ino = st.st_ino;
    return 0;
}

/* Removes the socket file only if it is still ours (a successor may have replaced it). */
static void close_listener(struct server *srv)
{
    if (srv->listen_fd < 0)
        return;
    struct stat st;
    if (stat(srv->config->socket_path, &st) == 0 && st.st_dev == srv->sock_dev &&
        st.st_ino == srv->sock_ino)
        unlink(srv->config->socket_path);
    close(srv->listen_fd);
    srv->listen_fd = -1;
}

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
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    if (c->in_len == c->in_cap)
        return; /* unreachable: a full buffer without a newline is an oversized line */
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n > 0) {
        c->in_len += (size_t)n;
        c->read_us = now_us();
    } else if (n == 0) {
        c->eof = 1;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log_debug("ingest: client %llu: read: %s", (unsigned long long)c->id, strerror(errno));
        c->broken = 1;
    }
}

static void client_write(struct client *c)
{
    while (!c->broken && c->out_start < c->out_len) {
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
        c->broken = 1;
    }
    if (c->broken || c->out_start == c->out_len)
        c->out_start = c->out_len = 0;
}

/* Appends one reply line; a reason is cut to INGEST_REASON_MAX and kept on one line. */
static void client_reply(struct client *c, const char *reason)
{
    if (reason == NULL)
        c->oks++;
    else
        c->errors++;
    if (c->broken)
        return;
    size_t need = reason ? 6 + INGEST_REASON_MAX + 1 : 3;
    if (c->out_start > 0 && c->out_len + need > c->out_cap) {
        memmove(c->out, c->out + c->out_start, c->out_len - c->out_start);
        c->out_len -= c->out_start;
        c->out_start = 0;
    }
    if (c->out_len + need > c->out_cap) {
        c->out_cap = c->out_cap ? c->out_cap * 2 : 1024;
        while (c->out_len + need > c->out_cap)
            c->out_cap *= 2;
        c->out = xrealloc(c->out, c->out_cap);
    }
    if (reason == NULL) {
        memcpy(c->out + c->out_len, "ok\n", 3);
        c->out_len += 3;
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

static size_t client_unsent(const struct client *c)
{
    return c->out_len - c->out_start;
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
    else if (ingest_parse_line(line, len, &e->obs, &e->error) == 0)
        srv->batch_valid++;
    if (srv->batch_len == 0)
        srv->batch_deadline_us = now_us() + (int64_t)srv->config->batch_ms * 1000;
    srv->batch_len++;
    c->pending++;
    c->lines++;
}

/*
 * Moves complete lines from the client's buffer into the batch until either
 * runs out. An oversized line is answered once, when it overflows the buffer,
 * and its remaining bytes are dropped up to the next newline.
 */
static void client_take_lines(struct server *srv, struct client *c)
{
    while (!batch_full(srv)) {
        char *start = c->in + c->in_start;
        char *nl = memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan);
        if (nl == NULL) {
            c->in_scan = c->in_len;
            size_t have = c->in_len - c->in_start;
            if (c->discarding) {
                c->in_start = c->in_len = c->in_scan = 0;
            } else if (have > INGEST_LINE_MAX) {
                batch_add(srv, c, NULL, 0);
                c->discarding = 1;
                c->in_start = c->in_len = c->in_scan = 0;
            } else if (c->eof && have > 0) {
                /* A last line without its newline is still a line. */
                batch_add(srv, c, start, have);
                c->in_start = c->in_len = c->in_scan = 0;
            }
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

static int client_has_line(const struct client *c)
{
    return memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan) != NULL;
}

static void take_all_lines(struct server *srv)
{
    size_t n = srv->nclients;
    for (size_t k = 0; k < n && !batch_full(srv); k++) {
        struct client *c = srv->clients[(srv->rr + k) % n];
        if (!c->broken)
            client_take_lines(srv, c);
    }
    if (n > 0)
        srv->rr = (srv->rr + 1) % n;
}

static int stats_dirty(const struct server *srv)
{
    const struct ingest_stats_delta *d = &srv->unflushed;
    return d->accepted || d->rejected || d->acked || d->commits || srv->latency_dirty;
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

static void log_db_error(struct server *srv, const char *what, const char *err)
{
    /* A persistent failure (disk full) would repeat per batch; once a minute is enough. */
    int64_t now = clock_monotonic_ms();
    if (srv->db_error_logged_ms == 0 || now - srv->db_error_logged_ms >= 60000) {
        log_error("ingest: %s: %s", what, err);
        srv->db_error_logged_ms = now;
    }
}

/*
 * Commits the batch's valid lines and this batch's figures in one
 * transaction, then queues every reply in arrival order: a line is answered
 * `ok` only once its commit has returned.
 */
static void batch_flush(struct server *srv)
{
    size_t n = srv->batch_len, valid = 0;
    for (size_t i = 0; i < n; i++) {
        if (srv->batch[i].error == NULL)
            srv->batch_obs[valid++] = &srv->batch[i].obs;
    }
    char *db_error = NULL;
    if (valid > 0) {
        struct ingest_stats_delta d = srv->unflushed;
        d.accepted += (int64_t)valid;
        d.rejected += (int64_t)(n - valid);
        d.acked += (int64_t)valid;
        d.commits += 1;
        if ((int64_t)valid > d.commit_rows_max)
            d.commit_rows_max = (int64_t)valid;
        stats_with_latency(srv, &d);
        char *err = NULL;
        if (ingest_store_commit(srv->store, srv->batch_obs, valid, &d, &err) == 0) {
            stats_written(srv);
        } else {
            log_db_error(srv, "commit failed, answering its lines with errors", err);
            db_error = xasprintf("database: %s", err);
            free(err);
            srv->unflushed.rejected += (int64_t)n;
        }
    } else {
        srv->unflushed.rejected += (int64_t)n;
    }

    int64_t done_us = now_us();
    for (size_t i = 0; i < n; i++) {
        struct batch_entry *e = &srv->batch[i];
        const char *reason = e->error ? e->error : db_error;
        client_reply(e->client, reason);
        if (reason == NULL) {
            ingest_latency_add(&srv->latency, (double)(done_us - e->read_us) / 1000.0);
            srv->latency_dirty = 1;
        }
        e->client->pending--;
        free(e->error);
        ingest_obs_clear(&e->obs);
    }
    free(db_error);
    srv->batch_len = srv->batch_valid = 0;
    for (size_t i = 0; i < srv->nclients; i++) {
        if (client_unsent(srv->clients[i]) > 0)
            client_write(srv->clients[i]);
    }
}

/* Figures with no commit to ride on (only rejected lines, the last latencies). */
static void stats_flush_if_due(struct server *srv, int force)
{
    if (!stats_dirty(srv))
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

/* Closes clients that are finished: nothing pending, nothing more to say or hear. */
static void reap_clients(struct server *srv)
{
    size_t kept = 0;
    for (size_t i = 0; i < srv->nclients; i++) {
        struct client *c = srv->clients[i];
        int input_done = c->eof && (c->in_len == c->in_start || c->discarding);
        int done = c->pending == 0 &&
                   (c->broken || (input_done && client_unsent(c) == 0));
        if (!done) {
            srv->clients[kept++] = c;
            continue;
        }
        log_debug("ingest: client %llu closed: %llu lines, %llu ok, %llu errors%s",
                  (unsigned long long)c->id, (unsigned long long)c->lines,
                  (unsigned long long)c->oks, (unsigned long long)c->errors,
                  c->broken ? " (connection lost)" : "");
        client_free(c);
    }
    srv->nclients = kept;
}

static int wants_input(const struct server *srv, const struct client *c)
{
    return !srv->stopping && !c->eof && !c->broken && !batch_full(srv) &&
           client_unsent(c) < CLIENT_OUT_HIGH && !client_has_line(c);
}

static void begin_stop(struct server *srv)
{
    srv->stopping = 1;
    close_listener(srv);
    log_info("ingest: stopping: no new connections or lines; committing and answering what "
             "was read");
}

static void timespec_from_us(struct timespec *ts, int64_t us)
{
    if (us < 0)
        us = 0;
    ts->tv_sec = (time_t)(us / 1000000);
    ts->tv_nsec = (long)(us % 1000000) * 1000;
}

/* After the last commit: gives clients STOP_DRAIN_MS to read their replies. */
static void drain_replies(struct server *srv, struct pollfd *fds, const sigset_t *wait_mask)
{
    int64_t deadline = clock_monotonic_ms() + STOP_DRAIN_MS;
    for (;;) {
        nfds_t nfds = 0;
        for (size_t i = 0; i < srv->nclients; i++) {
            struct client *c = srv->clients[i];
            if (!c->broken && client_unsent(c) > 0)
                fds[nfds++] = (struct pollfd){.fd = c->fd, .events = POLLOUT};
        }
        int64_t left = deadline - clock_monotonic_ms();
        if (nfds == 0 || left <= 0)
            return;
        struct timespec ts;
        timespec_from_us(&ts, left * 1000);
        if (ppoll(fds, nfds, &ts, wait_mask) < 0 && errno != EINTR)
            return;
        for (size_t i = 0; i < srv->nclients; i++)
            client_write(srv->clients[i]);
    }
}

static void server_free(struct server *srv)
{
    close_listener(srv);
    for (size_t i = 0; i < srv->nclients; i++)
        client_free(srv->clients[i]);
    for (size_t i = 0; i < srv->batch_len; i++) {
        free(srv->batch[i].error);
        ingest_obs_clear(&srv->batch[i].obs);
    }
    free(srv->clients);
    free(srv->batch);
    free(srv->batch_obs);
    ingest_store_close(srv->store);
}

int ingest_serve(const struct ingest_config *config, volatile sig_atomic_t *stop,
                 const sigset_t *wait_mask, char **errp)
{
    if (config->batch_rows < 1 || config->batch_ms < 0 || config->max_clients < 1)
        return set_error(errp, "ingest: invalid batch or client limits");
    struct server srv = {.config = config, .listen_fd = -1};
    srv.clients = xcalloc((size_t)config->max_clients, sizeof *srv.clients);
    srv.batch = xcalloc((size_t)config->batch_rows, sizeof *srv.batch);
    srv.batch_obs = xcalloc((size_t)config->batch_rows, sizeof *srv.batch_obs);
    struct pollfd *fds = xcalloc((size_t)config->max_clients + 1, sizeof *fds);
    int rc = -1;

    if (ingest_store_open(config->db_path, config->busy_timeout_ms, config->durable, &srv.store,
                          errp) != 0 ||
        listen_socket(&srv, errp) != 0)
        goto out;
    srv.stats_written_ms = clock_monotonic_ms();
    log_info("ingest: listening on %s (mode %04o, group commit of up to %d lines or %d ms, "
             "synchronous=%s)",
             config->socket_path, (unsigned)config->socket_mode, config->batch_rows,
             config->batch_ms, config->durable ? "FULL" : "NORMAL");

    for (;;) {
        if (*stop && !srv.stopping)
            begin_stop(&srv);
        take_all_lines(&srv);
        if (srv.batch_len > 0 &&
            (batch_full(&srv) || srv.stopping || now_us() >= srv.batch_deadline_us)) {
            batch_flush(&srv);
            continue; /* buffered lines may be waiting for room in the batch */
        }
        reap_clients(&srv);
        if (srv.stopping)
            break;
        stats_flush_if_due(&srv, 0);

        /* Slot 0 is the listener, -1 (ignored) while full or paused. */
        int64_t now_ms = clock_monotonic_ms();
        int accepting = srv.nclients < (size_t)config->max_clients &&
                        now_ms >= srv.accept_paused_until_ms;
        nfds_t nfds = 0;
        fds[nfds++] = (struct pollfd){.fd = accepting ? srv.listen_fd : -1, .events = POLLIN};
        for (size_t i = 0; i < srv.nclients; i++) {
            struct client *c = srv.clients[i];
            short events = 0;
            if (wants_input(&srv, c))
                events |= POLLIN;
            if (!c->broken && client_unsent(c) > 0)
                events |= POLLOUT;
            /* fd -1 keeps the slot aligned with clients[] and is ignored by poll. */
            fds[nfds++] = (struct pollfd){.fd = events ? c->fd : -1, .events = events};
        }
        struct timespec ts, *timeout = NULL;
        if (srv.batch_len > 0) {
            timespec_from_us(&ts, srv.batch_deadline_us - now_us());
            timeout = &ts;
        } else {
            int64_t wake_ms = INT64_MAX;
            if (stats_dirty(&srv))
                wake_ms = srv.stats_written_ms + STATS_FLUSH_MS;
            if (!accepting && srv.accept_paused_until_ms > now_ms &&
                srv.accept_paused_until_ms < wake_ms)
                wake_ms = srv.accept_paused_until_ms;
            if (wake_ms != INT64_MAX) {
                timespec_from_us(&ts, (wake_ms - now_ms) * 1000);
                timeout = &ts;
            }
        }
        int ready = ppoll(fds, nfds, timeout, wait_mask);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            set_error(errp, "ingest: poll: %s", strerror(errno));
            goto out;
        }
        const size_t base = 1;
        if (fds[0].revents & POLLIN)
            accept_clients(&srv);
        /* Only the clients that were polled: accept_clients appended new ones after them. */
        size_t polled = nfds - base;
        for (size_t i = 0; i < polled; i++) {
            struct client *c = srv.clients[i];
            short re = fds[base + i].revents;
            if (re & POLLOUT)
                client_write(c);
            if (re & POLLIN) {
                client_read(c);
            } else if (re & (POLLHUP | POLLERR)) {
                /* Gone without unread data we asked for: replies cannot be delivered. */
                if (fds[base + i].events & POLLIN)
                    client_read(c);
                else
                    c->broken = 1;
            }
        }
    }

    stats_flush_if_due(&srv, 1);
    drain_replies(&srv, fds, wait_mask);
    rc = 0;
    log_info("ingest: stopped");

out:
    free(fds);
    server_free(&srv);
    return rc;
}
