#!/usr/bin/env bash
# Builds the DocC documentation of each library module with swift-docc-plugin, one module at a time, into
# .build/docs/<Module>.doccarchive, with docc's --warnings-as-errors (a broken ``link``, a missing snippet or a
# malformed doc comment fails). Then checks that each landing page curates every top-level public symbol: a symbol
# DocC had to place in a generated topic group is reported and fails the run. Logs in .run/docs/.
#
#   scripts/docs.sh                    # every module
#   DOCS_MODULES="EventBus AMQP" scripts/docs.sh
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

SWIFT=${SWIFT:-swift}
MODULES=${DOCS_MODULES:-"AMQP EventBus EventBusRabbitMQ EventBusSQLite EventBusPostgres EventBusGateway"}
OUT=.build/docs
LOGS=.run/docs
mkdir -p "$OUT" "$LOGS"

failed=()
total_warnings=0
for module in $MODULES; do
    log="$LOGS/$module.log"
    archive="$OUT/$module.doccarchive"
    rm -rf "$archive"
    echo "docs: $module"
    # EventBusGateway lives in the Gateway package (Gateway/), built into the same scratch directory.
    package_dir=.
    [ "$module" = EventBusGateway ] && package_dir=Gateway
    (cd "$package_dir" && $SWIFT package --scratch-path "$root/.build" --disable-sandbox generate-documentation \
        --target "$module" --output-path "$root/$archive" --warnings-as-errors) > "$log" 2>&1
    status=$?
    # docc's diagnostics (SwiftPM's notes about other packages' unhandled files are not ours).
    diagnostics=$(awk '
        /found [0-9]+ file\(s\) which are unhandled|invocation failed|NSCocoaErrorDomain/ { next }
        /(^|: )(warning|error):/ { if (pending) print pending; pending = $0; next }
        pending && /^ *--> / { sub(/^ *--> /, ""); print pending " (" $0 ")"; pending = ""; next }
        END { if (pending) print pending }
    ' "$log")
    count=0
    [ -n "$diagnostics" ] && count=$(printf '%s\n' "$diagnostics" | wc -l)
    total_warnings=$((total_warnings + count))
    if [ -n "$diagnostics" ]; then printf '%s\n' "$diagnostics" | sed 's/^/    /'; fi
    if [ $status -ne 0 ] || [ ! -d "$archive" ]; then
        echo "    $module: docc failed ($count diagnostics; log $log)"
        failed+=("$module")
        continue
    fi
    # Curation: the module page must have no topic group DocC generated itself.
    page="$archive/data/documentation/$(echo "$module" | tr '[:upper:]' '[:lower:]').json"
    if ! python3 - "$page" <<'EOF'
import json, sys
page = json.load(open(sys.argv[1]))
loose = [i.rsplit("/", 1)[-1] for s in page.get("topicSections", []) if s.get("generated") for i in s["identifiers"]]
if loose:
    print("    not curated on the landing page: " + ", ".join(sorted(loose)))
    sys.exit(1)
EOF
    then
        failed+=("$module")
        continue
    fi
    echo "    $module: OK ($archive)"
done

echo "docs: $total_warnings diagnostics"
if [ ${#failed[@]} -gt 0 ]; then
    echo "docs: failed: ${failed[*]}"
    exit 1
fi
echo "docs: every module built without warnings and with every top-level symbol curated"
