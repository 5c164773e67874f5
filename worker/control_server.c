/* control_server.c: the control thread: accepts clients, runs their commands, answers pauses once settled. */
#include "control_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control_command.h"
#include "db.h"
#include "log.h"
#include "unix_listener.h"
#include "util.h"

#define CONTROL_BUSY_TIMEOUT_MS 5000

struct control_client {
    int fd;
    char in[CONTROL_LINE_MAX + 2];
    size_t in_len;
    char *out; /* unsent reply bytes */
    size_t out_len, out_off;
    int64_t last_ms;
    int closing; /* close once the reply is sent */
    /* A pause waiting for its jobs to settle. */
    int waiting;
    uint64_t ticket;
    char *job;
    int64_t wait_start_ms;
};

struct control_server {
    struct control_config config;
    struct job_control *control;
    struct unix_listener listener;
    sqlite3 *db;
    int notify[2];
    int stop[2];
    pthread_t thread;
    struct control_client clients[CONTROL_MAX_CLIENTS];
    size_t count;
};

static void client_queue(struct control_client *c, json_object *reply)
{
    const char *text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
    size_t len = strlen(text);
    c->out = xrealloc(c->out, c->out_len + len + 1);
    memcpy(c->out + c->out_len, text, len);
    c->out[c->out_len + len] = '\n';
    c->out_len += len + 1;
    json_object_put(reply);
}

static json_object *reply_error(const char *message)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(message));
    return o;
}

static json_object *reply_ok(void)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    return o;
}

static void client_pause_done(struct control_client *c, int stopping)
{
    int64_t waited = clock_monotonic_ms() - c->wait_start_ms;
    if (stopping) {
        client_queue(c, reply_error("the worker is stopping; the pause is stored and holds"
                                    " after the restart"));
    } else {
        json_object *o = reply_ok();
        json_object_object_add(o, "paused", json_object_new_string(c->job));
        json_object_object_add(o, "waitedMs", json_object_new_int64(waited));
        client_queue(c, o);
        log_info("control: pause %s answered after %lld ms", c->job, (long long)waited);
    }
    free(c->job);
    c->job = NULL;
    c->waiting = 0;
}

static void client_exec(struct control_server *srv, struct control_client *c,
                        const struct control_command *cmd)
{
    char *err = NULL;
    json_object *o = NULL;
    switch (cmd->verb) {
    case CONTROL_STATUS:
        o = reply_ok();
        json_object_object_add(o, "jobs", job_control_status(srv->control));
        break;
    case CONTROL_PAUSE:
        if (job_control_pause(srv->control, srv->db, cmd->job, cmd->reason, &c->ticket, &err))
            break;
        log_info("control: pause %s (%s)", cmd->job, cmd->reason ? cmd->reason : "operator");
        c->waiting = 1;
        c->job = xstrdup(cmd->job);
        c->wait_start_ms = clock_monotonic_ms();
        if (job_control_pause_settled(srv->control, c->job, c->ticket))
            client_pause_done(c, 0);
        return;
    case CONTROL_RESUME:
        if (job_control_resume(srv->control, srv->db, cmd->job, &err) != 0)
            break;
        log_info("control: resume %s", cmd->job);
        o = reply_ok();
        json_object_object_add(o, "resumed", json_object_new_string(cmd->job));
        break;
    case CONTROL_SET:
        if (job_control_set(srv->control, srv->db, cmd->job, cmd->key, cmd->value, &err) != 0)
            break;
        log_info("control: set %s %s %s", cmd->job, cmd->key, cmd->value ? cmd->value : "");
        o = reply_ok();
        json_object_object_add(o, "job", json_object_new_string(cmd->job));
        json_object_object_add(o, "key", json_object_new_string(cmd->key));
        if (cmd->value != NULL)
            json_object_object_add(o, "value", json_object_new_string(cmd->value));
        break;
    }
    if (o == NULL) {
        o = reply_error(err ? err : "failed");
        free(err);
    }
    client_queue(c, o);
}

