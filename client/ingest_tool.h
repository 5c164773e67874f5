/* ingest_tool.h: meshscope-ingest, the operators' client (send) and the demo feeder (feed). */
#ifndef MESHSCOPE_INGEST_TOOL_H
#define MESHSCOPE_INGEST_TOOL_H

#include <stddef.h>
#include <stdint.h>

/* ingest_tool.c: what both subcommands share. */

/* Connects to the worker's ingest socket; the descriptor is non-blocking. */
int tool_connect(const char *path, int *fd_out, char **errp);

/* Reply lines arrive in the order the lines were sent; this splits them. */
struct tool_replies {
    char buf[1024]; /* a reply is at most "error " + INGEST_REASON_MAX + "\n" */
    size_t len;
};

/*
 * Reads what is available on fd and calls on_reply for each complete reply
 * (without its newline). Returns 0 while the connection is open, 1 at EOF,
 * -1 on a read error or a reply longer than any the worker sends.
 */
int tool_read_replies(int fd, struct tool_replies *r,
                      void (*on_reply)(void *ctx, const char *reply, size_t len), void *ctx);

/* Lines sent and not yet answered, oldest first: what each one was and when it left. */
struct tool_inflight {
    struct tool_sent {
        int64_t tag;
        int64_t sent_us;
    } *slots;
    size_t cap, head, len;
};

void tool_inflight_init(struct tool_inflight *q, size_t cap);
void tool_inflight_free(struct tool_inflight *q);
void tool_inflight_push(struct tool_inflight *q, int64_t tag, int64_t sent_us);
/* Returns 0 and the oldest entry, or -1 when empty. */
int tool_inflight_pop(struct tool_inflight *q, struct tool_sent *out);

/* ingest_send.c */
int ingest_send_main(int argc, char **argv);

/* ingest_feed.c */
int ingest_feed_main(int argc, char **argv);

/* ingest_feedgen.c */

#define FEED_MAX_OBSERVERS 32

/*
 * The feeder's generator of realistic observations: new transmissions,
 * repeats of recent ones heard by other observers, and now and then a late
 * observation carrying an older timestamp. Deterministic for a given seed.
 */
struct feed_gen;

struct feed_gen *feed_gen_new(uint64_t seed, int observers);
/* One NDJSON line (without newline) for the wall-clock second now_sec; caller frees. */
char *feed_gen_line(struct feed_gen *g, int64_t now_sec);
void feed_gen_free(struct feed_gen *g);

#endif
