/* timefmt.h: the two UTC timestamp formats stored in _async_migrations. */
#ifndef MESHSCOPE_TIMEFMT_H
#define MESHSCOPE_TIMEFMT_H

#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SSZ" plus NUL. */
#define TIMEFMT_RFC3339_LEN 21

/*
 * Parses either SQLite's datetime('now') form "YYYY-MM-DD HH:MM:SS" or RFC 3339
 * UTC "YYYY-MM-DDTHH:MM:SSZ" into unix seconds. Anything else, including
 * out-of-range fields and a leap second past 9999-12-31 23:59:59 (which
 * timefmt_rfc3339 could not write back), is an error naming the bad text.
 */
int timefmt_parse(const char *text, int64_t *epoch_out, char **errp);

/* What four-digit years can hold: 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. */
#define TIMEFMT_MIN_EPOCH (-62167219200LL)
#define TIMEFMT_MAX_EPOCH 253402300799LL

/*
 * Formats unix seconds as RFC 3339 UTC into buf (at least TIMEFMT_RFC3339_LEN
 * bytes), years zero-padded to four digits. Returns -1 with buf "" for a value
 * outside [TIMEFMT_MIN_EPOCH, TIMEFMT_MAX_EPOCH], which timefmt_parse never yields.
 */
int timefmt_rfc3339(int64_t epoch, char *buf);

#endif
