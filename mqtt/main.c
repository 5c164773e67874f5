/* main.c: meshscope-mqtt's command line, signals, and the start and drain of its threads. */
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "bridge.h"
#include "mqtt_config.h"
#include "log.h"
#include "util.h"

#define DRAIN_MS 4500 /* SIGTERM drains within 5 s, supervisord's stopwaitsecs for the program */

static volatile int terminate;

static void on_signal(int signo)
{
    (void)signo;
    terminate = 1;
}

static void usage(FILE *out)
{
    fputs("Usage: meshscope-mqtt --ingest-socket PATH --config FILE [options]\n"
          "       meshscope-mqtt --ingest-socket PATH --broker URL [source options] [options]\n"
          "\n"
          "Subscribes to MeshCore observers' MQTT topics, decodes each packet and hands it\n"
          "to meshscope-worker's ingest socket, keeping it until the worker acknowledges it.\n"
          "\n"
          "Options:\n"
          "  --ingest-socket PATH     the worker's ingest socket (required)\n"
          "  --config FILE            sources from FILE (see docs/mqtt.md)\n"
          "  --liveness-file PATH     status file for the responders (default: mqtt-liveness.json\n"
          "                           in the ingest socket's directory)\n"
          "  --silent-reconnect-s N   reconnect a source silent for N s while connected\n"
          "                           (default 300, 0 never)\n"
          "  --window N               lines held until the worker answers them (default 100)\n"
          "  --log-level LEVEL        error, warn, info (default) or debug\n"
          "  --help, --version\n"
          "\n"
          "One source without a config file:\n"
          "  --broker URL             mqtt://HOST[:PORT] or mqtts://HOST[:PORT]\n"
          "  --topic T                repeatable (default meshcore/+/+/packets and .../status)\n"
          "  --username U --password-file F\n"
          "  --ca-file F              CA certificate for mqtts:// (default: the system's)\n"
          "  --client-id ID           (default meshscope-NAME)\n"
          "  --qos N                  0, 1 (default) or 2\n"
          "  --region R               repeatable allow-list of topic regions\n"
          "  --source-name NAME       (default \"default\")\n",
          out);
}

struct options {
    const char *socket_path, *config_path, *liveness_path;
    int64_t silent_s, window;
    struct bridge_config config;
    struct source_config *cli; /* the command-line source, once any source option is seen */
};

static struct source_config *cli_source(struct options *o)
{
    if (o->cli == NULL) {
        o->cli = &o->config.sources[0];
        o->config.source_count = 1;
        o->cli->name = xstrdup("default");
        o->cli->qos = 1;
    }
    return o->cli;
}

/* Options that describe the command-line source map onto config file keys. */
static const struct {
    const char *option, *key;
} source_keys[] = {
    {"broker", "broker"},       {"topic", "topic"},         {"username", "username"},
    {"password-file", "password_file"}, {"ca-file", "ca_file"}, {"client-id", "client_id"},
    {"qos", "qos"},             {"region", "regions"},
};

#define SOURCE_KEY_COUNT (int)(sizeof source_keys / sizeof source_keys[0])

