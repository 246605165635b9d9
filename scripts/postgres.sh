#!/usr/bin/env bash
# A private PostgreSQL cluster for the PostgreSQL store's tests and benchmarks: Debian's PostgreSQL 15 binaries run
# as a plain process on 127.0.0.1 with its own data directory, port and socket under .run/postgres. Installs nothing.
#   scripts/postgres.sh start [--fresh]|stop|restart|status|url|psql ARGS...
# Port: EVENTBUS_POSTGRES_PORT (5433). User `eventbus` (superuser, trust auth on loopback) and database `eventbus`
# are created at init. fsync stays on so that benchmark numbers are honest.
# initdb and pg_ctl refuse to run as root: as root they run as the `postgres` system user, which owns the cluster.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
port="${EVENTBUS_POSTGRES_PORT:-5433}"
if [ "$port" = 5433 ]; then run="$root/.run/postgres"; else run="$root/.run/postgres-$port"; fi
user=eventbus
database=eventbus

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# As root, the cluster belongs to `postgres`, which must be able to reach the run directory. A checkout under a
# directory closed to other users (e.g. /root) cannot host it: then the cluster lives under /tmp instead.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "the 'postgres' system user does not exist (run: make setup)"
  mkdir -p "$root/.run"
  if ! runuser -u postgres -- test -x "$root/.run"; then
    run="${TMPDIR:-/tmp}/eventbus-postgres-$port"
  fi
fi
data="$run/data"
log="$run/log/postgres.log"

running() {
  [ -f "$data/postmaster.pid" ] && kill -0 "$(head -n 1 "$data/postmaster.pid")" 2>/dev/null
}

answers() {
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -d "$database" -U "$user" >/dev/null 2>&1
}

prepare_dirs() {
  mkdir -p "$run/log"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$run"; fi
  chmod 700 "$run"
}

init_cluster() {
  echo "postgres: initialising a new cluster in $data"
  as_owner "$bin/initdb" -D "$data" --username="$user" --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$run/log/initdb.log" 2>&1 || { tail -n 30 "$run/log/initdb.log" >&2; die "initdb failed (log above)"; }
  # Settings of our own, in a file the main configuration includes (later lines win).
  cat >"$data/eventbus.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run'
max_connections = 200
fsync = on
synchronous_commit = on
shared_buffers = 256MB
logging_collector = off
log_min_messages = warning
CONF
  echo "include = 'eventbus.conf'" >>"$data/postgresql.conf"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$data/eventbus.conf" "$data/postgresql.conf"; fi
}

start() {
  local fresh="${1:-}"
  bin="$(find_bin)" || die "PostgreSQL is not installed (run: make setup)"
  if running && answers; then echo "postgres: already running on 127.0.0.1:$port"; return 0; fi
  # --fresh: start from an empty cluster (nothing left by earlier runs).
  if [ "$fresh" = "--fresh" ] && ! running; then rm -rf "$data"; fi
  prepare_dirs
  [ -f "$data/PG_VERSION" ] || init_cluster
  if ! running; then
    as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null \
      || { tail -n 30 "$log" >&2 || true; die "PostgreSQL did not start (log above)"; }
  fi
  local deadline=$((SECONDS + 60))
  until answers; do
    running || { tail -n 30 "$log" >&2 || true; die "PostgreSQL exited during start-up (log above)"; }
    [ $SECONDS -lt $deadline ] || { tail -n 30 "$log" >&2 || true; die "PostgreSQL did not answer within 60 s"; }
    sleep 0.2
  done
  # The database is created once, on the first start of a cluster.
  if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$user" "$database"
  fi
  echo "postgres: running on 127.0.0.1:$port, data in $data"
}

stop() {
  bin="$(find_bin)" || die "PostgreSQL is not installed (run: make setup)"
  if running; then
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 \
      || kill -9 "$(head -n 1 "$data/postmaster.pid")" 2>/dev/null || true
    echo "postgres: stopped"
  else
    echo "postgres: not running"
  fi
}

status() {
  bin="$(find_bin)" || die "PostgreSQL is not installed (run: make setup)"
  if running && answers; then echo "postgres: running on 127.0.0.1:$port"; else echo "postgres: not running"; exit 1; fi
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  url) echo "postgres://$user@127.0.0.1:$port/$database" ;;
  psql) shift; bin="$(find_bin)" || die "PostgreSQL is not installed"; exec "$bin/psql" -h 127.0.0.1 -p "$port" -U "$user" -d "$database" "$@" ;;
  *) echo "usage: $0 start [--fresh]|stop|restart|status|url|psql ARGS..." >&2; exit 2 ;;
esac
