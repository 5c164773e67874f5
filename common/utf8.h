/* utf8.h: strict UTF-8 validation shared by ingest parsing and HTTP output. */
#ifndef MESHSCOPE_UTF8_H
#define MESHSCOPE_UTF8_H

#include <stddef.h>

/* Length of the well-formed sequence at s (1..4), or 0 when it is ill-formed or truncated. */
size_t utf8_sequence_len(const unsigned char *s, size_t avail);

/* Returns 1 when bytes [0, len) are well-formed UTF-8: no overlongs, surrogates or code points past U+10FFFF. */
int utf8_valid(const void *s, size_t len);

/* Returns 1 when bytes [0, len) are well-formed UTF-8 with no control characters (no NUL, no newline). */
int utf8_printable(const void *s, size_t len);

#endif
