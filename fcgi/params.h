/* params.h: table-driven query-string validation; handlers only see typed, checked values. */
#ifndef MESHSCOPE_PARAMS_H
#define MESHSCOPE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

/* A route declares at most this many parameters. */
#define PARAMS_MAX 8
/* More name=value pairs than this in one query string is refused. */
#define PARAMS_MAX_PAIRS 32

enum param_kind {
    PARAM_INT, /* a decimal integer in [min, max]: no sign unless min < 0, no spaces, no exponent */
};

struct param_spec {
    const char *name;      /* static; also what error messages name */
    enum param_kind kind;
    int64_t min, max;      /* inclusive bounds */
    size_t max_len;        /* longest raw (decoded) value accepted */
    int64_t default_value; /* the value when absent */
};

struct param_value {
    int present;
    int64_t i;
};

/*
 * Checks one decoded value against its spec: length, embedded NUL, UTF-8, then
 * the kind's own syntax and bounds. Messages name the parameter but never
 * quote the value, which may not be valid UTF-8.
 */
int params_validate(const struct param_spec *spec, const char *value, size_t len,
                    struct param_value *out, char **errp);

/*
 * Parses a raw query string against specs[0..count). out[i] receives the value
 * of specs[i] (its default when absent). Names no spec declares are ignored
 * (cache-busters and the like), but a declared name given twice, a declared
 * value that fails its validator or is badly percent-encoded, and more than
 * PARAMS_MAX_PAIRS pairs are errors.
 */
int params_parse(const char *query, const struct param_spec *specs, size_t count,
                 struct param_value *out, char **errp);

/*
 * Decodes %XX escapes and '+' (as a space) from in[0..len) into a heap buffer
 * (NUL-terminated; *out_len excludes the NUL and may count embedded NULs).
 * Returns -1 on a truncated or non-hex escape, with *errp naming its offset.
 */
int params_percent_decode(const char *in, size_t len, char **out, size_t *out_len, char **errp);

#endif
