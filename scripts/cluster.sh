#!/usr/bin/env bash
# A local three-node RabbitMQ cluster on 127.0.0.1 (DESIGN section 11): three scripts/broker.sh nodes with their own
# names, ports and data, sharing an Erlang cookie, joined into one cluster. For failover tests and trying quorum
# queues; installs nothing.
#   scripts/cluster.sh start [--fresh]|stop|status|url|ports|stop-node N|kill-node N|start-node N|ctl N ARGS...
# stop-node stops a node the way an operator does; kill-node kills its Erlang VM (SIGKILL), as a crash would.
# Nodes 1-3 listen on EVENTBUS_CLUSTER_PORT (5701) and the two ports after it (TLS on AMQP + 100, distribution on
# AMQP + 20000); their data lives in .run/rabbitmq-<port>. Node 1 is the one the others join.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
base="${EVENTBUS_CLUSTER_PORT:-5701}"
ports=("$base" "$((base + 1))" "$((base + 2))")
cookie="EVENTBUSLOCALCLUSTERCOOKIE"

die() { echo "cluster.sh: $*" >&2; exit 1; }

port_of() {
  [[ "${1:-}" =~ ^[123]$ ]] || die "node must be 1, 2 or 3 (got '${1:-}')"
  echo "${ports[$(($1 - 1))]}"
}

# scripts/broker.sh for the node on port $1.
broker() {
  local port="$1"; shift
  EVENTBUS_BROKER_PORT="$port" EVENTBUS_BROKER_TLS_PORT="$((port + 100))" EVENTBUS_BROKER_DIST_PORT="$((port + 20000))" \
    "$root/scripts/broker.sh" "$@"
}

# The cookie must be the same on every node (and for rabbitmqctl) before a node first starts.
share_cookie() {
  local home="$root/.run/rabbitmq-$1/home"
  mkdir -p "$home"
  if [ "$(cat "$home/.erlang.cookie" 2>/dev/null)" != "$cookie" ]; then
    rm -f "$home/.erlang.cookie"
    printf '%s' "$cookie" > "$home/.erlang.cookie"
    chmod 400 "$home/.erlang.cookie"
  fi
}

# How many nodes the cluster runs, as the first node that answers sees it (0 when none answers).
running_nodes() {
  local port count
  for port in "${ports[@]}"; do
    count="$(broker "$port" ctl eval 'length(rabbit_nodes:all_running()).' 2>/dev/null | tr -dc '0-9' || true)"
    [ -n "$count" ] && { echo "$count"; return; }
  done
  echo 0
}

start_node() {
  local port="$1" fresh="${2:-}"
  share_cookie "$port"
  broker "$port" start $fresh >/dev/null
}

start() {
  local fresh="${1:-}" pids=() port
  [ "$fresh" = "--fresh" ] && stop >/dev/null
  # In parallel: nodes that were clustered wait for each other while they boot.
  for port in "${ports[@]}"; do start_node "$port" "$fresh" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || die "a node did not start (see .run/rabbitmq-<port>/log)"; done
  for port in "${ports[@]:1}"; do
    if ! broker "$port" ctl cluster_status 2>/dev/null | grep -q "eventbus-${ports[0]}@localhost"; then
      local log="$root/.run/rabbitmq-$port/log/join.log"
      { broker "$port" ctl stop_app && broker "$port" ctl reset &&
        broker "$port" ctl join_cluster "eventbus-${ports[0]}@localhost" && broker "$port" ctl start_app; } >"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; die "node on port $port could not join node 1"; }
    fi
  done
  local deadline=$((SECONDS + 60))
  until [ "$(running_nodes)" = 3 ]; do
    [ $SECONDS -lt $deadline ] || die "the cluster did not reach three running nodes within 60 s"
    sleep 1
  done
  echo "cluster: 3 nodes running on 127.0.0.1:${ports[0]},${ports[1]},${ports[2]}"
}

# SIGKILL to the node's Erlang VM (the child of the rabbitmq-server script whose pid broker.sh keeps).
kill_node() {
  local pidfile="$root/.run/rabbitmq-$1/server.pid" deadline=$((SECONDS + 30))
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null || die "node on port $1 is not running"
  pkill -9 -P "$(cat "$pidfile")" beam.smp || die "no Erlang VM found for the node on port $1"
  while kill -0 "$(cat "$pidfile")" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "node on port $1 still runs 30 s after SIGKILL"
    sleep 0.2
  done
  rm -f "$pidfile"
  echo "broker: node on port $1 killed"
}

stop() {
  local pids=() port
  for port in "${ports[@]}"; do broker "$port" stop >/dev/null & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  echo "cluster: stopped"
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop ;;
  status)
    count="$(running_nodes)"
    [ "$count" = 3 ] || { echo "cluster: $count of 3 nodes running"; exit 1; }
    echo "cluster: 3 nodes running" ;;
  url) echo "amqp://guest:guest@127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}/" ;;
  ports) echo "${ports[*]}" ;;
  stop-node) broker "$(port_of "${2:-}")" stop ;;
  kill-node) kill_node "$(port_of "${2:-}")" ;;
  start-node) port="$(port_of "${2:-}")"; share_cookie "$port"; broker "$port" start ;;
  ctl) port="$(port_of "${2:-}")"; shift 2; broker "$port" ctl "$@" ;;
  *) echo "usage: $0 start [--fresh]|stop|status|url|ports|stop-node N|kill-node N|start-node N|ctl N ARGS..." >&2; exit 2 ;;
esac
