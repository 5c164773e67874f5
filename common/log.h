/* log.h: one-line-per-event logging to stderr, shared by every meshscope program. */
#ifndef MESHSCOPE_LOG_H
#define MESHSCOPE_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Component is kept by pointer: pass a string literal. */
void log_init(const char *component, enum log_level level);
/* Returns 0 and sets *level for "error", "warn", "info" or "debug"; -1 otherwise. */
int log_level_parse(const char *name, enum log_level *level);

/*
 * Writes one line. Control characters in the formatted message (CR, LF, ESC,
 * ...) are written as \xHH, so text from outside (an SQLite error quoting a
 * value, a client's bytes) can never forge a second log line.
 */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* log_msg with ": strerror(errno)" appended, errno read before anything else runs. */
void log_msg_errno(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
/* As in tmux: log_warn appends strerror(errno), log_warnx does not. */
#define log_warn(...) log_msg_errno(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
