/* sink.c: hands queued lines to the worker's ingest socket and retires each on its reply, re-sending after a reconnect. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "log.h"
#include "util.h"

#define REPLY_MAX 512
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
#define LIVENESS_DIRTY_MS 500
#define LIVENESS_IDLE_MS 5000

struct sink {
    struct bridge *b;
    const char *socket_path;
    int fd;
    int sent;        /* entries from the head written on this connection, awaiting replies */
    size_t out_off;  /* bytes of entry `sent` already written (a partial write) */
    char in[REPLY_MAX + 1];
    size_t in_len;
    int64_t next_connect_ms, backoff_ms;
    int warned;      /* logged the current outage already */
};

static void sink_close(struct sink *k, const char *why)
{
    if (k->fd >= 0) {
        close(k->fd);
        k->fd = -1;
        pthread_mutex_lock(&k->b->lock);
        int unacked = k->sent;
        k->b->worker_connected = 0;
        k->b->dirty = 1;
        pthread_mutex_unlock(&k->b->lock);
        log_warnx("worker socket %s: %s; %d line(s) unacknowledged will be sent again",
                  k->socket_path, why, unacked);
    }
    /* Every line still held is sent again on the next connection, from the oldest. */
    k->sent = 0;
    k->out_off = 0;
    k->in_len = 0;
    k->next_connect_ms = clock_monotonic_ms() + k->backoff_ms;
    k->backoff_ms = k->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : k->backoff_ms * 2;
}

static void sink_connect(struct sink *k)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(k->socket_path) >= sizeof addr.sun_path) {
        log_error("worker socket path too long: %s", k->socket_path);
        k->next_connect_ms = clock_monotonic_ms() + RECONNECT_MAX_MS;
        return;
    }
    strcpy(addr.sun_path, k->socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (!k->warned)
            log_warn("cannot connect to the worker socket %s (retrying)", k->socket_path);
        k->warned = 1;
        if (fd >= 0)
            close(fd);
        k->next_connect_ms = clock_monotonic_ms() + k->backoff_ms;
        k->backoff_ms = k->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : k->backoff_ms * 2;
        return;
    }
    k->fd = fd;
    k->warned = 0;
    k->backoff_ms = RECONNECT_MIN_MS;
    pthread_mutex_lock(&k->b->lock);
    k->b->worker_connected = 1;
    k->b->dirty = 1;
    int held = k->b->count;
    pthread_mutex_unlock(&k->b->lock);
    log_info("connected to the worker socket %s (%d line(s) to send)", k->socket_path, held);
}

