/* ingest_feed.c: `meshscope-ingest feed`: the demo feeder, a steady stream of realistic observations. */
#include "ingest_tool.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ingest.h"
#include "log.h"
#include "util.h"

#define FEED_WINDOW 2048   /* lines in flight before the feeder waits */
#define FEED_DRAIN_MS 2000 /* on SIGTERM, how long to wait for outstanding replies */

static volatile sig_atomic_t feed_stop;

static void feed_on_signal(int signo)
{
    (void)signo;
    feed_stop = 1;
}

struct feed_counts {
    int64_t sent, oks, errors, lost;
    struct ingest_latency *period, *recent;
    int64_t period_sent, period_oks;
    int64_t error_logged_us;
};

struct feed_session {
    struct feed_counts *counts;
    struct tool_inflight inflight;
};

static void feed_on_reply(void *ctx, const char *reply, size_t len)
{
    struct feed_session *s = ctx;
    struct feed_counts *c = s->counts;
    struct tool_sent sent;
    if (tool_inflight_pop(&s->inflight, &sent) != 0)
        return;
    /* `ok duplicate`: the worker holds this observation already; acknowledged too. */
    if (strcmp(reply, "ok") == 0 || strcmp(reply, "ok duplicate") == 0) {
        double ms = (double)(clock_monotonic_us() - sent.sent_us) / 1000.0;
        ingest_latency_add(c->period, ms);
        ingest_latency_add(c->recent, ms);
        c->oks++;
        c->period_oks++;
        return;
    }
    c->errors++;
    int64_t now = clock_monotonic_us();
    if (now - c->error_logged_us > 10 * 1000000) {
        log_warnx("the worker refused a line: %.*s", (int)len, reply);
        c->error_logged_us = now;
    }
}

static void feed_report(struct feed_counts *c, double seconds, const char *what)
{
    double p50 = 0, p99 = 0;
    char latency[96] = "no acknowledgement yet";
    if (ingest_latency_percentiles(c->period, &p50, &p99) == 0)
        snprintf(latency, sizeof latency, "ack latency p50 %.1f ms, p99 %.1f ms", p50, p99);
    log_info("%s: %lld lines in %.0f s, %lld ok, %s; in all %lld sent, %lld ok, %lld refused, "
             "%lld unacknowledged",
             what, (long long)c->period_sent, seconds, (long long)c->period_oks, latency,
             (long long)c->sent, (long long)c->oks, (long long)c->errors, (long long)c->lost);
    memset(c->period, 0, sizeof *c->period);
    c->period_sent = c->period_oks = 0;
}

static void feed_usage(FILE *out)
{
    fputs("Usage: meshscope-ingest feed --socket PATH [--rate N] [--count N]\n"
          "                             [--observers N] [--seed N] [--report-secs N]\n"
          "\n"
          "Streams realistic demo observations into the worker's ingest socket:\n"
          "new transmissions, repeats of recent ones heard by other observers, and a\n"
          "few late observations with older timestamps. Waits for the socket to\n"
          "appear and reconnects when the worker restarts. Logs its figures,\n"
          "including the acknowledgement latency, every --report-secs.\n"
          "\n"
          "  --socket PATH      the worker's --ingest-socket\n"
          "  --rate N           lines per second (default 5)\n"
          "  --count N          stop after N lines have been answered (default: run\n"
          "                     until SIGTERM); exits 1 if any was refused or lost\n"
          "  --observers N      distinct observers, 1-32 (default 6)\n"
          "  --seed N           random seed (default: from the clock)\n"
          "  --report-secs N    seconds between figure lines, 0 for none (default 10)\n",
          out);
}

struct feed_options {
    const char *socket_path;
    int64_t rate, count, observers, report_secs;
    uint64_t seed;
};

static int feed_parse(int argc, char **argv, struct feed_options *o)
{
    static const struct option options[] = {
        {"socket", required_argument, NULL, 's'},  {"rate", required_argument, NULL, 'r'},
        {"count", required_argument, NULL, 'c'},   {"observers", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, 'e'},    {"report-secs", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    o->rate = 5;
    o->observers = 6;
    o->report_secs = 10;
    o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    char *err = NULL;
    int64_t seed;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case 's':
            o->socket_path = optarg;
            break;
        case 'r':
            rc = parse_int64(optarg, 1, 100000, "--rate", &o->rate, &err);
            break;
        case 'c':
            rc = parse_int64(optarg, 0, INT64_MAX, "--count", &o->count, &err);
            break;
        case 'o':
            rc = parse_int64(optarg, 1, FEED_MAX_OBSERVERS, "--observers", &o->observers, &err);
            break;
        case 'e':
            rc = parse_int64(optarg, 0, INT64_MAX, "--seed", &seed, &err);
            o->seed = (uint64_t)seed;
            break;
        case 'p':
            rc = parse_int64(optarg, 0, 86400, "--report-secs", &o->report_secs, &err);
            break;
        case 'h':
            feed_usage(stdout);
            exit(0);
        default:
            feed_usage(stderr);
            return -1;
        }
        if (rc != 0) {
            fprintf(stderr, "meshscope-ingest feed: %s\n", err);
            free(err);
            return -1;
        }
    }
    if (o->socket_path == NULL || optind < argc) {
        feed_usage(stderr);
        return -1;
    }
    return 0;
}

/* Sleeps up to ms, returning early on SIGTERM. */
static void feed_pause(int ms)
{
    poll(NULL, 0, ms);
}

