#!/usr/bin/env bash
# Runs a command with the private services started, and stops them afterwards whatever the command's outcome.
#   scripts/with-services.sh COMMAND [ARGS...]
# Fails loudly (non-zero, with the reason) when a service cannot start: tests never run without their servers.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

started=()
cleanup() {
  local status=$?
  for service in "${started[@]}"; do "$root/scripts/$service.sh" stop >/dev/null 2>&1 || true; done
  # Brokers that tests started on other ports (and failed to stop) go too.
  for dir in "$root"/.run/rabbitmq-*; do
    [ -d "$dir" ] && [ "${dir##*-}" != "${EVENTBUS_BROKER_PORT:-5682}" ] && \
      EVENTBUS_BROKER_PORT="${dir##*-}" "$root/scripts/broker.sh" stop >/dev/null 2>&1 || true
  done
  exit $status
}
trap cleanup EXIT INT TERM

if ! "$root/scripts/broker.sh" status >/dev/null 2>&1; then
  "$root/scripts/broker.sh" start --fresh || { echo "FATAL: the RabbitMQ broker could not start; see .run/rabbitmq/log" >&2; exit 1; }
  started+=(broker)
fi

export EVENTBUS_URL="${EVENTBUS_URL:-$("$root/scripts/broker.sh" url)}"

# PostgreSQL for the PostgreSQL store's tests (WITH_POSTGRES=0 skips it, e.g. for the demo).
if [ "${WITH_POSTGRES:-1}" = 1 ] && [ -x "$root/scripts/postgres.sh" ]; then
  if ! "$root/scripts/postgres.sh" status >/dev/null 2>&1; then
    "$root/scripts/postgres.sh" start --fresh || { echo "FATAL: PostgreSQL could not start; see .run/postgres/log" >&2; exit 1; }
    started+=(postgres)
  fi
  export EVENTBUS_POSTGRES_URL="${EVENTBUS_POSTGRES_URL:-$("$root/scripts/postgres.sh" url)}"
fi
export EVENTBUS_TLS_PORT="$("$root/scripts/broker.sh" tls-port)"
export EVENTBUS_TLS_DIR="$("$root/scripts/broker.sh" tls-dir)"
export EVENTBUS_BROKER_SCRIPT="$root/scripts/broker.sh"
"$@"
