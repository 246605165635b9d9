#!/usr/bin/env bash
# The webhook gateway end to end: starts the Python receiver (Samples/Webhooks/webhook_receiver.py) and
# eventbus-gateway with Samples/Webhooks/gateway.json, publishes a ProductPriceChangedIntegrationEvent over HTTP with
# curl, waits until the receiver prints it, then stops both.
#   scripts/with-services.sh scripts/gateway-demo.sh     (what `make gateway-demo` runs, after building the gateway)
# Exits 0 when the receiver printed the event; otherwise non-zero with the reason.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="${BIN_DIR:-$root/.build/debug}"
run="$root/.run/gateway-demo"
mkdir -p "$run"
export EVENTBUS_URL="${EVENTBUS_URL:-$("$root/scripts/broker.sh" url)}"
export EVENTBUS_GATEWAY_KEYS="demo-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
die() { echo "gateway-demo: FAILED: $*" >&2; tail -20 "$run/gateway.log" >&2 || true; exit 1; }

python3 Samples/Webhooks/webhook_receiver.py 5190 > "$run/receiver.log" 2>&1 & pids+=($!)
"$bin/eventbus-gateway" --config Samples/Webhooks/gateway.json > "$run/gateway.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do
  grep -q "validation handshake answered" "$run/receiver.log" 2>/dev/null && break
  sleep 0.2
done
grep -q "validation handshake answered" "$run/receiver.log" || die "the gateway did not validate the receiver"
echo "==> gateway up, receiver validated; publishing a price change over HTTP"
id="$(python3 -c 'import uuid; print(uuid.uuid4())')"
status="$(curl -s -o "$run/publish.out" -w '%{http_code}' -X POST http://127.0.0.1:5180/api/events \
  -H "aeg-sas-key: $EVENTBUS_GATEWAY_KEYS" -H 'content-type: application/cloudevents+json' \
  -d "{\"specversion\":\"1.0\",\"id\":\"$id\",\"source\":\"/catalog\",\"type\":\"ProductPriceChangedIntegrationEvent\",\"subject\":\"items/1\",\"data\":{\"productId\":1,\"newPrice\":12.5,\"oldPrice\":10}}")"
[ "$status" = 200 ] || die "POST /api/events answered $status: $(cat "$run/publish.out")"
for _ in $(seq 1 100); do
  grep -q "$id" "$run/receiver.log" && break
  sleep 0.1
done
grep -q "$id" "$run/receiver.log" || die "the receiver did not get event $id"
grep "$id" "$run/receiver.log"
echo "==> delivered"
