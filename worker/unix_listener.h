/* unix_listener.h: a listening unix stream socket that never steals a live one and removes only its own file. */
#ifndef MESHSCOPE_UNIX_LISTENER_H
#define MESHSCOPE_UNIX_LISTENER_H

#include <sys/types.h>

struct unix_listener {
    int fd;
    const char *path; /* borrowed */
    dev_t dev;
    ino_t ino;
};

/*
 * Binds and listens on path (non-blocking, close-on-exec) with the given mode
 * and, when group is not NULL, that group. A socket file left by a dead
 * process is removed; a live one is refused. `what` names the option in
 * messages (e.g. "--control-socket").
 */
int unix_listener_open(struct unix_listener *listener, const char *path, mode_t mode,
                       const char *group, const char *what, char **errp);
/* Closes it and removes the file if it is still the one it created. */
void unix_listener_close(struct unix_listener *listener);

#endif
