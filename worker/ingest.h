/* ingest.h: live ingest (docs/ingest.md): the line protocol, its store, figures and server. */
#ifndef MESHSCOPE_INGEST_H
#define MESHSCOPE_INGEST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Protocol limits. A line is one JSON object terminated by '\n' (a '\r'
 * before it is ignored); the newline does not count towards the maximum.
 */
#define INGEST_LINE_MAX (64 * 1024)
#define INGEST_HASH_MAX 128
#define INGEST_RAW_HEX_MAX 16384 /* hex digits: 8 KiB of packet */
#define INGEST_OBSERVER_MAX 128
#define INGEST_PATH_HOPS_MAX 64
#define INGEST_PATH_HOP_MAX 64
#define INGEST_PAYLOAD_TYPE_MAX 255
#define INGEST_SNR_MIN (-100.0)
#define INGEST_SNR_MAX 100.0
#define INGEST_RSSI_MIN (-200.0)
#define INGEST_RSSI_MAX 20.0
#define INGEST_TIMESTAMP_MIN INT64_C(946684800)  /* 2000-01-01T00:00:00Z */
#define INGEST_TIMESTAMP_MAX INT64_C(4102444800) /* 2100-01-01T00:00:00Z */
#define INGEST_TEXT_MAX 128 /* observer_name, region, model, firmware */
#define INGEST_BATTERY_MV_MAX 100000
#define INGEST_UPTIME_S_MAX INT64_C(3153600000) /* a century */
#define INGEST_NOISE_FLOOR_MIN (-200.0)
#define INGEST_NOISE_FLOOR_MAX 20.0
/* An error reason never exceeds this many bytes, so a reply line is bounded. */
#define INGEST_REASON_MAX 200

/* ingest_parse.c */

/* What a line carries: `"kind"` absent or "observation", or "observer_status". */
enum ingest_kind { INGEST_KIND_OBSERVATION, INGEST_KIND_OBSERVER_STATUS };

/*
 * One validated line: an observation, or an observer's status (observer and
 * timestamp set, no hash or raw_hex). Strings are owned; ingest_obs_clear()
 * frees them.
 */
struct ingest_obs {
    enum ingest_kind kind;
    char *hash;
    char *raw_hex;
    int has_payload_type;
    int64_t payload_type;
    char *observer;  /* NULL: not given */
    int has_snr;
    double snr;
    int has_rssi;
    double rssi;
    char *path_json; /* NULL: not given; else the path re-encoded as a JSON array */
    int64_t timestamp;
    char *observer_name; /* both kinds; NULL: not given */
    char *region;
    /* observer_status only */
    char *model;
    char *firmware;
    int has_battery_mv;
    int64_t battery_mv;
    int has_uptime_s;
    int64_t uptime_s;
    int has_noise_floor;
    double noise_floor;
};

/*
 * Parses and validates one line (without its '\n'; a trailing '\r' is
 * dropped). Pure: no I/O, no clock. On failure *errp gets a one-line reason
 * of at most INGEST_REASON_MAX bytes that never echoes raw input bytes, and
 * *out is left cleared.
 */
int ingest_parse_line(const char *line, size_t len, struct ingest_obs *out, char **errp);

/* Frees the strings of `obs` and zeroes it. Accepts a zeroed struct. */
void ingest_obs_clear(struct ingest_obs *obs);


/* ingest_stats.c */

/* Recent acknowledgement latencies, for the p50/p99 gauges. */
#define INGEST_LATENCY_WINDOW 2048

struct ingest_latency {
    double samples_ms[INGEST_LATENCY_WINDOW];
    size_t count; /* samples held, <= INGEST_LATENCY_WINDOW */
    size_t next;  /* ring position of the next sample */
};

void ingest_latency_add(struct ingest_latency *lat, double ms);
/* Nearest-rank percentile (0 < p <= 100) over the held samples; -1 when none. */
int ingest_latency_percentiles(const struct ingest_latency *lat, double *p50, double *p99);

/*
 * Figures not yet written to _ingest_stats. Counters are increments added to
 * the stored cumulative values; the latency gauges replace them when set.
 */
struct ingest_stats_delta {
    int64_t accepted;   /* observations stored */
    int64_t duplicates; /* lines answered `ok duplicate`: already stored, not stored again */
    int64_t rejected;   /* lines answered `error` */
    int64_t acked;      /* lines answered `ok`, duplicates included */
    int64_t commits;
    int64_t commit_rows_max;
    int has_latency;
    double p50_ms;
    double p99_ms;
};

/* ingest_store.c */

struct ingest_store;

/*
 * Opens the ingest's own connection (separate from the migration runner's),
 * with busy_timeout_ms covering the other writer's short transactions. With
 * `durable`, commits fsync the WAL (synchronous=FULL), so an acknowledged line
 * survives power loss, not only a crash of the process.
 */
int ingest_store_open(const char *db_path, int busy_timeout_ms, int durable,
                      struct ingest_store **out, char **errp);

/* What became of one line of a group commit. */
enum ingest_outcome {
    INGEST_STORED,    /* a new observation: answered `ok` */
    INGEST_DUPLICATE, /* identical to a stored one: answered `ok duplicate`, nothing written */
    INGEST_FAILED,    /* its own statements failed (a constraint, ids exhausted): `error` */
};

struct ingest_result {
    enum ingest_outcome outcome;
    char *error; /* INGEST_FAILED: why, on the heap; the caller frees it */
};

/*
 * Writes `n` observations in one IMMEDIATE transaction: upserts each
 * transmission by hash, inserts the observation, and keeps
 * transmissions.last_seen equal to MAX(observations.timestamp) for it. An
 * observation identical to a stored one (same transmission, observer,
 * timestamp and path) is not stored again. Each line is isolated: one whose
 * own statements fail is left out, with its reason in results[i], and the
 * others commit. The figures written in the same transaction are `delta`
 * plus this group's outcomes (accepted, duplicates, rejected, acked, commits,
 * commit_rows_max). Returns -1 when the transaction itself fails (begin,
 * figures, commit): nothing is written and no results[i].error is set.
 */
int ingest_store_commit(struct ingest_store *store, const struct ingest_obs *const *obs,
                        size_t n, struct ingest_result *results,
                        const struct ingest_stats_delta *delta, char **errp);

/* Writes only the figures, in their own short transaction. */
int ingest_store_write_stats(struct ingest_store *store, const struct ingest_stats_delta *delta,
                             char **errp);

void ingest_store_close(struct ingest_store *store);

/* ingest_server.c */

struct ingest_config {
    const char *db_path;
    const char *socket_path;
    mode_t socket_mode;        /* applied with chmod after bind */
    const char *socket_group;  /* NULL: leave the process's group */
    int batch_rows;            /* lines per group commit, at most */
    int batch_ms;              /* how long the first line of a batch may wait */
    int max_clients;
    int busy_timeout_ms;
    int durable;               /* synchronous=FULL on the ingest connection */
};

/* Fills in the defaults documented in --help. */
void ingest_config_defaults(struct ingest_config *config);

/*
 * Listens on config->socket_path and serves clients until *stop becomes
 * non-zero. Whoever sets *stop (a signal handler, or another thread) then
 * sends a signal that the caller keeps blocked except inside ppoll(), where
 * `wait_mask` unblocks it, so a stop cannot be missed between a check and
 * the wait.
 * On stop: no new connections or lines; complete lines already read are
 * committed and answered, then the replies are flushed (bounded wait).
 */
int ingest_serve(const struct ingest_config *config, volatile sig_atomic_t *stop,
                 const sigset_t *wait_mask, char **errp);

#endif
