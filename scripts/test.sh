#!/usr/bin/env bash
# Runs the tests of the library (the root package), Gateway/ and Samples/, built beforehand into the root's .build
# (`make test` builds them), side by side against the servers scripts/with-services.sh started. Each package's test
# executable is run as `swift test --skip-build` runs it (Swift Testing, tests in parallel): three `swift test`
# processes cannot share one scratch directory at once (they contend for SwiftPM's build database). Each run's output
# goes to .run/test-<package>.log and is printed whole when the run ends; then one line per package and the total.
# Fails when any test failed or any run did not complete.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$root/.run"

# package:test bundle:how many of its tests run at once. Swift Testing would start every test at once: a few hundred
# tests connecting, declaring and starting services in the same second, on two cores, beside the broker, PostgreSQL
# and the cluster nodes that some tests start. The caps keep that first minute within what the servers can answer
# (the run takes no longer: most tests wait on the broker, and the longest suite bounds it).
packages=(library:EventBusPackageTests:24 gateway:EventBusGatewayPackageTests:8 samples:EventBusSamplesPackageTests:8)
for entry in "${packages[@]}"; do
  rest=${entry#*:} bundle="$root/.build/debug/${rest%%:*}.xctest"
  [ -x "$bundle" ] || { echo "FATAL: $bundle is missing: build first (make test does)" >&2; exit 1; }
done
pids=()
for entry in "${packages[@]}"; do
  name=${entry%%:*} rest=${entry#*:}
  bundle="$root/.build/debug/${rest%%:*}.xctest" width=${rest##*:}
  (cd "$root" && NO_COLOR=1 "$bundle" --testing-library swift-testing --experimental-maximum-parallelization-width "$width") \
    > "$root/.run/test-$name.log" 2>&1 &
  pids+=($!)
done

status=0
summary=()
for index in "${!packages[@]}"; do
  name=${packages[$index]%%:*}
  wait "${pids[$index]}"; code=$?
  log="$root/.run/test-$name.log"
  echo "===== $name tests (exit $code) ====="
  cat "$log"
  line=$("$root/scripts/test-summary.sh" "$log")
  # A run that ended without Swift Testing's closing line (a crash, a hang cut short) fails even with no ✘ line.
  if [ $code -ne 0 ] || ! grep -qE '(✔|✘) Test run with [0-9]+ tests?' "$log"; then status=1; fi
  summary+=("$name: ${line#tests: } (exit $code)")
done
cat "$root"/.run/test-{library,gateway,samples}.log > "$root/.run/test.log"
echo "===== summary ====="
printf '%s\n' "${summary[@]}"
"$root/scripts/test-summary.sh" "$root/.run/test.log"
exit $status