/* Runs every complete line in the client's buffer (none while a pause waits). */
static void client_lines(struct control_server *srv, struct control_client *c)
{
    while (!c->waiting && !c->closing) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (nl == NULL) {
            if (c->in_len > CONTROL_LINE_MAX + 1) {
                client_queue(c, reply_error("line too long (over 4096 bytes)"));
                c->closing = 1;
            }
            return;
        }
        *nl = '\0';
        struct control_command cmd;
        char *err = NULL;
        if (control_command_parse(c->in, &cmd, &err) != 0) {
            client_queue(c, reply_error(err));
            free(err);
        } else {
            client_exec(srv, c, &cmd);
            control_command_free(&cmd);
        }
        size_t used = (size_t)(nl - c->in) + 1;
        memmove(c->in, nl + 1, c->in_len - used);
        c->in_len -= used;
    }
}

/* Reads and drops what a non-blocking fd has queued, up to max bytes. */
static void drain(int fd, size_t max)
{
    char buf[4096];
    ssize_t n;
    for (size_t total = 0; total < max && (n = read(fd, buf, sizeof buf)) > 0;)
        total += (size_t)n;
}

/* Input a closing connection may still discard, so a flooding client cannot keep the loop reading. */
#define CONTROL_DISCARD_MAX (64 * 1024)

/*
 * Closing a unix socket with unread input resets the connection, and the
 * client may then lose the reply it was sent (a line too long is followed by
 * more input). So the write side is shut first and what is already queued is
 * read and dropped, up to a bound.
 */
static void client_close(struct control_server *srv, size_t i)
{
    struct control_client *c = &srv->clients[i];
    shutdown(c->fd, SHUT_WR);
    drain(c->fd, CONTROL_DISCARD_MAX);
    close(c->fd);
    free(c->out);
    free(c->job);
    srv->clients[i] = srv->clients[--srv->count];
}

/* Reads what is there and runs the lines; at end of input it answers them, then closes. */
static int client_read(struct control_server *srv, struct control_client *c)
{
    int eof = 0;
    while (!eof) {
        size_t room = sizeof c->in - c->in_len;
        if (room == 0)
            break;
        ssize_t n = read(c->fd, c->in + c->in_len, room);
        if (n > 0) {
            c->in_len += (size_t)n;
            c->last_ms = clock_monotonic_ms();
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0)
            return -1; /* an error: replies have nobody to go to */
        eof = 1;       /* a client may send its command and shut down its side */
    }
    client_lines(srv, c);
    if (eof)
        c->closing = 1;
    return 0;
}

/* Sends what it can; returns -1 when the client is gone or done. */
static int client_write(struct control_client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0)
            return -1;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return c->closing && !c->waiting ? -1 : 0;
}

