/* util.h: allocation that never returns NULL, error strings, and bounded number parsing. */
#ifndef MESHSCOPE_UTIL_H
#define MESHSCOPE_UTIL_H

#include <stdint.h>
#include <stdlib.h>

/*
 * Error style used across meshscope: a function returns 0 on success and -1 on
 * failure, and on failure stores a heap string describing why in *errp (when
 * errp is not NULL). The caller owns that string and frees it with free().
 */

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Stores a formatted message in *errp (if errp is not NULL) and returns -1. */
int set_error(char **errp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Parses a whole decimal integer in [min, max]. Rejects empty strings, signs
 * where min >= 0, trailing garbage, and overflow, with a message naming `what`.
 */
int parse_int64(const char *text, int64_t min, int64_t max, const char *what,
                int64_t *out, char **errp);

/* The value of one hex digit (either case), or -1 for any other character. */
int hex_digit_value(int c);

/* Monotonic and wall clocks in milliseconds; the monotonic one also in microseconds, for holds and latencies. */
int64_t clock_monotonic_ms(void);
int64_t clock_monotonic_us(void);
int64_t clock_realtime_ms(void);

#endif
