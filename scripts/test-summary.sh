#!/usr/bin/env bash
# Prints one closing line for a `swift test` log: "tests: N passed, M failed" (Swift Testing's per-test lines).
log="${1:?usage: test-summary.sh LOG}"
passed=$(grep -cE '✔ Test .* passed after' "$log" || true)
failed=$(grep -cE '✘ Test .* failed after' "$log" || true)
echo "tests: ${passed} passed, ${failed} failed"
