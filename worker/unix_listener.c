/* unix_listener.c: socket file probing, bind, permissions and cleanup for the worker's unix sockets. */
#include "unix_listener.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* A socket file left by a crashed process is removed; a live one is not stolen. */
static int unix_listener_clear(const struct sockaddr_un *addr, const char *path, char **errp)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return set_error(errp, "%s exists and is not a socket", path);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return set_error(errp, "socket: %s", strerror(errno));
    int rc = connect(probe, (const struct sockaddr *)addr, sizeof *addr);
    int probe_errno = errno;
    close(probe);
    if (rc == 0)
        return set_error(errp, "another process is listening on %s", path);
    /* Only "refused" proves nobody listens; EACCES could hide a live process. */
    if (probe_errno != ECONNREFUSED)
        return set_error(errp, "%s exists and cannot be probed (%s); remove it if no worker"
                               " uses it", path, strerror(probe_errno));
    if (unlink(path) != 0 && errno != ENOENT)
        return set_error(errp, "removing stale socket %s: %s", path, strerror(errno));
    return 0;
}

int unix_listener_open(struct unix_listener *listener, const char *path, mode_t mode,
                       const char *group, const char *what, char **errp)
{
    *listener = (struct unix_listener){.fd = -1, .path = path};
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return set_error(errp, "%s: path longer than %zu bytes", what, sizeof addr.sun_path - 1);
    strcpy(addr.sun_path, path);
    gid_t gid = (gid_t)-1;
    if (group != NULL) {
        struct group *gr = getgrnam(group);
        if (gr == NULL)
            return set_error(errp, "%s-group: no group named '%s'", what, group);
        gid = gr->gr_gid;
    }
    if (unix_listener_clear(&addr, path, errp) != 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return set_error(errp, "socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        set_error(errp, "binding %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    /* Permissions are set before listen(): until then every connect is refused. */
    struct stat st;
    if (chmod(path, mode) != 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0) ||
        listen(fd, 128) != 0 || stat(path, &st) != 0) {
        set_error(errp, "setting up %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    listener->fd = fd;
    listener->dev = st.st_dev;
    listener->ino = st.st_ino;
    return 0;
}

void unix_listener_close(struct unix_listener *listener)
{
    if (listener->fd < 0)
        return;
    close(listener->fd);
    listener->fd = -1;
    struct stat st;
    if (stat(listener->path, &st) == 0 && st.st_dev == listener->dev &&
        st.st_ino == listener->ino)
        unlink(listener->path);
}
