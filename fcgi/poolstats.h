/* poolstats.h: per-responder request counters and latency histograms in a shared file, summed pool-wide. */
#ifndef MESHSCOPE_POOLSTATS_H
#define MESHSCOPE_POOLSTATS_H

#include <stdint.h>

#include "poolstats_layout.h"

struct poolstats_responder {
    int slot;
    int pid;
    int self;          /* the process that took the snapshot */
    double uptime_sec;
    uint64_t rss_bytes;
    uint64_t requests;
};

struct poolstats_snapshot {
    int shared;        /* 1 when the figures come from a pool-wide file */
    int own_slot;      /* -1 for an observer */
    /* Every request the file has seen: live slots, slots of dead responders, and the retired sum. */
    struct poolstats_counters totals;
    struct poolstats_responder responders[POOLSTATS_SLOTS]; /* live ones only */
    int responder_count;
};

struct poolstats;

enum poolstats_role {
    POOLSTATS_MEMBER,   /* claims a slot and publishes its own requests (the FastCGI loop) */
    POOLSTATS_OBSERVER, /* only reads the file (one-shot CGI with --stats-file) */
};

/*
 * Opens (creating if needed, for a member) the stats file at path. A member
 * claims the first slot no live process holds: slots are owned through an
 * open-file-description lock on their byte range, which the kernel drops when
 * the owner dies, so a crashed responder's slot is reused; its counts are
 * first folded into the retired sum so pool totals never go backwards.
 * endpoint_count and layout_name must be the same in every process sharing
 * the file (layout_name is hashed into the header).
 *
 * The file is input from whoever can write it: a member reserves its pages
 * (a full tmpfs is an error here, not a SIGBUS later), lock waits are bounded,
 * a truncation later on turns this process's figures private (mapping_guard.h)
 * and every value read is range-checked. Returns 0 and *out, or -1 and *errp.
 */
int poolstats_open(const char *path, enum poolstats_role role, int endpoint_count,
                   const char *layout_name, struct poolstats **out, char **errp);
/* Statistics private to this process: what a responder without a shared file reports. */
struct poolstats *poolstats_open_private(int endpoint_count);
void poolstats_close(struct poolstats *ps);

/* Counts one answered request. Lock-free: only the owner ever writes its slot. */
void poolstats_record(struct poolstats *ps, int endpoint, int status, int64_t latency_us);
/* Republishes this process's resident memory, at most once a second. */
void poolstats_refresh_rss(struct poolstats *ps);

void poolstats_snapshot(struct poolstats *ps, struct poolstats_snapshot *out);

#endif
