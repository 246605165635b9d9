#!/usr/bin/env bash
# A private RabbitMQ node for tests and demos: Debian's rabbitmq-server run as a plain process on
# 127.0.0.1 with its own node name, ports and data under .run/rabbitmq. Installs nothing.
#   scripts/broker.sh start [--fresh]|stop|restart|status|url|ctl ARGS...
# Ports (override with the environment): EVENTBUS_BROKER_PORT (AMQP, 5682), EVENTBUS_BROKER_TLS_PORT (AMQP - 1),
# EVENTBUS_BROKER_DIST_PORT (AMQP + 20000). Each port gets its own node name and data directory.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
port="${EVENTBUS_BROKER_PORT:-5682}"
tls_port="${EVENTBUS_BROKER_TLS_PORT:-$((port - 1))}"
dist_port="${EVENTBUS_BROKER_DIST_PORT:-$((port + 20000))}"
# The default node lives in .run/rabbitmq; a node on another port (tests that restart their broker) has its own.
if [ "$port" = 5682 ]; then run="$root/.run/rabbitmq"; else run="$root/.run/rabbitmq-$port"; fi
node="eventbus-${port}@localhost"
bin=/usr/lib/rabbitmq/bin

export HOME="$run/home"   # the Erlang cookie lives here, shared by the server and rabbitmqctl
export RABBITMQ_NODENAME="$node"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$port"
export RABBITMQ_DIST_PORT="$dist_port"
export RABBITMQ_CONFIG_FILE="$run/rabbitmq.conf"
export RABBITMQ_MNESIA_BASE="$run/mnesia"
export RABBITMQ_LOG_BASE="$run/log"
export RABBITMQ_ENABLED_PLUGINS_FILE="$run/enabled_plugins"
export RABBITMQ_PID_FILE="$run/rabbitmq.pid"
export RABBITMQ_LOGS="$run/log/node.log"
export ERL_CRASH_DUMP="$run/log/erl_crash.dump"   # not in the working tree
# Erlang's schedulers spin while idle by default. On a small machine shared with the tests, that spinning takes
# CPU from everyone, and a contended rabbitmqctl (a fresh VM per call) took 20 s instead of 2 s. Turn it off for
# the node and the CLI.
no_busy_wait="+sbwt none +sbwtdcpu none +sbwtdio none"
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:-$no_busy_wait}"
export RABBITMQ_CTL_ERL_ARGS="${RABBITMQ_CTL_ERL_ARGS:-$no_busy_wait}"

die() { echo "broker.sh: $*" >&2; exit 1; }

ctl() { "$bin/rabbitmqctl" -n "$node" "$@"; }

running() { [ -f "$run/server.pid" ] && kill -0 "$(cat "$run/server.pid")" 2>/dev/null; }

answers() { ctl status >/dev/null 2>&1 && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

make_certs() {
  local t="$run/tls"
  [ -f "$t/server.pem" ] && return 0
  mkdir -p "$t"
  # A CA and a server certificate for 127.0.0.1/localhost; a second, unrelated CA for wrong-CA tests;
  # a client certificate signed by the CA for mutual-TLS tests.
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=EventBus Test CA" \
    -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Unrelated CA" \
    -keyout "$t/other-ca.key" -out "$t/other-ca.pem" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$t/san.ext"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -days 3650 \
    -extfile "$t/san.ext" -out "$t/server.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=eventbus-client" -keyout "$t/client.key" -out "$t/client.csr" 2>/dev/null
  openssl x509 -req -in "$t/client.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -days 3650 \
    -out "$t/client.pem" 2>/dev/null
  chmod 644 "$t"/*.key
}

write_config() {
  mkdir -p "$run/home" "$run/mnesia" "$run/log"
  echo "[]." > "$run/enabled_plugins"
  # backlog: the kernel's queue of connections the node has not accepted yet (RabbitMQ's default is 128). When the
  # whole test run connects at once and the node is busy, a full queue drops new connections' SYNs, and each dropped
  # client waits for the kernel's retransmission (1, 3, 7, 15, 31, 63 s): buses that took a minute to consume.
  cat > "$run/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
tcp_listen_options.backlog = 4096
listeners.ssl.1 = 127.0.0.1:$tls_port
ssl_options.cacertfile = $run/tls/ca.pem
ssl_options.certfile = $run/tls/server.pem
ssl_options.keyfile = $run/tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
loopback_users = none
log.console = false
log.file.level = info
vm_memory_high_watermark.relative = 0.4
disk_free_limit.absolute = 50MB
CONF
}

start() {
  local fresh="${1:-}"
  [ -x "$bin/rabbitmq-server" ] || die "rabbitmq-server is not installed (run: make setup)"
  command -v openssl >/dev/null || die "openssl is not installed (run: make setup)"
  if running && answers; then echo "broker: already running on 127.0.0.1:$port"; return 0; fi
  make_certs
  # --fresh: start from an empty node (no queues or messages left by earlier runs).
  if [ "$fresh" = "--fresh" ] && ! running; then rm -rf "$run/mnesia"; fi
  write_config
  if ! running; then
    # Someone else on our ports (most often the broker of another checkout of this repository): say so, instead of
    # the node's crash report about a port already in use.
    local taken
    for taken in "$port" "$tls_port" "$dist_port"; do
      if (exec 3<>"/dev/tcp/127.0.0.1/$taken") 2>/dev/null; then
        die "port $taken on 127.0.0.1 is taken by another process (a broker started from another checkout? stop it there with scripts/broker.sh stop), or pick other ports: EVENTBUS_BROKER_PORT=<port> (TLS and distribution ports follow it)"
      fi
    done
    nohup "$bin/rabbitmq-server" >"$run/log/stdout.log" 2>&1 &
    echo $! > "$run/server.pid"
  fi
  local deadline=$((SECONDS + 90))
  until answers; do
    running || { tail -n 30 "$run/log/stdout.log" >&2; die "rabbitmq-server exited during start-up (log above)"; }
    [ $SECONDS -lt $deadline ] || { tail -n 30 "$run/log/stdout.log" >&2; die "broker did not answer within 90 s"; }
    sleep 1
  done
  echo "broker: running on 127.0.0.1:$port (TLS $tls_port), node $node"
}

stop() {
  if running; then
    ctl stop >/dev/null 2>&1 || kill "$(cat "$run/server.pid")" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while running && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    running && kill -9 "$(cat "$run/server.pid")" 2>/dev/null || true
    echo "broker: stopped"
  else
    echo "broker: not running"
  fi
  rm -f "$run/server.pid"
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running && answers; then echo "broker: running on 127.0.0.1:$port"; else echo "broker: not running"; exit 1; fi ;;
  url) echo "amqp://guest:guest@127.0.0.1:$port/" ;;
  tls-port) echo "$tls_port" ;;
  tls-dir) echo "$run/tls" ;;
  ctl) shift; ctl "$@" ;;
  *) echo "usage: $0 start [--fresh]|stop|restart|status|url|tls-port|tls-dir|ctl ARGS..." >&2; exit 2 ;;
esac
