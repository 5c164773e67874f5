/* ingest_send.c: `meshscope-ingest send`: NDJSON from a file or stdin to the socket, every reply reported. */
#include "ingest_tool.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest.h"
#include "util.h"

#define SEND_WINDOW 4096         /* lines in flight: bounds memory, keeps the pipe full */
#define SEND_OUT_HIGH (256 * 1024)
#define SEND_IN_CAP (INGEST_LINE_MAX + 1)

struct send_state {
    const char *input_name;
    int quiet;
    int64_t lineno;            /* input lines read so far */
    int in_fd, in_eof, skipping;
    char *in;
    size_t in_start, in_len;
    char *out;
    size_t out_len, out_cap;
    struct tool_inflight inflight;
    struct ingest_latency *latency;
    int64_t sent, oks, errors, local_errors;
    int fd;                    /* the worker's socket */
    size_t out_sent;           /* bytes of out already sent */
    int shut, server_eof, failed;
};

static void send_usage(FILE *out)
{
    fputs("Usage: meshscope-ingest send --socket PATH [--quiet] [FILE]\n"
          "\n"
          "Sends one JSON observation per line from FILE (or stdin, or '-') to the\n"
          "worker's ingest socket and waits for every reply. Blank lines are skipped;\n"
          "lines longer than 65536 bytes are refused locally. Each error is printed\n"
          "with its input line number; a summary with the acknowledgement latency\n"
          "goes to stdout. Exits 0 only if every line was acknowledged `ok`.\n"
          "\n"
          "  --socket PATH  the worker's --ingest-socket\n"
          "  --quiet        print only the summary\n",
          out);
}

static void on_reply(void *ctx, const char *reply, size_t len)
{
    struct send_state *st = ctx;
    struct tool_sent sent;
    if (tool_inflight_pop(&st->inflight, &sent) != 0) {
        fprintf(stderr, "meshscope-ingest: unexpected reply '%.*s'\n", (int)len, reply);
        st->errors++;
        return;
    }
    /* `ok duplicate`: the worker holds this observation already; acknowledged too. */
    if (strcmp(reply, "ok") == 0 || strcmp(reply, "ok duplicate") == 0) {
        st->oks++;
        ingest_latency_add(st->latency, (double)(clock_monotonic_us() - sent.sent_us) / 1000.0);
        return;
    }
    st->errors++;
    if (!st->quiet)
        fprintf(stderr, "%s:%lld: %s\n", st->input_name, (long long)sent.tag, reply);
}

static void out_append(struct send_state *st, const char *line, size_t len)
{
    if (st->out_len + len + 1 > st->out_cap) {
        while (st->out_len + len + 1 > st->out_cap)
            st->out_cap = st->out_cap ? st->out_cap * 2 : 64 * 1024;
        st->out = xrealloc(st->out, st->out_cap);
    }
    memcpy(st->out + st->out_len, line, len);
    st->out[st->out_len + len] = '\n';
    st->out_len += len + 1;
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    }
    return 1;
}

/* Moves complete input lines to the output buffer while the window has room. */
static void take_input_lines(struct send_state *st)
{
    while (st->inflight.len < SEND_WINDOW && st->out_len < SEND_OUT_HIGH) {
        char *start = st->in + st->in_start;
        size_t have = st->in_len - st->in_start;
        char *nl = memchr(start, '\n', have);
        size_t len;
        if (nl != NULL) {
            len = (size_t)(nl - start);
            st->in_start += len + 1;
        } else if (st->in_eof && have > 0) {
            len = have; /* a last line without its newline */
            st->in_start = st->in_len;
        } else {
            if (have > INGEST_LINE_MAX && !st->skipping) {
                st->lineno++;
                st->local_errors++;
                fprintf(stderr, "%s:%lld: error line too long (more than %d bytes), not sent\n",
                        st->input_name, (long long)st->lineno, INGEST_LINE_MAX);
                st->skipping = 1;
            }
            if (st->skipping)
                st->in_start = st->in_len;
            return;
        }
        if (st->skipping) {
            st->skipping = 0;
            continue;
        }
        st->lineno++;
        if (blank(start, len))
            continue;
        out_append(st, start, len);
        tool_inflight_push(&st->inflight, st->lineno, clock_monotonic_us());
        st->sent++;
    }
}

static int read_input(struct send_state *st, char **errp)
{
    if (st->in_start > 0) {
        memmove(st->in, st->in + st->in_start, st->in_len - st->in_start);
        st->in_len -= st->in_start;
        st->in_start = 0;
    }
    ssize_t n = read(st->in_fd, st->in + st->in_len, SEND_IN_CAP - st->in_len);
    if (n > 0)
        st->in_len += (size_t)n;
    else if (n == 0)
        st->in_eof = 1;
    else if (errno != EINTR && errno != EAGAIN)
        return set_error(errp, "reading %s: %s", st->input_name, strerror(errno));
    return 0;
}

static int input_has_line(const struct send_state *st)
{
    size_t have = st->in_len - st->in_start;
    return memchr(st->in + st->in_start, '\n', have) != NULL || (st->in_eof && have > 0) ||
           have > INGEST_LINE_MAX;
}

