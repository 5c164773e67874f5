/* main.c: meshscope-fcgi's command line and its FastCGI (or one-shot CGI) request loop. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "log.h"
#include "poolstats.h"
#include "migrations.h"
#include "reader_db.h"
#include "request.h"
#include "responder.h"
#include "router.h"
#include "util.h"


static volatile sig_atomic_t in_request;
static volatile sig_atomic_t stop_requested;

/*
 * supervisord stops the pool with SIGTERM. An idle responder has nothing to
 * finish and leaves at once; a busy one finishes its request first.
 */
static void on_stop_signal(int signo)
{
    (void)signo;
    if (!in_request)
        _exit(0);
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fputs("Usage: meshscope-fcgi --db PATH [options]\n"
          "\n"
          "Read-only FastCGI responder for the meshscope JSON API. Without --listen it\n"
          "serves FastCGI on fd 0 (supervisord/spawn-fcgi); when fd 0 is not a socket it\n"
          "answers one request as CGI from the environment.\n"
          "\n"
          "Options:\n"
          "  --db PATH              SQLite database, opened read-only\n"
          "  --listen unix:PATH     listen on a unix socket\n"
          "  --listen HOST:PORT     listen on TCP\n"
          "  --cache-ttl-ms N       migration-status cache lifetime (default 1000, 0 disables)\n"
          "  --stalled-after-s N    a running migration with no progress write for N seconds\n"
          "                         is reported stalled (default 60)\n"
          "  --stats-file PATH      shared file where every responder of the pool publishes\n"
          "                         its request figures (default: the unix socket's path\n"
          "                         plus \".stats\"; without one, figures are per process)\n"
          "  --liveness-file PATH   the MQTT bridge's status file, read for ingest_liveness in\n"
          "                         /api/healthz, /api/perf and /api/metrics (default: none)\n"
          "  --log-level LEVEL      error, warn, info (default) or debug\n"
          "  --help                 show this help\n"
          "  --version              show the version\n",
          out);
}

struct fcgi_options {
    const char *listen;
    const char *stats_file;
    enum log_level level;
    int64_t stalled_after_s;
};

enum {
    OPT_DB = 256,
    OPT_LISTEN,
    OPT_CACHE,
    OPT_STALLED,
    OPT_STATS,
    OPT_LOG,
    OPT_LIVENESS,
    OPT_HELP,
    OPT_VERSION
};

/* Stores one option's value; -1 with *errp when the value is bad. */
static int apply_option(int opt, const char *arg, struct responder *r, struct fcgi_options *o,
                        char **errp)
{
    switch (opt) {
    case OPT_DB:
        r->reader.path = arg;
        return 0;
    case OPT_LISTEN:
        if (strncmp(arg, "unix:", 5) != 0 && strchr(arg, ':') == NULL)
            return set_error(errp, "--listen: expected unix:PATH or HOST:PORT");
        o->listen = arg;
        return 0;
    case OPT_CACHE:
        return parse_int64(arg, 0, 3600000, "--cache-ttl-ms", &r->cache_ttl_ms, errp);
    case OPT_STALLED:
        return parse_int64(arg, 1, 7 * 86400, "--stalled-after-s", &o->stalled_after_s, errp);
    case OPT_STATS:
        if (*arg == '\0')
            return set_error(errp, "--stats-file: expected a path");
        o->stats_file = arg;
        return 0;
    case OPT_LIVENESS:
        r->liveness_path = arg;
        return 0;
    case OPT_LOG:
        if (log_level_parse(arg, &o->level) != 0)
            return set_error(errp, "--log-level: expected error, warn, info or debug");
        return 0;
    }
    return set_error(errp, "unknown option");
}

static int parse_options(int argc, char **argv, struct responder *r, struct fcgi_options *o)
{
    static const struct option options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"cache-ttl-ms", required_argument, NULL, OPT_CACHE},
        {"stalled-after-s", required_argument, NULL, OPT_STALLED},
        {"stats-file", required_argument, NULL, OPT_STATS},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"liveness-file", required_argument, NULL, OPT_LIVENESS},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    char *err = NULL;
    int opt;

    o->level = LOG_LEVEL_INFO;
    o->stalled_after_s = MIGRATION_STALLED_AFTER_MS_DEFAULT / 1000;
    r->cache_ttl_ms = 1000;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_HELP) {
            usage(stdout);
            exit(0);
        }
        if (opt == OPT_VERSION) {
            printf("meshscope-fcgi %s\n", PACKAGE_VERSION);
            exit(0);
        }
        if (opt == '?') {
            usage(stderr);
            return -1;
        }
        if (apply_option(opt, optarg, r, o, &err) != 0)
            goto bad;
    }
    if (optind < argc) {
        err = xasprintf("unexpected argument '%s'", argv[optind]);
        goto bad;
    }
    if (r->reader.path == NULL) {
        err = xasprintf("--db PATH is required");
        goto bad;
    }
    r->stalled_after_ms = o->stalled_after_s * 1000;
    log_init("fcgi", o->level);
    return 0;

bad:
    fprintf(stderr, "meshscope-fcgi: %s (try --help)\n", err);
    free(err);
    return -1;
}

/* The default stats file sits next to the pool's unix socket, which every member shares. */
static char *default_stats_path(int listen_fd, const char *listen_spec)
{
    if (listen_spec != NULL)
        return strncmp(listen_spec, "unix:", 5) == 0 ? xasprintf("%s.stats", listen_spec + 5) : NULL;
    struct sockaddr_un addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    if (getsockname(listen_fd, (struct sockaddr *)&addr, &len) != 0 || addr.sun_family != AF_UNIX ||
        len <= offsetof(struct sockaddr_un, sun_path) || addr.sun_path[0] == '\0')
        return NULL;
    return xasprintf("%.*s.stats", (int)sizeof addr.sun_path, addr.sun_path);
}

