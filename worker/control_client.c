/* control_client.c: sends one command to the worker's control socket and prints the reply for a person or a script. */
#include "control_client.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control_command.h"
#include "util.h"

/* Longer than the worker's own wait for a pause, so its answer always arrives. */
#define CONTROL_CLIENT_TIMEOUT_MS 75000

static void ctl_usage(FILE *out)
{
    fputs("Usage: meshscope-worker ctl [--socket PATH] [--json] COMMAND...\n"
          "\n"
          "Steers the worker's long writer jobs through its control socket.\n"
          "\n"
          "Commands:\n"
          "  status                    every job: state, progress, rates, ETA, time, settings\n"
          "  pause JOB|all [REASON]    answers once the job is between batches; it then\n"
          "                            writes nothing until resumed (kept across restarts)\n"
          "  resume JOB|all            carries on where the job stopped\n"
          "  set JOB KEY VALUE         target-batch-ms N, yield-ms N, batch-size N (fixed),\n"
          "                            adaptive, max-rows-per-sec N (0: no cap); kept\n"
          "                            across restarts, effective from the next batch\n"
          "\n"
          "Options:\n"
          "  --socket PATH  the worker's --control-socket (default $MESHSCOPE_CONTROL_SOCKET\n"
          "                 or " CONTROL_DEFAULT_SOCKET ")\n"
          "  --json         print the worker's JSON reply as it came\n"
          "  --help         show this help\n"
          "\n"
          "Exit status: 0 the worker accepted the command, 1 it refused it,\n"
          "2 bad usage or no connection.\n",
          out);
}

/* Connects, sends line, and reads one reply line into *reply (heap). Returns 0, or -1 with *errp. */
static int ctl_exchange(const char *path, const char *line, char **reply, char **errp)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return set_error(errp, "%s: socket path too long", path);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        set_error(errp, "cannot connect to %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char *msg = xasprintf("%s\n", line);
    size_t len = strlen(msg), off = 0;
    while (off < len) {
        ssize_t n = send(fd, msg + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_error(errp, "sending to %s: %s", path, strerror(errno));
            free(msg);
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    free(msg);
    size_t cap = 4096, used = 0;
    char *buf = xmalloc(cap);
    int rc = -1;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, CONTROL_CLIENT_TIMEOUT_MS);
        if (ready == 0) {
            set_error(errp, "no reply from %s within %d s", path, CONTROL_CLIENT_TIMEOUT_MS / 1000);
            break;
        }
        if (used + 1 == cap)
            buf = xrealloc(buf, cap *= 2);
        ssize_t n = ready > 0 ? read(fd, buf + used, cap - used - 1) : -1;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            set_error(errp, "%s closed the connection without a reply", path);
            break;
        }
        used += (size_t)n;
        char *nl = memchr(buf, '\n', used);
        if (nl != NULL) {
            *nl = '\0';
            rc = 0;
            break;
        }
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *reply = buf;
    return 0;
}

