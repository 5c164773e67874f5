/* poolstats_read.h: a one-shot copy of the pool's shared stats file by a process that is not in the pool. */
#ifndef MESHSCOPE_POOLSTATS_READ_H
#define MESHSCOPE_POOLSTATS_READ_H

#include <stdint.h>

#include "poolstats_layout.h"

/*
 * Sums the latency histograms of every endpoint of every slot (live, dead and
 * retired) in the stats file at path into buckets. The file belongs to another
 * user and is treated as untrusted input: opened O_NONBLOCK | O_NOFOLLOW, it
 * must be a regular file of exactly the file's size with a valid header; it is
 * copied with pread (no mapping a truncation could turn into SIGBUS) under a
 * shared flock waited on at most POOLSTATS_LOCK_WAIT_MS (past that, copied
 * anyway: one torn sum beats a stuck writer); sums saturate.
 * Returns 0, or -1 and *errp.
 */
int poolstats_read_latency(const char *path, uint64_t buckets[POOLSTATS_BUCKETS + 1], char **errp);

#endif
