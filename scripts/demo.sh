#!/usr/bin/env bash
# The ProductPriceChanged story, end to end: starts Basket and Catalog (SQLite) against the broker at EVENTBUS_URL,
# and the webhook gateway (eventbus-gateway with Samples/Webhooks/demo-gateway.json: one subscription pointing at
# the Python receiver Samples/Webhooks/webhook_receiver.py), puts item 1 in demo-buyer's basket, changes item 1's
# price in the catalog, waits until the basket shows the new price and the receiver prints the event, prints each
# step, the final basket and the alert, then stops everything it started.
#   scripts/with-services.sh scripts/demo.sh        (what `make demo` runs, after building catalog and basket)
# Environment: EVENTBUS_URL (default: scripts/broker.sh url), BIN_DIR (default .build/debug), DEMO_RUN_DIR
# (default .run/demo), CATALOG_PORT (5101), BASKET_PORT (5103), DEMO_WEBHOOK (1: also the gateway, which needs
# eventbus-gateway built and python3, listening on 5180 and the receiver on 5190; 0: without it; default: when both are
# there; `make demo` sets 1), DEMO_THEN (a command run while both services are
# still up, with BASKET_URL and CATALOG_URL set; e2e.sh uses it).
# Exits 0 when the basket showed the new price; otherwise non-zero with the reason, and stops what it started.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="${BIN_DIR:-$root/.build/debug}"
run="${DEMO_RUN_DIR:-$root/.run/demo}"
catalog_port="${CATALOG_PORT:-5101}"
basket_port="${BASKET_PORT:-5103}"
buyer="demo-buyer"
exchange="demo_event_bus"
basket_queue="demo.basket"
webhook="${DEMO_WEBHOOK:-auto}"
gateway_port=5180
receiver_port=5190
webhook_queue="demo.gateway.price-hook"
export EVENTBUS_URL="${EVENTBUS_URL:-$("$root/scripts/broker.sh" url)}"
export CATALOG_URL="http://127.0.0.1:$catalog_port"
export BASKET_URL="http://127.0.0.1:$basket_port"