/* Parses the options and opens the input; returns -1 to go on, else the exit code. */
static int send_parse(int argc, char **argv, struct send_state *st, const char **socket_out)
{
    static const struct option options[] = {
        {"socket", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            *socket_out = optarg;
            break;
        case 'q':
            st->quiet = 1;
            break;
        case 'h':
            send_usage(stdout);
            return 0;
        default:
            send_usage(stderr);
            return 2;
        }
    }
    if (*socket_out == NULL || argc - optind > 1) {
        send_usage(stderr);
        return 2;
    }
    if (optind < argc && strcmp(argv[optind], "-") != 0) {
        st->input_name = argv[optind];
        st->in_fd = open(st->input_name, O_RDONLY | O_CLOEXEC);
        if (st->in_fd < 0) {
            fprintf(stderr, "meshscope-ingest send: %s: %s\n", st->input_name, strerror(errno));
            return 1;
        }
    }
    return -1;
}

/* Sends what the output buffer holds; a worker gone away ends the input, not the replies. */
static void send_flush(struct send_state *st)
{
    ssize_t n = send(st->fd, st->out + st->out_sent, st->out_len - st->out_sent, MSG_NOSIGNAL);
    if (n > 0) {
        st->out_sent += (size_t)n;
        if (st->out_sent == st->out_len)
            st->out_sent = st->out_len = 0;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        /* The worker went away: what it answered is still to be read. */
        fprintf(stderr, "meshscope-ingest send: sending: %s\n", strerror(errno));
        st->failed = 1;
        st->in_eof = 1;
        st->in_start = st->in_len = 0;
        st->out_sent = st->out_len = 0;
    }
}

/* One turn of the loop: send, read replies, read input, as poll says they can. */
static int send_step(struct send_state *st, struct tool_replies *replies, char **errp)
{
    take_input_lines(st);
    if (!st->shut && st->in_eof && st->in_start == st->in_len && st->out_sent == st->out_len) {
        shutdown(st->fd, SHUT_WR); /* tells the worker no more lines follow */
        st->shut = 1;
    }
    struct pollfd fds[2] = {{.fd = st->fd, .events = POLLIN}, {.fd = -1}};
    if (st->out_sent < st->out_len)
        fds[0].events |= POLLOUT;
    int want_input = !st->in_eof && !input_has_line(st) && st->inflight.len < SEND_WINDOW &&
                     st->out_len < SEND_OUT_HIGH;
    if (want_input)
        fds[1] = (struct pollfd){.fd = st->in_fd, .events = POLLIN};
    if (poll(fds, 2, -1) < 0)
        return errno == EINTR ? 0 : set_error(errp, "poll: %s", strerror(errno));
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        int rc = tool_read_replies(st->fd, replies, on_reply, st);
        if (rc == 1)
            st->server_eof = 1;
        else if (rc < 0)
            return set_error(errp, "reading replies: %s", strerror(errno));
    }
    if (!st->server_eof && (fds[0].revents & POLLOUT))
        send_flush(st);
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
        return read_input(st, errp);
    return 0;
}

/* The summary line on stdout, and on stderr what was left unanswered; returns the exit code. */
static int send_report(const struct send_state *st)
{
    int64_t unanswered = (int64_t)st->inflight.len;
    if (unanswered > 0)
        fprintf(stderr, "meshscope-ingest send: the connection closed with %lld lines "
                        "unacknowledged (the first is %s:%lld); they may or may not be stored\n",
                (long long)unanswered, st->input_name,
                (long long)st->inflight.slots[st->inflight.head].tag);
    double p50 = 0, p99 = 0;
    ingest_latency_percentiles(st->latency, &p50, &p99);
    printf("sent %lld lines: %lld ok, %lld errors, %lld unacknowledged", (long long)st->sent,
           (long long)st->oks, (long long)(st->errors + st->local_errors), (long long)unanswered);
    if (st->oks > 0)
        printf("; ack latency p50 %.1f ms, p99 %.1f ms", p50, p99);
    printf("\n");
    return st->failed || st->errors > 0 || st->local_errors > 0 || unanswered > 0 ? 1 : 0;
}

int ingest_send_main(int argc, char **argv)
{
    const char *socket_path = NULL;
    struct send_state st = {.input_name = "stdin", .in_fd = 0, .fd = -1};
    int code = send_parse(argc, argv, &st, &socket_path);
    if (code >= 0)
        return code;

    char *err = NULL;
    if (tool_connect(socket_path, &st.fd, &err) != 0) {
        fprintf(stderr, "meshscope-ingest send: %s\n", err);
        free(err);
        return 1;
    }
    st.in = xmalloc(SEND_IN_CAP);
    st.latency = xcalloc(1, sizeof *st.latency);
    tool_inflight_init(&st.inflight, SEND_WINDOW);
    struct tool_replies replies = {0};
    while (!st.server_eof && err == NULL)
        send_step(&st, &replies, &err);
    if (err != NULL) {
        fprintf(stderr, "meshscope-ingest send: %s\n", err);
        free(err);
        st.failed = 1;
    }
    code = send_report(&st);

    close(st.fd);
    if (st.in_fd > 0)
        close(st.in_fd);
    free(st.in);
    free(st.out);
    free(st.latency);
    tool_inflight_free(&st.inflight);
    return code;
}