/*
 * A FastCGI member claims a slot in the shared file; a one-shot CGI run only
 * reads it (when given one). Without a usable file the figures are this
 * process's alone, which /api/perf reports as "shared": false.
 */
static struct poolstats *open_stats(const char *path, enum poolstats_role role)
{
    char *layout = router_layout_name();
    struct poolstats *ps = NULL;
    if (path != NULL) {
        char *err = NULL;
        if (poolstats_open(path, role, router_endpoint_count(), layout, &ps, &err) != 0) {
            log_warnx("%s; reporting this process's figures only", err);
            free(err);
        }
    } else if (role == POOLSTATS_MEMBER) {
        log_warnx("no --stats-file and no unix socket to put one next to: /api/perf and "
                 "/api/metrics report this process only");
    }
    free(layout);
    return ps ? ps : poolstats_open_private(router_endpoint_count());
}

static int serve_cgi(struct responder *r)
{
    size_t len = 0;
    int endpoint = 0, status = 0;
    char *out = request_answer(r, getenv("REQUEST_METHOD"), getenv("REQUEST_URI"),
                               getenv("SCRIPT_NAME"), getenv("PATH_INFO"), getenv("QUERY_STRING"),
                               &endpoint, &status, &len);
    int ok = fwrite(out, 1, len, stdout) == len && fflush(stdout) == 0;
    free(out);
    return ok ? 0 : 1;
}

/*
 * Our own socket, bind and listen rather than FCGX_OpenSocket, which prints
 * its own message and exits the process when binding fails. Returns the
 * listening descriptor, or -1 with errno's text in *errp.
 */
static int listen_unix(const char *path, char **errp)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return set_error(errp, "cannot listen on unix:%s: path longer than %zu bytes", path,
                         sizeof addr.sun_path - 1);
    memcpy(addr.sun_path, path, strlen(path) + 1);
    unlink(path); /* a stale socket from a previous run */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 128) != 0 ||
        chmod(path, 0660) != 0) { /* nginx's user reaches it through its group (see nginx/) */
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return set_error(errp, "cannot listen on unix:%s: %s", path, strerror(saved));
    }
    return fd;
}

static int listen_tcp(const char *spec, char **errp)
{
    const char *colon = strrchr(spec, ':');
    char *host = xasprintf("%.*s", (int)(colon - spec), spec);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &ai);
    free(host);
    if (rc != 0)
        return set_error(errp, "cannot listen on %s: %s", spec, gai_strerror(rc));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return set_error(errp, "cannot listen on %s: %s", spec, strerror(saved));
    }
    freeaddrinfo(ai);
    return fd;
}

static int open_listen_socket(const char *spec, char **errp)
{
    return strncmp(spec, "unix:", 5) == 0 ? listen_unix(spec + 5, errp) : listen_tcp(spec, errp);
}

static int serve_fastcgi(struct responder *r, int listen_fd)
{
    FCGX_Request request;
    if (FCGX_InitRequest(&request, listen_fd, 0) != 0) {
        log_error("cannot initialise FastCGI request");
        return 1;
    }
    log_info("serving FastCGI (pid %d, database %s, cache %lld ms, stalled after %lld s)",
             (int)getpid(), r->reader.path, (long long)r->cache_ttl_ms,
             (long long)(r->stalled_after_ms / 1000));
    while (!stop_requested) {
        if (FCGX_Accept_r(&request) < 0)
            break;
        in_request = 1;
        int64_t started_us = clock_monotonic_us();
        size_t len = 0;
        int endpoint = 0, status = 0;
        char *out = request_answer(r, FCGX_GetParam("REQUEST_METHOD", request.envp),
                                   FCGX_GetParam("REQUEST_URI", request.envp),
                                   FCGX_GetParam("SCRIPT_NAME", request.envp),
                                   FCGX_GetParam("PATH_INFO", request.envp),
                                   FCGX_GetParam("QUERY_STRING", request.envp), &endpoint,
                                   &status, &len);
        FCGX_PutStr(out, (int)len, request.out);
        free(out);
        /*
         * Counted before FCGX_Finish_r hands the last bytes to nginx, so a
         * client that has its answer can already see it in /api/perf.
         */
        poolstats_record(r->stats, endpoint, status, clock_monotonic_us() - started_us);
        poolstats_refresh_rss(r->stats);
        FCGX_Finish_r(&request);
        in_request = 0;
    }
    log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    struct responder r = {0};
    struct fcgi_options o = {0};
    log_init("fcgi", LOG_LEVEL_INFO);
    if (parse_options(argc, argv, &r, &o) != 0)
        return 2;
    r.wall_clock_ms = clock_realtime_ms;
    migrations_init(&r);

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (FCGX_Init() != 0) {
        log_error("cannot initialise libfcgi");
        return 1;
    }
    int rc;
    if (o.listen != NULL || !FCGX_IsCGI()) {
        int fd = 0;
        if (o.listen != NULL) {
            char *err = NULL;
            fd = open_listen_socket(o.listen, &err);
            if (fd < 0) {
                log_error("%s", err);
                free(err);
                return 1;
            }
        }
        char *stats_path = o.stats_file ? xstrdup(o.stats_file) : default_stats_path(fd, o.listen);
        r.stats = open_stats(stats_path, POOLSTATS_MEMBER);
        free(stats_path);
        rc = serve_fastcgi(&r, fd);
    } else {
        r.stats = open_stats(o.stats_file, POOLSTATS_OBSERVER);
        rc = serve_cgi(&r);
    }
    poolstats_close(r.stats);
    migration_cache_destroy(&r.migrations);
    reader_db_close(&r.reader);
    return rc;
}
