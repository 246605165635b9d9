#!/usr/bin/env bash
# Prints one closing line for a `swift test` log: "tests: N passed, M failed" (Swift Testing's per-test lines).
log="${1:?usage: test-summary.sh LOG}"
passed=$(grep -E '✔ Test .* passed after' "$log" | grep -cv 'Test run with' || true)
failed=$(grep -E '✘ Test .* failed after' "$log" | grep -cv 'Test run with' || true)
echo "tests: ${passed} passed, ${failed} failed"
