/* reader_latency.h: the responder pool's reader latency p99 over recent time, from snapshots of its stats file. */
#ifndef MESHSCOPE_READER_LATENCY_H
#define MESHSCOPE_READER_LATENCY_H

#include <stdint.h>

/* The p99 is judged over this much recent time: the difference of two snapshots this far apart. */
#define READER_LATENCY_WINDOW_MS 10000

/*
 * The pool's reader p99 in ms over the last READER_LATENCY_WINDOW_MS, from
 * the stats file at path (fcgi --stats-file). Takes a snapshot at most once a
 * second (callers may ask between every batch) and compares the newest with
 * the newest one at least the window old (until there is one, the oldest).
 * 0 with no requests in the window, or while the file cannot be read (a
 * warning, at most once a minute, says why). Thread-safe.
 */
double reader_latency_p99_ms(const char *path, int64_t now_ms);

/* Forgets every snapshot (tests). */
void reader_latency_reset(void);

#endif
