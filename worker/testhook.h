/* testhook.h: test-only pauses at named points of a program, so an end-to-end test can land a signal in a known phase. */
#ifndef MESHSCOPE_TESTHOOK_H
#define MESHSCOPE_TESTHOOK_H

#include <stdint.h>

/* The environment variable read by testhook_init: "point=ms[,point=ms...]". */
#define TESTHOOK_ENV "MESHSCOPE_TEST_PAUSE"
#define TESTHOOK_MAX_POINTS 8
#define TESTHOOK_MAX_MS 60000

/*
 * Points the worker pauses at, each while it holds SQLite's write lock, just
 * before COMMIT: a backfill batch, and an ingest group commit.
 */
#define TESTHOOK_BACKFILL_BATCH "backfill-batch"
#define TESTHOOK_INGEST_COMMIT "ingest-commit"

/*
 * Replaces the configured pauses with those of `spec` (NULL or "" clears
 * them). Rejects an unknown shape, an empty point name, a duration outside
 * 0..TESTHOOK_MAX_MS and more than TESTHOOK_MAX_POINTS points; on error the
 * previous configuration is kept. Call before other threads start.
 */
int testhook_configure(const char *spec, char **errp);

/* testhook_configure(getenv(TESTHOOK_ENV)), with a warning in the log for each pause configured. */
int testhook_init(char **errp);

/* The pause configured for `point`, in ms; 0 when none. */
int64_t testhook_pause_ms(const char *point);

/* Sleeps the pause configured for `point`, after the log line "test hook: pausing N ms at POINT". */
void testhook_pause(const char *point);

#endif