static int parse_options(int argc, char **argv, struct options *o, char **errp)
{
    enum { OPT_SOCKET = 256, OPT_CONFIG, OPT_LIVENESS, OPT_SILENT, OPT_WINDOW, OPT_LOG,
           OPT_HELP, OPT_VERSION, OPT_NAME, OPT_SOURCE_KEY };
    struct option options[32] = {
        {"ingest-socket", required_argument, NULL, OPT_SOCKET},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"liveness-file", required_argument, NULL, OPT_LIVENESS},
        {"silent-reconnect-s", required_argument, NULL, OPT_SILENT},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {"source-name", required_argument, NULL, OPT_NAME},
    };
    int n = 9;
    for (int i = 0; i < SOURCE_KEY_COUNT; i++)
        options[n++] = (struct option){source_keys[i].option, required_argument, NULL,
                                       OPT_SOURCE_KEY + i};
    enum log_level level = LOG_LEVEL_INFO;
    o->silent_s = 300;
    o->window = BRIDGE_WINDOW_DEFAULT;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_SOCKET: o->socket_path = optarg; break;
        case OPT_CONFIG: o->config_path = optarg; break;
        case OPT_LIVENESS: o->liveness_path = optarg; break;
        case OPT_SILENT:
            if (parse_int64(optarg, 0, 86400, "--silent-reconnect-s", &o->silent_s, errp))
                return -1;
            break;
        case OPT_WINDOW:
            if (parse_int64(optarg, 1, 100000, "--window", &o->window, errp))
                return -1;
            break;
        case OPT_LOG:
            if (log_level_parse(optarg, &level) != 0)
                return set_error(errp, "--log-level: expected error, warn, info or debug");
            break;
        case OPT_HELP: usage(stdout); exit(0);
        case OPT_VERSION: printf("meshscope-mqtt %s\n", PACKAGE_VERSION); exit(0);
        case OPT_NAME:
            free(cli_source(o)->name);
            o->cli->name = xstrdup(optarg);
            break;
        default:
            if (opt >= OPT_SOURCE_KEY && opt < OPT_SOURCE_KEY + SOURCE_KEY_COUNT) {
                char *err = NULL;
                if (config_set(cli_source(o), source_keys[opt - OPT_SOURCE_KEY].key, optarg,
                               &err) != 0) {
                    set_error(errp, "--%s: %s", source_keys[opt - OPT_SOURCE_KEY].option, err);
                    free(err);
                    return -1;
                }
                break;
            }
            return set_error(errp, "unknown option");
        }
    }
    log_init("mqtt", level);
    if (optind < argc)
        return set_error(errp, "unexpected argument '%s'", argv[optind]);
    if (o->socket_path == NULL)
        return set_error(errp, "--ingest-socket PATH is required");
    if ((o->config_path != NULL) == (o->cli != NULL))
        return set_error(errp, "give either --config FILE or --broker URL with its options");
    return 0;
}

static int load_sources(struct options *o, char **errp)
{
    if (o->config_path != NULL)
        return config_load(o->config_path, &o->config, errp);
    char *err = NULL;
    if (config_finish(o->cli, &err) != 0) {
        set_error(errp, "%s", err);
        free(err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    char *err = NULL;
    log_init("mqtt", LOG_LEVEL_INFO);
    if (parse_options(argc, argv, &o, &err) != 0 || load_sources(&o, &err) != 0) {
        fprintf(stderr, "meshscope-mqtt: %s (try --help)\n", err);
        free(err);
        return 2;
    }
    char *liveness = NULL;
    if (o.liveness_path != NULL) {
        liveness = xstrdup(o.liveness_path);
    } else {
        char *copy = xstrdup(o.socket_path);
        liveness = xasprintf("%s/mqtt-liveness.json", dirname(copy));
        free(copy);
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct bridge b;
    if (bridge_init(&b, &o.config, (int)o.window, &err) != 0) {
        log_error("%s", err);
        return 1;
    }
    b.silent_reconnect_ms = o.silent_s * 1000;
    source_lib_init();
    log_info("starting: %d source(s), worker socket %s, liveness file %s, window %d",
             o.config.source_count, o.socket_path, liveness, (int)o.window);
    int started = 0;
    for (int i = 0; i < b.source_count; i++) {
        if (source_start(&b.sources[i], &err) != 0) {
            log_error("%s", err);
            free(err);
            err = NULL;
            terminate = 1;
            break;
        }
        started++;
    }
    int rc = sink_run(&b, o.socket_path, liveness, &terminate, DRAIN_MS) == 0 ? 0 : 1;
    for (int i = 0; i < started; i++)
        source_join(&b.sources[i]);
    bridge_destroy(&b);
    config_free(&o.config);
    free(liveness);
    return rc;
}
