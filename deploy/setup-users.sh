#!/bin/sh
# Creates the users, groups and directories a production meshscope runs with,
# with the modes that keep the responders read-only at the operating-system
# level (not only through PRAGMA query_only). Idempotent; run as root after
# `make install`, before starting supervisord with supervisor-meshscope.conf.
#
#   deploy/setup-users.sh [--state-dir DIR] [--run-dir DIR] [--log-dir DIR]
#                         [--db-name NAME] [--web-group GROUP] [--no-tmpfiles]
#                         [--print-tmpfiles]
#
# What it sets up (defaults match deploy/supervisor-meshscope.conf):
#   user meshscope      owns the database; runs the worker, the only writer
#   user meshscope-ro   member of group meshscope; runs the responders, which
#                       can read the database but neither write nor replace it
#   group meshscope-ingest  may connect to the worker's ingest socket; meshscope
#                       is a member (to give the socket that group), feeders
#                       join it, meshscope-ro must not
#   /var/lib/meshscope  meshscope:meshscope 0750; the database (created empty
#                       here when absent) and its -wal and -shm files are 0640:
#                       the group reads, only the owner writes. SQLite gives
#                       -wal/-shm the database file's mode, whatever the umask.
#   /run/meshscope      root:root 0755; the pool socket, which supervisord (root)
#                       creates root:www-data 0660 so nginx reaches it through
#                       its group only. No other user may write here: root
#                       chowns and chmods the socket's path, which must never
#                       be a symlink someone else swapped in
#   /run/meshscope/worker meshscope:meshscope-ingest 0750; the worker's ingest
#                       (and future control) sockets: feeders reach them, the
#                       responders cannot even look in
#   /run/meshscope/pool meshscope-ro:meshscope 2750; the pool's shared
#                       request statistics, the only place meshscope-ro writes.
#                       setgid, so the file (0640) is group meshscope's: the
#                       worker reads the readers' p99 from it, cannot write it
#   /var/log/meshscope  root:adm 0750; supervisord writes the logs
#   /etc/tmpfiles.d/meshscope.conf recreates the three run directories at boot
set -eu

state_dir=/var/lib/meshscope
run_dir=/run/meshscope
log_dir=/var/log/meshscope
db_name=meshscope.db
web_group=www-data
tmpfiles=yes
user=meshscope
ro_user=meshscope-ro
ingest_group=meshscope-ingest

usage() { sed -n '2,33s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) state_dir=$2; shift 2 ;;
    --run-dir) run_dir=$2; shift 2 ;;
    --log-dir) log_dir=$2; shift 2 ;;
    --db-name) db_name=$2; shift 2 ;;
    --web-group) web_group=$2; shift 2 ;;
    --no-tmpfiles) tmpfiles=no; shift ;;
    --print-tmpfiles) tmpfiles=print; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "setup-users: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
# The runtime directories as tmpfiles.d lines; --print-tmpfiles (no root needed)
# is how the Debian package ships the same file in /usr/lib/tmpfiles.d.
tmpfiles_lines() {
  # pool/ is setgid meshscope so the stats file the responders create there is
  # readable (never writable) by the worker, for its reader-p99 throttle.
  printf 'd %s 0755 root root -\nd %s/worker 0750 %s %s -\nd %s/pool 2750 %s %s -\n' \
    "$run_dir" "$run_dir" "$user" "$ingest_group" "$run_dir" "$ro_user" "$user"
}
[ "$tmpfiles" != print ] || { tmpfiles_lines; exit 0; }
[ "$(id -u)" -eq 0 ] || { echo "setup-users: run as root" >&2; exit 1; }

nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false

if ! getent group "$user" >/dev/null; then
  groupadd --system "$user"
fi
if ! getent passwd "$user" >/dev/null; then
  useradd --system --gid "$user" --home-dir /nonexistent --no-create-home \
    --shell "$nologin" --comment "meshscope worker (database owner)" "$user"
fi
getent group "$ingest_group" >/dev/null || groupadd --system "$ingest_group"
usermod --append --groups "$ingest_group" "$user"
if ! getent passwd "$ro_user" >/dev/null; then
  useradd --system --user-group --groups "$user" --home-dir /nonexistent --no-create-home \
    --shell "$nologin" --comment "meshscope read-only responders" "$ro_user"
fi
# An existing account may predate the group: make sure it can read, and that
# it holds nothing that could write.
usermod --append --groups "$user" "$ro_user"
[ "$(id -u "$ro_user")" != "$(id -u "$user")" ] || {
  echo "setup-users: $ro_user and $user must be different users" >&2; exit 1; }
for g in $(id -Gn "$ro_user"); do
  if [ "$g" = "$ingest_group" ] || [ "$g" = "$web_group" ] || [ "$g" = root ]; then
    echo "setup-users: $ro_user must not be in group $g" >&2; exit 1
  fi
done

if ! getent group "$web_group" >/dev/null; then
  echo "setup-users: group $web_group (nginx's) does not exist; install nginx first" >&2
  exit 1
fi

install -d -o "$user" -g "$user" -m 0750 "$state_dir"
# install -d also fixes the owner and mode of a directory left by an older
# layout, where the worker owned the whole of $run_dir.
install -d -o root -g root -m 0755 "$run_dir"
install -d -o "$user" -g "$ingest_group" -m 0750 "$run_dir/worker"
install -d -o "$ro_user" -g "$user" -m 2750 "$run_dir/pool"
# A stats file of the older layout (0600, group meshscope-ro) becomes readable by the worker.
for f in "$run_dir"/pool/*.stats; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  chgrp "$user" "$f" && chmod 0640 "$f"
done
# Sockets of the older layout, where the worker's user could replace them.
rm -f "$run_dir/ingest.sock"
install -d -o root -g adm -m 0750 "$log_dir" 2>/dev/null || install -d -o root -g root -m 0750 "$log_dir"

# An empty file is a new database to SQLite; creating it here fixes its mode
# before the worker (running under supervisord's umask) would.
[ -e "$state_dir/$db_name" ] || install -o "$user" -g "$user" -m 0640 /dev/null "$state_dir/$db_name"

# Bring an existing database (for example one copied in as root) to the same
# modes the worker would give it.
for f in "$state_dir"/*.db "$state_dir"/*.db-wal "$state_dir"/*.db-shm "$state_dir"/*.db-journal; do
  [ -e "$f" ] || continue
  chown "$user:$user" "$f"
  chmod 0640 "$f"
done

if [ "$tmpfiles" = yes ] && [ -d /etc/tmpfiles.d ]; then
  tmpfiles_lines >/etc/tmpfiles.d/meshscope.conf
fi

echo "setup-users: $user owns $state_dir; $ro_user (groups: $(id -Gn "$ro_user")) reads it;" \
  "pool socket group $web_group"
