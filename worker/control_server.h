/* control_server.h: the worker's control socket: one command per line, one JSON reply per line. */
#ifndef MESHSCOPE_CONTROL_SERVER_H
#define MESHSCOPE_CONTROL_SERVER_H

#include "job_control.h"

/* At most this many clients at once; one more is told so and closed. */
#define CONTROL_MAX_CLIENTS 128
/* A client that sends no complete line for this long is told so and closed. */
#define CONTROL_IDLE_MS 10000
/* How long `pause` waits for a job to reach the end of its batch before it says so. */
#define CONTROL_PAUSE_WAIT_MS 60000

struct control_config {
    const char *socket_path;
    const char *socket_group; /* NULL: mode 0600; else 0660 and this group */
    const char *db_path;      /* the thread writes pauses and settings on its own connection */
};

struct control_server;

/* Listens and starts the control thread. Returns 0 and sets *out, or -1 with *errp set. */
int control_server_start(const struct control_config *config, struct job_control *control,
                         struct control_server **out, char **errp);
/* Stops the thread (pending pauses are told the worker is stopping), removes the socket. */
void control_server_stop(struct control_server *server);

#endif
