#!/usr/bin/env bash
# The demo flow checked in a real browser: runs scripts/demo.sh and, while both services are up, loads the basket
# page in headless Chromium, checks the price alert in the rendered page and saves a screenshot.
#   scripts/with-services.sh scripts/e2e.sh         (what `make e2e` runs, after building catalog and basket)
# Output: .run/e2e/basket.png (screenshot), .run/e2e/basket.html (rendered DOM), service logs in .run/e2e/.
# Installs Debian's chromium when it is missing (as root, or through sudo).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.run/e2e"

# Second half, run by demo.sh while the services are up (BASKET_URL is set by it).
if [ "${1:-}" = "--check-page" ]; then
  url="$BASKET_URL/basket/demo-buyer"
  browser="$(command -v chromium || command -v chromium-browser)"
  # --no-sandbox: Chromium refuses to run as root with its sandbox; the page is our own, on loopback.
  flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --hide-scrollbars
    --user-data-dir="$out/chromium-profile")
  echo "    chromium: loading $url"
  "$browser" "${flags[@]}" --dump-dom "$url" >"$out/basket.html" 2>"$out/chromium.log" \
    || { tail -n 20 "$out/chromium.log" >&2; echo "e2e: chromium could not load $url" >&2; exit 1; }
  expected="The price of .NET Bot Black Hoodie changed from 19.50 to 17.25"
  if ! grep -qF "$expected" "$out/basket.html"; then
    echo "e2e: the rendered page does not say '$expected'; see $out/basket.html" >&2
    exit 1
  fi
  echo "    rendered page says: $expected"
  "$browser" "${flags[@]}" --window-size=1000,640 --screenshot="$out/basket.png" "$url" >>"$out/chromium.log" 2>&1 \
    || { tail -n 20 "$out/chromium.log" >&2; echo "e2e: chromium could not take the screenshot" >&2; exit 1; }
  [ -s "$out/basket.png" ] || { echo "e2e: no screenshot was written" >&2; exit 1; }
  echo "    screenshot: $out/basket.png ($(stat -c %s "$out/basket.png") bytes)"
  exit 0
fi

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "e2e: installing Debian's chromium"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

rm -rf "$out"
mkdir -p "$out"
DEMO_RUN_DIR="$out" DEMO_THEN="'$root/scripts/e2e.sh' --check-page" "$root/scripts/demo.sh"
echo "e2e: OK: the basket page shows the price change in Chromium; screenshot $out/basket.png"