step=0
say() { step=$((step + 1)); printf '\n==> %d. %s\n' "$step" "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\ndemo: FAILED: %s\n' "$*" >&2; exit 1; }
pretty() { if command -v python3 >/dev/null 2>&1; then python3 -m json.tool --indent 2 --sort-keys; else cat; echo; fi; }

pids=()
names=()
stop_services() {
  local i pid deadline
  for i in "${!pids[@]}"; do
    pid="${pids[$i]}"
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for i in "${!pids[@]}"; do
    pid="${pids[$i]}"
    deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      note "${names[$i]} did not stop within 20 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
on_exit() {
  local status=$?
  if [ $status -ne 0 ] && [ ${#names[@]} -gt 0 ]; then
    for name in "${names[@]}"; do
      printf '\n--- last lines of %s ---\n' "$run/$name.log" >&2
      tail -n 25 "$run/$name.log" >&2 2>/dev/null || true
    done
  fi
  stop_services
  exit $status
}
trap on_exit EXIT
trap 'exit 130' INT TERM

for program in catalog basket; do
  [ -x "$bin/$program" ] || die "$bin/$program is missing: build it first (make demo builds it; by hand: cd Samples && swift build --scratch-path ../.build --product $program)"
done
command -v curl >/dev/null || die "curl is not installed"
ports=("$catalog_port" "$basket_port")
if [ "$webhook" = auto ]; then
  if [ -x "$bin/eventbus-gateway" ] && command -v python3 >/dev/null; then webhook=1; else webhook=0; fi
fi
if [ "$webhook" = 1 ]; then
  [ -x "$bin/eventbus-gateway" ] || die "$bin/eventbus-gateway is missing: build it first (make demo builds it; by hand: cd Gateway && swift build --scratch-path ../.build --product eventbus-gateway), or set DEMO_WEBHOOK=0"
  command -v python3 >/dev/null || die "python3 is not installed (the webhook receiver is a Python script); install it or set DEMO_WEBHOOK=0"
  ports+=("$gateway_port" "$receiver_port")
fi
for port in "${ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use (another demo still running?); set CATALOG_PORT / BASKET_PORT, or DEMO_WEBHOOK=0 for 5180 / 5190"
  fi
done

# A fresh run: new SQLite files, and nothing left in the demo queue by an interrupted earlier run.
rm -rf "$run"
mkdir -p "$run"
"$root/scripts/broker.sh" ctl purge_queue "$basket_queue" >/dev/null 2>&1 || true
[ "$webhook" = 1 ] && { "$root/scripts/broker.sh" ctl purge_queue "$webhook_queue" >/dev/null 2>&1 || true; }

start_service() {
  local name="$1" port="$2"
  SERVICE_NAME="$name" PORT="$port" HOST=127.0.0.1 DATABASE_URL="$run/$name.sqlite" \
    EVENTBUS_EXCHANGE="$exchange" EVENTBUS_QUEUE="demo.$name" LOG_LEVEL="${LOG_LEVEL:-info}" \
    "$bin/$name" >"$run/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  local deadline=$((SECONDS + ${DEMO_START_TIMEOUT:-60})) health=""
  until health="$(curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null)"; do
    kill -0 "${pids[-1]}" 2>/dev/null || die "$name exited during start-up (log: $run/$name.log)"
    [ $SECONDS -lt $deadline ] || die "$name did not report healthy within ${DEMO_START_TIMEOUT:-60} s: $(curl -sS "http://127.0.0.1:$port/health" 2>&1) (log: $run/$name.log)"
    sleep 0.2
  done
  note "GET /health → $health"
}

say "Starting Basket on $BASKET_URL (SQLite $run/basket.sqlite); it binds queue '$basket_queue' to '$exchange'"
start_service basket "$basket_port"

say "Starting Catalog on $CATALOG_URL (SQLite $run/catalog.sqlite, twelve seeded items)"
start_service catalog "$catalog_port"

if [ "$webhook" = 1 ]; then
  say "Starting the webhook receiver on 127.0.0.1:$receiver_port and eventbus-gateway on 127.0.0.1:$gateway_port"
  note "subscription 'price-hook': ProductPriceChangedIntegrationEvent → http://127.0.0.1:$receiver_port/hook (queue '$webhook_queue')"
  python3 "$root/Samples/Webhooks/webhook_receiver.py" "$receiver_port" >"$run/receiver.log" 2>&1 &
  pids+=($!)
  names+=(receiver)
  demo_key="demo-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  EVENTBUS_GATEWAY_KEYS="$demo_key" EVENTBUS_GATEWAY_SQLITE_PATH="$run/gateway.sqlite" "$bin/eventbus-gateway" --config "$root/Samples/Webhooks/demo-gateway.json" >"$run/gateway.log" 2>&1 &
  pids+=($!)
  names+=(gateway)
  deadline=$((SECONDS + ${DEMO_START_TIMEOUT:-60}))
  # Validated (the receiver echoed the handshake) and consumed (so its queue is bound before the price changes).
  until curl -fsS -H "aeg-sas-key: $demo_key" "http://127.0.0.1:$gateway_port/api/subscriptions/price-hook" 2>/dev/null | grep -q '"Succeeded"' \
      && "$root/scripts/broker.sh" ctl list_queues name consumers 2>/dev/null | grep -Eq "^$webhook_queue[[:space:]]+[1-9]"; do
    kill -0 "${pids[-1]}" 2>/dev/null || die "eventbus-gateway exited during start-up (log: $run/gateway.log)"
    [ $SECONDS -lt $deadline ] || die "the gateway's subscription was not validated and consumed within ${DEMO_START_TIMEOUT:-60} s (logs: $run/gateway.log, $run/receiver.log)"
    sleep 0.3
  done
  note "receiver: $(grep -m1 'validation handshake answered' "$run/receiver.log" || echo 'validated')"
fi

say "Catalog item 1: GET /api/v1/catalog/items/1"
item="$(curl -fsS "$CATALOG_URL/api/v1/catalog/items/1")" || die "could not read catalog item 1"
echo "$item" | pretty | sed 's/^/    /'
name="$(sed -n 's/.*"name":"\([^"]*\)".*/\1/p' <<<"$item")"
old_price="$(sed -n 's/.*"price":\([0-9.]*\).*/\1/p' <<<"$item")"
[ -n "$old_price" ] || die "catalog item 1 has no price: $item"
new_price="17.25"
[ "$old_price" != "$new_price" ] || new_price="19.5"

say "Buyer $buyer puts item 1 in a basket: POST /api/v1/basket"
basket_body="{\"buyerId\":\"$buyer\",\"items\":[{\"id\":\"line-1\",\"productId\":1,\"productName\":\"$name\",\"unitPrice\":$old_price,\"quantity\":2}]}"
curl -fsS -X POST -H 'content-type: application/json' -d "$basket_body" "$BASKET_URL/api/v1/basket" | pretty | sed 's/^/    /' \
  || die "could not create the basket"

say "Catalog changes the price of item 1 from $old_price to $new_price: PUT /api/v1/catalog/items"
note "item and ProductPriceChangedIntegrationEvent are saved in one transaction, then the event is published"
started=$(date +%s%N)
curl -fsS -X PUT -H 'content-type: application/json' -d "{\"id\":1,\"price\":$new_price}" "$CATALOG_URL/api/v1/catalog/items" \
  | pretty | sed 's/^/    /' || die "could not change the price"
event_line="$(grep -m1 'price changed' "$run/catalog.log" || true)"
[ -z "$event_line" ] || note "catalog log: $event_line"

say "Waiting for Basket to apply the event: polling GET /api/v1/basket/$buyer"
deadline=$((SECONDS + 30))
until basket="$(curl -fsS "$BASKET_URL/api/v1/basket/$buyer")" && grep -q "\"unitPrice\":$new_price[,}]" <<<"$basket"; do
  [ $SECONDS -lt $deadline ] || die "the basket did not show the new price within 30 s; last answer: ${basket:-none}"
  sleep 0.1
done
arrival_ms=$(( ($(date +%s%N) - started) / 1000000 ))
note "the basket showed the new price $arrival_ms ms after the PUT was sent"
handled_line="$(grep -m1 'price change applied' "$run/basket.log" || true)"
[ -z "$handled_line" ] || note "basket log: $handled_line"

if [ "$webhook" = 1 ]; then
  say "Waiting for the webhook receiver to print the event (delivered by the gateway's subscription 'price-hook')"
  deadline=$((SECONDS + 30))
  until received="$(grep -m1 'ProductPriceChangedIntegrationEvent' "$run/receiver.log")"; do
    [ $SECONDS -lt $deadline ] || die "the webhook receiver did not get the price change within 30 s (logs: $run/gateway.log, $run/receiver.log)"
    sleep 0.1
  done
  note "$received"
fi

say "The basket of $buyer now: GET /api/v1/basket/$buyer"
echo "$basket" | pretty | sed 's/^/    /'

say "The basket page: GET /basket/$buyer"
page="$(curl -fsS "$BASKET_URL/basket/$buyer")" || die "could not load the basket page"
alert="$(sed -n 's/.*<p class="alert" role="alert">\(.*\)<\/p>.*/\1/p' <<<"$page" | head -n 1)"
[ -n "$alert" ] || die "the basket page shows no price alert"
note "alert: $alert"

say "Bus metrics (GET /metrics)"
curl -fsS "$CATALOG_URL/metrics" | grep -E '^eventbus_(published|confirmed)_total' | sort | sed 's/^/    catalog: /' || true
curl -fsS "$BASKET_URL/metrics" | grep -E '^(eventbus_(handled|duplicates|dead_lettered)_total|basket_price_changes_total)' \
  | sort | sed 's/^/    basket:  /' || true

if [ -n "${DEMO_THEN:-}" ]; then
  say "Running: $DEMO_THEN"
  bash -c "$DEMO_THEN" || die "'$DEMO_THEN' failed"
fi

say "Stopping ${names[*]} (SIGTERM)"
stop_services
note "stopped; logs are in $run"
if [ "$webhook" = 1 ]; then
  printf '\ndemo: OK: the price change travelled from Catalog to Basket in %d ms; the basket shows it, and the webhook receiver printed it\n' "$arrival_ms"
else
  printf '\ndemo: OK: the price change travelled from Catalog to Basket in %d ms; the basket shows it\n' "$arrival_ms"
fi
