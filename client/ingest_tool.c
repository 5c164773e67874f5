/* ingest_tool.c: meshscope-ingest's entry point, and the socket plumbing send and feed share. */
#include "ingest_tool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

int tool_connect(const char *path, int *fd_out, char **errp)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return set_error(errp, "%s: path too long for a unix socket", path);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return set_error(errp, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        set_error(errp, "cannot connect to %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    *fd_out = fd;
    return 0;
}

int tool_read_replies(int fd, struct tool_replies *r,
                      void (*on_reply)(void *ctx, const char *reply, size_t len), void *ctx)
{
    for (;;) {
        ssize_t n = read(fd, r->buf + r->len, sizeof r->buf - r->len);
        if (n == 0)
            return 1;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        r->len += (size_t)n;
        size_t start = 0;
        char *nl;
        while ((nl = memchr(r->buf + start, '\n', r->len - start)) != NULL) {
            size_t len = (size_t)(nl - (r->buf + start));
            *nl = '\0';
            on_reply(ctx, r->buf + start, len);
            start += len + 1;
        }
        memmove(r->buf, r->buf + start, r->len - start);
        r->len -= start;
        if (r->len == sizeof r->buf) {
            errno = EPROTO;
            return -1;
        }
    }
}

void tool_inflight_init(struct tool_inflight *q, size_t cap)
{
    q->slots = xcalloc(cap, sizeof *q->slots);
    q->cap = cap;
    q->head = q->len = 0;
}

void tool_inflight_free(struct tool_inflight *q)
{
    free(q->slots);
    q->slots = NULL;
}

void tool_inflight_push(struct tool_inflight *q, int64_t tag, int64_t sent_us)
{
    /* Callers stop sending while the window is full, so this cannot overflow. */
    struct tool_sent *slot = &q->slots[(q->head + q->len) % q->cap];
    slot->tag = tag;
    slot->sent_us = sent_us;
    q->len++;
}

int tool_inflight_pop(struct tool_inflight *q, struct tool_sent *out)
{
    if (q->len == 0)
        return -1;
    *out = q->slots[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return 0;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} tool_commands[] = {
    {"send", ingest_send_main, "send NDJSON from a file or stdin, report every reply"},
    {"feed", ingest_feed_main, "stream realistic demo observations at a steady rate"},
};

static void usage(FILE *out)
{
    fputs("Usage: meshscope-ingest COMMAND [options]\n"
          "\n"
          "Talks to meshscope-worker's ingest socket (--ingest-socket).\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < sizeof tool_commands / sizeof tool_commands[0]; i++)
        fprintf(out, "  %-6s %s\n", tool_commands[i].name, tool_commands[i].summary);
    fputs("\n'meshscope-ingest COMMAND --help' describes each.\n", out);
}

int main(int argc, char **argv)
{
    log_init("ingest", LOG_LEVEL_INFO);
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("meshscope-ingest %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof tool_commands / sizeof tool_commands[0]; i++) {
        if (strcmp(argv[1], tool_commands[i].name) == 0)
            return tool_commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "meshscope-ingest: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