static void control_accept(struct control_server *srv)
{
    for (;;) {
        int fd = accept4(srv->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_warn("control: accept");
            return;
        }
        if (srv->count == CONTROL_MAX_CLIENTS) {
            static const char busy[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";
            ssize_t ignored = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
            (void)ignored;
            close(fd);
            continue;
        }
        srv->clients[srv->count++] = (struct control_client){
            .fd = fd,
            .last_ms = clock_monotonic_ms(),
        };
    }
}


/* Answers settled pauses, times out slow ones and idle clients. */
static void control_housekeeping(struct control_server *srv)
{
    int64_t now = clock_monotonic_ms();
    for (size_t i = 0; i < srv->count; i++) {
        struct control_client *c = &srv->clients[i];
        if (c->waiting && job_control_pause_settled(srv->control, c->job, c->ticket)) {
            client_pause_done(c, 0);
            client_lines(srv, c);
        } else if (c->waiting && now - c->wait_start_ms > CONTROL_PAUSE_WAIT_MS) {
            client_queue(c, reply_error("the job has not reached the end of its batch yet;"
                                        " it pauses there (the pause is stored)"));
            free(c->job);
            c->job = NULL;
            c->waiting = 0;
        } else if (!c->waiting && c->out_len == 0 && now - c->last_ms > CONTROL_IDLE_MS) {
            client_queue(c, reply_error("no command received: closing"));
            c->closing = 1;
        }
    }
}

/* One poll round over the pipes, the listener and the clients; returns 1 to stop. */
static int control_poll(struct control_server *srv)
{
    struct pollfd fds[3 + CONTROL_MAX_CLIENTS];
    fds[0] = (struct pollfd){.fd = srv->stop[0], .events = POLLIN};
    fds[1] = (struct pollfd){.fd = srv->notify[0], .events = POLLIN};
    fds[2] = (struct pollfd){.fd = srv->listener.fd, .events = POLLIN};
    size_t n = srv->count;
    for (size_t i = 0; i < n; i++) {
        struct control_client *c = &srv->clients[i];
        short events = c->out_len > c->out_off ? POLLOUT : 0;
        if (!c->waiting && !c->closing)
            events |= POLLIN;
        fds[3 + i] = (struct pollfd){.fd = c->fd, .events = events};
    }
    if (poll(fds, 3 + n, 250) < 0 && errno != EINTR)
        log_warn("control: poll");
    if (fds[0].revents)
        return 1;
    if (fds[1].revents)
        drain(srv->notify[0], SIZE_MAX);
    /* Back to front, so closing a client (moving the last into its slot) skips none. */
    for (size_t i = n; i-- > 0;) {
        struct control_client *c = &srv->clients[i];
        int gone = (fds[3 + i].revents & (POLLIN | POLLHUP | POLLERR)) && !c->waiting &&
                   !c->closing && client_read(srv, c) != 0;
        if (!gone && (c->out_len > c->out_off || c->closing))
            gone = client_write(c) != 0;
        if (gone)
            client_close(srv, i);
    }
    if (fds[2].revents & POLLIN)
        control_accept(srv);
    control_housekeeping(srv);
    for (size_t i = srv->count; i-- > 0;)
        if (srv->clients[i].out_len > srv->clients[i].out_off && client_write(&srv->clients[i]))
            client_close(srv, i);
    return 0;
}

static void *control_main(void *arg)
{
    struct control_server *srv = arg;
    while (!control_poll(srv))
        ;
    for (size_t i = srv->count; i-- > 0;) {
        struct control_client *c = &srv->clients[i];
        if (c->waiting)
            client_pause_done(c, 1);
        client_write(c);
        client_close(srv, i);
    }
    return NULL;
}

static int make_pipe(int fds[2], char **errp)
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return set_error(errp, "control: pipe: %s", strerror(errno));
    return 0;
}

int control_server_start(const struct control_config *config, struct job_control *control,
                         struct control_server **out, char **errp)
{
    struct control_server *srv = xcalloc(1, sizeof *srv);
    srv->config = *config;
    srv->control = control;
    srv->notify[0] = srv->notify[1] = srv->stop[0] = srv->stop[1] = -1;
    srv->listener.fd = -1;
    mode_t mode = config->socket_group ? 0660 : 0600;
    if (db_open(config->db_path, DB_READ_WRITE, DB_ONE_THREAD, CONTROL_BUSY_TIMEOUT_MS,
                &srv->db, errp) != 0 ||
        make_pipe(srv->notify, errp) != 0 || make_pipe(srv->stop, errp) != 0 ||
        unix_listener_open(&srv->listener, config->socket_path, mode, config->socket_group,
                           "--control-socket", errp) != 0)
        goto err;
    job_control_set_notify(control, srv->notify[1]);
    int rc = pthread_create(&srv->thread, NULL, control_main, srv);
    if (rc != 0) {
        job_control_set_notify(control, -1);
        set_error(errp, "cannot start the control thread: %s", strerror(rc));
        goto err;
    }
    log_info("control socket %s (mode %04o)", config->socket_path, (unsigned)mode);
    *out = srv;
    return 0;

err:
    unix_listener_close(&srv->listener);
    for (int i = 0; i < 2; i++) {
        if (srv->notify[i] >= 0)
            close(srv->notify[i]);
        if (srv->stop[i] >= 0)
            close(srv->stop[i]);
    }
    sqlite3_close(srv->db);
    free(srv);
    *out = NULL;
    return -1;
}

void control_server_stop(struct control_server *srv)
{
    if (srv == NULL)
        return;
    char byte = 1;
    if (write(srv->stop[1], &byte, 1) < 0)
        log_warn("control: stop");
    pthread_join(srv->thread, NULL);
    job_control_set_notify(srv->control, -1);
    unix_listener_close(&srv->listener);
    for (int i = 0; i < 2; i++) {
        close(srv->notify[i]);
        close(srv->stop[i]);
    }
    sqlite3_close(srv->db);
    free(srv);
}
