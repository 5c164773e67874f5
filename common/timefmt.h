/* timefmt.h: the two UTC timestamp formats stored in _async_migrations. */
#ifndef MESHSCOPE_TIMEFMT_H
#define MESHSCOPE_TIMEFMT_H

#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SSZ" plus NUL. */
#define TIMEFMT_RFC3339_LEN 21

/*
 * Parses either SQLite's datetime('now') form "YYYY-MM-DD HH:MM:SS" or RFC 3339
 * UTC "YYYY-MM-DDTHH:MM:SSZ" into unix seconds. Anything else, including
 * out-of-range fields, is an error with a message naming the bad text.
 */
int timefmt_parse(const char *text, int64_t *epoch_out, char **errp);

/* Formats unix seconds as RFC 3339 UTC into buf (at least TIMEFMT_RFC3339_LEN bytes). */
void timefmt_rfc3339(int64_t epoch, char *buf);

#endif
