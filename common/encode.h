/* encode.h: output encoders every route uses, so no handler builds JSON or label text by hand. */
#ifndef MESHSCOPE_ENCODE_H
#define MESHSCOPE_ENCODE_H

#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

/*
 * Returns a heap copy of s with every ill-formed UTF-8 sequence replaced by
 * U+FFFD. NULL becomes "". json-c copies bytes verbatim, so anything that did
 * not come from this program (database text, SQLite messages quoting it) goes
 * through here before it reaches a response.
 */
char *encode_utf8_sanitize(const char *s);

/* A JSON string of s made valid UTF-8; NULL gives JSON null. */
struct json_object *encode_json_string(const char *s);

/*
 * A JSON number for v. NaN and infinities become 0: json-c would print "NaN",
 * which is not JSON. Finite values print with at most three decimals.
 */
struct json_object *encode_json_number(double v);

/* The value encode_json_number would print: v when finite, else 0. */
double encode_finite(double v);

/* Writes v as a Prometheus sample value (finite only, see encode_finite). */
void encode_prom_value(FILE *out, double v);

/* Writes s as a Prometheus label value: valid UTF-8 with \\, \" and \n escaped. */
void encode_prom_label(FILE *out, const char *s);

#endif