/* One reply retires the oldest line sent: "ok..." stored (or already stored), "error ..." refused. */
static int handle_reply(struct sink *k, const char *reply)
{
    struct bridge *b = k->b;
    pthread_mutex_lock(&b->lock);
    if (k->sent == 0 || b->count == 0) {
        pthread_mutex_unlock(&b->lock);
        log_warnx("worker socket: a reply with no line awaiting one");
        return -1;
    }
    struct pending *p = &b->ring[b->head];
    struct source *s = &b->sources[p->source];
    if (strncmp(reply, "ok", 2) == 0) {
        if (strstr(reply, "duplicate") != NULL)
            s->stats.duplicate++;
        else
            s->stats.stored++;
        s->stats.last_message_unix = time(NULL);
    } else {
        const char *reason = strncmp(reply, "error ", 6) == 0 ? reply + 6 : reply;
        char label[64];
        size_t n = strnlen(reason, sizeof label - 1);
        memcpy(label, reason, n);
        label[n] = '\0';
        bridge_count_reason(s->stats.refused, &s->stats.refused_count, label, s->config->name,
                            "worker refused a line");
    }
    b->latency_ms[b->latency_next] = (double)(clock_monotonic_us() - p->taken_us) / 1000.0;
    b->latency_next = (b->latency_next + 1) % BRIDGE_LATENCY_SAMPLES;
    if (b->latency_count < BRIDGE_LATENCY_SAMPLES)
        b->latency_count++;
    free(p->line);
    p->line = NULL;
    b->head = (b->head + 1) % b->ring_cap;
    b->count--;
    k->sent--;
    b->dirty = 1;
    pthread_cond_broadcast(&b->room);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

static int sink_read(struct sink *k)
{
    for (;;) {
        ssize_t n = read(k->fd, k->in + k->in_len, REPLY_MAX - k->in_len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n <= 0) {
            sink_close(k, n == 0 ? "closed by the worker" : strerror(errno));
            return -1;
        }
        k->in_len += (size_t)n;
        char *nl;
        while ((nl = memchr(k->in, '\n', k->in_len)) != NULL) {
            *nl = '\0';
            if (handle_reply(k, k->in) != 0) {
                sink_close(k, "protocol error");
                return -1;
            }
            size_t used = (size_t)(nl - k->in) + 1;
            memmove(k->in, nl + 1, k->in_len - used);
            k->in_len -= used;
        }
        if (k->in_len == REPLY_MAX) {
            sink_close(k, "reply line too long");
            return -1;
        }
    }
}

/* Writes held lines in order, from the first not yet written on this connection. */
static int sink_write(struct sink *k)
{
    struct bridge *b = k->b;
    pthread_mutex_lock(&b->lock);
    while (k->sent < b->count) {
        struct pending *p = &b->ring[(b->head + k->sent) % b->ring_cap];
        struct iovec iov[2] = {{p->line + k->out_off, p->len - k->out_off}, {"\n", 1}};
        int iovcnt = 2;
        if (k->out_off == p->len) {
            iov[0] = iov[1];
            iovcnt = 1;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t n = sendmsg(k->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            pthread_mutex_unlock(&b->lock);
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            sink_close(k, strerror(errno));
            return -1;
        }
        k->out_off += (size_t)n;
        if (k->out_off < p->len + 1)
            continue;
        k->out_off = 0;
        k->sent++;
    }
    pthread_mutex_unlock(&b->lock);
    return 0;
}

static int held_lines(struct bridge *b, int *unsent)
{
    pthread_mutex_lock(&b->lock);
    int n = b->count;
    pthread_mutex_unlock(&b->lock);
    if (unsent != NULL)
        *unsent = n;
    return n;
}

static void maybe_write_liveness(struct bridge *b, const char *path, int64_t *last_ms, int force)
{
    int64_t now = clock_monotonic_ms();
    pthread_mutex_lock(&b->lock);
    int dirty = b->dirty;
    pthread_mutex_unlock(&b->lock);
    if (!force && now - *last_ms < (dirty ? LIVENESS_DIRTY_MS : LIVENESS_IDLE_MS))
        return;
    char *err = NULL;
    if (liveness_write(b, path, &err) != 0) {
        static struct rate_limiter limit = {60000, 0, 0, 0};
        if (rate_limiter_allow(&limit, now, NULL))
            log_warnx("%s", err);
        free(err);
    }
    *last_ms = now;
}

int sink_run(struct bridge *b, const char *socket_path, const char *liveness_path,
             volatile int *terminate, int64_t drain_ms)
{
    struct sink k = {.b = b, .socket_path = socket_path, .fd = -1, .backoff_ms = RECONNECT_MIN_MS};
    int64_t liveness_ms = 0, drain_deadline = 0;
    for (;;) {
        int64_t now = clock_monotonic_ms();
        if (*terminate && drain_deadline == 0) {
            atomic_store(&b->stop, 1);
            pthread_mutex_lock(&b->lock);
            pthread_cond_broadcast(&b->room);
            pthread_mutex_unlock(&b->lock);
            drain_deadline = now + drain_ms;
            log_info("stopping: draining %d held line(s)", held_lines(b, NULL));
        }
        if (drain_deadline != 0 && (held_lines(b, NULL) == 0 || now >= drain_deadline))
            break;
        if (k.fd < 0 && now >= k.next_connect_ms)
            sink_connect(&k);
        if (k.fd >= 0 && sink_write(&k) != 0)
            continue;
        struct pollfd fds[2] = {{b->wake_fd[0], POLLIN, 0}, {k.fd, POLLIN, 0}};
        pthread_mutex_lock(&b->lock);
        if (k.fd >= 0 && k.sent < b->count)
            fds[1].events |= POLLOUT;
        pthread_mutex_unlock(&b->lock);
        int timeout = 200;
        if (k.fd < 0 && k.next_connect_ms - now < timeout)
            timeout = k.next_connect_ms > now ? (int)(k.next_connect_ms - now) : 0;
        if (poll(fds, k.fd >= 0 ? 2 : 1, timeout) < 0 && errno != EINTR) {
            log_warn("poll");
            return -1;
        }
        char drain[64];
        while (read(b->wake_fd[0], drain, sizeof drain) > 0) {
        }
        if (k.fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            sink_read(&k);
        maybe_write_liveness(b, liveness_path, &liveness_ms, 0);
    }
    int left = held_lines(b, NULL);
    if (left > 0)
        log_warnx("stopped with %d line(s) not acknowledged by the worker (lost)", left);
    else
        log_info("stopped: every line taken was acknowledged");
    if (k.fd >= 0)
        close(k.fd);
    pthread_mutex_lock(&b->lock);
    b->worker_connected = 0;
    for (int i = 0; i < b->source_count; i++)
        b->sources[i].stats.connected = 0;
    pthread_mutex_unlock(&b->lock);
    maybe_write_liveness(b, liveness_path, &liveness_ms, 1);
    return 0;
}