static const char *str_field(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static double num_field(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0.0;
}

static void ctl_print_job(json_object *job)
{
    char progress[64], eta[32], reason[256] = "";
    int64_t done = (int64_t)num_field(job, "rowsProcessed");
    int64_t total = (int64_t)num_field(job, "rowsTotal");
    snprintf(progress, sizeof progress, "%" PRId64 "/%" PRId64, done, total);
    double eta_sec = num_field(job, "etaSec");
    if (eta_sec > 0)
        snprintf(eta, sizeof eta, "%.0fs", ceil(eta_sec));
    else
        snprintf(eta, sizeof eta, "-");
    const char *why = str_field(job, "pauseReason");
    if (why == NULL)
        why = str_field(job, "throttleReason");
    if (why != NULL)
        snprintf(reason, sizeof reason, "%s", why);
    printf("%-26s %-10s %-20s %9.0f/s %9.0f/s %-8s %8.1f %8.1f %8.1f  %s\n",
           str_field(job, "name"), str_field(job, "state"), progress,
           num_field(job, "recentRatePerSec"), num_field(job, "ratePerSec"), eta,
           num_field(job, "activeSec"), num_field(job, "pausedSec"),
           num_field(job, "throttledSec"), reason);
    json_object *s = NULL;
    if (json_object_object_get_ex(job, "settings", &s)) {
        json_object *adaptive = NULL;
        json_object_object_get_ex(s, "adaptive", &adaptive);
        if (json_object_get_boolean(adaptive))
            printf("  settings: adaptive batches, target %.0f ms", num_field(s, "targetBatchMs"));
        else
            printf("  settings: fixed batches of %.0f rows", num_field(s, "batchSize"));
        printf(", yield %.0f ms, max %.0f rows/s (0: no cap)\n", num_field(s, "yieldMs"),
               num_field(s, "maxRowsPerSec"));
    }
}

static void ctl_print_human(const struct control_command *cmd, json_object *reply)
{
    switch (cmd->verb) {
    case CONTROL_STATUS: {
        json_object *jobs = NULL;
        json_object_object_get_ex(reply, "jobs", &jobs);
        printf("%-26s %-10s %-20s %11s %11s %-8s %8s %8s %8s  %s\n", "JOB", "STATE", "PROGRESS",
               "RECENT", "LIFETIME", "ETA", "ACTIVE_S", "PAUSED_S", "THROTTL_S", "REASON");
        for (size_t i = 0; jobs != NULL && i < json_object_array_length(jobs); i++)
            ctl_print_job(json_object_array_get_idx(jobs, i));
        break;
    }
    case CONTROL_PAUSE:
        printf("paused %s (between batches after %.0f ms)\n", cmd->job,
               num_field(reply, "waitedMs"));
        break;
    case CONTROL_RESUME:
        printf("resumed %s\n", cmd->job);
        break;
    case CONTROL_SET:
        printf("%s: %s %s\n", cmd->job, cmd->key, cmd->value ? cmd->value : "on");
        break;
    }
}

/* Joins the command's words with single spaces. */
static char *ctl_join(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *line = xcalloc(1, len);
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            strcat(line, " ");
        strcat(line, argv[i]);
    }
    return line;
}

/* Parses the options; returns -1 to go on, else the exit code. */
static int ctl_options(int argc, char **argv, const char **socket, int *json)
{
    enum { OPT_SOCKET = 256, OPT_JSON, OPT_HELP };
    static const struct option options[] = {
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    /* "+": options end at the command, so a pause reason may hold anything. */
    while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
        switch (opt) {
        case OPT_SOCKET: *socket = optarg; break;
        case OPT_JSON: *json = 1; break;
        case OPT_HELP: ctl_usage(stdout); return 0;
        default: ctl_usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        fputs("meshscope-worker ctl: a command is required (try --help)\n", stderr);
        return 2;
    }
    return -1;
}

int control_client_main(int argc, char **argv)
{
    const char *socket = getenv("MESHSCOPE_CONTROL_SOCKET");
    int json = 0;
    int code = ctl_options(argc, argv, &socket, &json);
    if (code >= 0)
        return code;
    if (socket == NULL || *socket == '\0')
        socket = CONTROL_DEFAULT_SOCKET;
    char *line = ctl_join(argc - optind, argv + optind);
    struct control_command cmd;
    char *err = NULL, *reply = NULL;
    if (control_command_parse(line, &cmd, &err) != 0) {
        fprintf(stderr, "meshscope-worker ctl: %s\n", err);
        free(err);
        free(line);
        return 2;
    }
    code = 2;
    json_object *doc = NULL;
    if (ctl_exchange(socket, line, &reply, &err) != 0) {
        fprintf(stderr, "meshscope-worker ctl: %s\n", err);
    } else if ((doc = json_tokener_parse(reply)) == NULL) {
        fprintf(stderr, "meshscope-worker ctl: not a JSON reply: %s\n", reply);
    } else {
        json_object *ok = NULL;
        int accepted = json_object_object_get_ex(doc, "ok", &ok) && json_object_get_boolean(ok);
        code = accepted ? 0 : 1;
        if (json)
            puts(reply);
        else if (accepted)
            ctl_print_human(&cmd, doc);
        else
            fprintf(stderr, "meshscope-worker ctl: refused: %s\n", str_field(doc, "error"));
    }
    json_object_put(doc);
    free(err);
    free(reply);
    free(line);
    control_command_free(&cmd);
    return code;
}
