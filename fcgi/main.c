/* main.c: meshscope-fcgi's command line and its FastCGI (or one-shot CGI) request loop. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "log.h"
#include "responder.h"
#include "util.h"

/* Request targets longer than this are refused before any route sees them. */
#define MAX_REQUEST_TARGET 8192

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
          "  --log-level LEVEL      error, warn, info (default) or debug\n"
          "  --help                 show this help\n"
          "  --version              show the version\n",
          out);
}

struct fcgi_options {
    const char *listen;
};

static int parse_options(int argc, char **argv, struct responder *r, struct fcgi_options *o)
{
    enum { OPT_DB = 256, OPT_LISTEN, OPT_CACHE, OPT_STALLED, OPT_LOG, OPT_HELP, OPT_VERSION };
    static const struct option options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"cache-ttl-ms", required_argument, NULL, OPT_CACHE},
        {"stalled-after-s", required_argument, NULL, OPT_STALLED},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    enum log_level level = LOG_LEVEL_INFO;
    char *err = NULL;
    int opt;

    int64_t stalled_after_s = MIGRATION_STALLED_AFTER_MS_DEFAULT / 1000;
    r->cache_ttl_ms = 1000;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_DB:
            r->db_path = optarg;
            break;
        case OPT_LISTEN:
            if (strncmp(optarg, "unix:", 5) != 0 && strchr(optarg, ':') == NULL) {
                err = xasprintf("--listen: expected unix:PATH or HOST:PORT");
                goto bad;
            }
            o->listen = optarg;
            break;
        case OPT_CACHE:
            if (parse_int64(optarg, 0, 3600000, "--cache-ttl-ms", &r->cache_ttl_ms, &err))
                goto bad;
            break;
        case OPT_STALLED:
            if (parse_int64(optarg, 1, 7 * 86400, "--stalled-after-s", &stalled_after_s, &err))
                goto bad;
            break;
        case OPT_LOG:
            if (log_level_parse(optarg, &level) != 0) {
                err = xasprintf("--log-level: expected error, warn, info or debug");
                goto bad;
            }
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("meshscope-fcgi %s\n", PACKAGE_VERSION);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        err = xasprintf("unexpected argument '%s'", argv[optind]);
        goto bad;
    }
    if (r->db_path == NULL) {
        err = xasprintf("--db PATH is required");
        goto bad;
    }
    r->stalled_after_ms = stalled_after_s * 1000;
    log_init("fcgi", level);
    return 0;

bad:
    fprintf(stderr, "meshscope-fcgi: %s (try --help)\n", err);
    free(err);
    return -1;
}

/* Builds the route-level request from CGI/FastCGI parameters and answers it. */
static char *answer(struct responder *r, const char *method, const char *request_uri,
                    const char *script_name, const char *path_info, const char *query,
                    int *endpoint, size_t *len_out)
{
    struct http_response resp;
    http_response_init(&resp);

    char *path = NULL;
    if (request_uri != NULL && *request_uri != '\0') {
        size_t n = strcspn(request_uri, "?");
        path = xmalloc(n + 1);
        memcpy(path, request_uri, n);
        path[n] = '\0';
    } else {
        path = xasprintf("%s%s", script_name ? script_name : "", path_info ? path_info : "");
    }
    if (method == NULL)
        method = "GET";
    if (query == NULL)
        query = "";

    *endpoint = router_endpoint_count() - 1;
    if (strlen(path) > MAX_REQUEST_TARGET || strlen(query) > MAX_REQUEST_TARGET) {
        http_response_error(&resp, 400, "request target too long");
    } else {
        struct http_request req = {.method = method, .path = path, .query = query};
        *endpoint = router_dispatch(r, &req, &resp);
    }
    char *out = http_response_serialize(&resp, strcmp(method, "HEAD") == 0, len_out);
    http_response_free(&resp);
    free(path);
    return out;
}

static int serve_cgi(struct responder *r)
{
    size_t len = 0;
    int endpoint = 0;
    char *out = answer(r, getenv("REQUEST_METHOD"), getenv("REQUEST_URI"), getenv("SCRIPT_NAME"),
                       getenv("PATH_INFO"), getenv("QUERY_STRING"), &endpoint, &len);
    int ok = fwrite(out, 1, len, stdout) == len && fflush(stdout) == 0;
    free(out);
    return ok ? 0 : 1;
}

static int open_listen_socket(const char *spec, char **errp)
{
    const char *target = strncmp(spec, "unix:", 5) == 0 ? spec + 5 : spec;
    if (target == spec + 5)
        unlink(target); /* a stale socket from a previous run */
    int fd = FCGX_OpenSocket(target, 128);
    if (fd < 0)
        return set_error(errp, "cannot listen on %s", spec);
    /* The web server's user reaches the socket through its group (see nginx/). */
    if (target == spec + 5 && chmod(target, 0660) != 0) {
        close(fd);
        return set_error(errp, "cannot set permissions on %s", target);
    }
    return fd;
}

static int serve_fastcgi(struct responder *r, int listen_fd)
{
    FCGX_Request request;
    if (FCGX_InitRequest(&request, listen_fd, 0) != 0) {
        log_error("cannot initialise FastCGI request");
        return 1;
    }
    log_info("serving FastCGI (pid %d, database %s)", (int)getpid(), r->db_path);
    while (!stop_requested) {
        if (FCGX_Accept_r(&request) < 0)
            break;
        in_request = 1;
        size_t len = 0;
        int endpoint = 0;
        char *out = answer(r, FCGX_GetParam("REQUEST_METHOD", request.envp),
                           FCGX_GetParam("REQUEST_URI", request.envp),
                           FCGX_GetParam("SCRIPT_NAME", request.envp),
                           FCGX_GetParam("PATH_INFO", request.envp),
                           FCGX_GetParam("QUERY_STRING", request.envp), &endpoint, &len);
        FCGX_PutStr(out, (int)len, request.out);
        free(out);
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
    if (o.listen != NULL) {
        char *err = NULL;
        int fd = open_listen_socket(o.listen, &err);
        if (fd < 0) {
            log_error("%s", err);
            free(err);
            return 1;
        }
        rc = serve_fastcgi(&r, fd);
    } else if (FCGX_IsCGI()) {
        rc = serve_cgi(&r);
    } else {
        rc = serve_fastcgi(&r, 0);
    }
    migration_cache_destroy(&r.migrations);
    reader_db_close(&r);
    return rc;
}