/*
 * One connection: sends on schedule, reads replies, and returns when the
 * connection ends (the worker stopped or restarted), on SIGTERM, or when
 * --count lines have been answered.
 */
static void feed_session(const struct feed_options *o, int fd, struct feed_gen *gen,
                         struct feed_counts *c, int64_t *report_at_us, int64_t *report_from_us)
{
    struct feed_session s = {.counts = c};
    tool_inflight_init(&s.inflight, FEED_WINDOW);
    struct tool_replies replies = {0};
    char *out = NULL;
    size_t out_len = 0, out_sent = 0, out_cap = 0;
    int64_t interval_us = 1000000 / o->rate;
    int64_t next_due = clock_monotonic_us();
    int64_t drain_until = 0;

    for (;;) {
        int64_t now = clock_monotonic_us();
        if (feed_stop && drain_until == 0)
            drain_until = now + FEED_DRAIN_MS * 1000;
        int done_sending = drain_until != 0 || (o->count > 0 && c->sent >= o->count);
        if (done_sending && s.inflight.len == 0)
            break;
        if (drain_until != 0 && now >= drain_until)
            break;
        /* After a stall (back-pressure, a busy worker), resume the rate; no burst. */
        if (now - next_due > 1000000)
            next_due = now;
        while (!done_sending && now >= next_due && s.inflight.len < FEED_WINDOW &&
               out_len - out_sent < 256 * 1024) {
            char *line = feed_gen_line(gen, (int64_t)time(NULL));
            size_t len = strlen(line);
            if (out_len + len + 1 > out_cap) {
                out_cap = (out_len + len + 1) * 2;
                out = xrealloc(out, out_cap);
            }
            memcpy(out + out_len, line, len);
            out[out_len + len] = '\n';
            out_len += len + 1;
            free(line);
            tool_inflight_push(&s.inflight, c->sent, now);
            c->sent++;
            c->period_sent++;
            next_due += interval_us;
            done_sending = o->count > 0 && c->sent >= o->count;
        }
        if (out_sent < out_len) {
            ssize_t n = send(fd, out + out_sent, out_len - out_sent, MSG_NOSIGNAL);
            if (n > 0)
                out_sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                break;
            if (out_sent == out_len)
                out_sent = out_len = 0;
        }
        if (o->report_secs > 0 && now >= *report_at_us) {
            feed_report(c, (double)(now - *report_from_us) / 1e6, "feeding");
            *report_from_us = now;
            *report_at_us = now + o->report_secs * 1000000;
        }

        int64_t wake = done_sending ? now + 100000 : next_due;
        if (o->report_secs > 0 && *report_at_us < wake)
            wake = *report_at_us;
        int timeout_ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (out_sent < out_len)
            pfd.events |= POLLOUT;
        if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
            break;
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (tool_read_replies(fd, &replies, feed_on_reply, &s) != 0)
                break; /* EOF or error: the worker went away */
        }
    }
    if (s.inflight.len > 0) {
        c->lost += (int64_t)s.inflight.len;
        log_warnx("connection ended with %zu lines unacknowledged", s.inflight.len);
    }
    tool_inflight_free(&s.inflight);
    free(out);
}

int ingest_feed_main(int argc, char **argv)
{
    struct feed_options o = {0};
    if (feed_parse(argc, argv, &o) != 0)
        return 2;
    struct sigaction sa = {0};
    sa.sa_handler = feed_on_signal; /* no SA_RESTART: poll() returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct feed_gen *gen = feed_gen_new(o.seed, (int)o.observers);
    struct feed_counts c = {0};
    c.period = xcalloc(1, sizeof *c.period);
    c.recent = xcalloc(1, sizeof *c.recent);
    int64_t start = clock_monotonic_us();
    int64_t report_from = start, report_at = start + o.report_secs * 1000000;
    int waiting_logged = 0, backoff_ms = 100;
    log_info("feeding %s at %lld lines/s from %lld observers", o.socket_path, (long long)o.rate,
             (long long)o.observers);

    while (!feed_stop && !(o.count > 0 && c.sent >= o.count)) {
        int fd = -1;
        char *err = NULL;
        if (tool_connect(o.socket_path, &fd, &err) != 0) {
            /* The worker may not be up yet, or is restarting: wait, quietly after once. */
            if (!waiting_logged)
                log_info("waiting for the ingest socket: %s", err);
            waiting_logged = 1;
            free(err);
            feed_pause(backoff_ms);
            backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
            continue;
        }
        log_info("connected to %s", o.socket_path);
        waiting_logged = 0;
        backoff_ms = 100;
        feed_session(&o, fd, gen, &c, &report_at, &report_from);
        close(fd);
        if (!feed_stop && !(o.count > 0 && c.sent >= o.count))
            log_info("the worker closed the connection; reconnecting");
    }

    /* The summary's latency covers the last INGEST_LATENCY_WINDOW acknowledgements. */
    memcpy(c.period, c.recent, sizeof *c.period);
    c.period_sent = c.sent;
    c.period_oks = c.oks;
    feed_report(&c, (double)(clock_monotonic_us() - start) / 1e6, "stopped");
    double p50 = 0, p99 = 0;
    if (o.count > 0 && ingest_latency_percentiles(c.recent, &p50, &p99) == 0)
        printf("acked %lld of %lld lines; ack latency p50 %.2f ms, p99 %.2f ms\n",
               (long long)c.oks, (long long)c.sent, p50, p99);
    free(c.period);
    free(c.recent);
    feed_gen_free(gen);
    return o.count > 0 && (c.errors > 0 || c.lost > 0) ? 1 : 0;
}
