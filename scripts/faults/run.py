#!/usr/bin/env python3
"""`make faults`: the fault ledger. Runs the real Catalog and Basket executables against a private broker (and a
private PostgreSQL where a row needs it), drives price changes through Catalog's HTTP API, injects one fault per
scenario, waits for quiescence and checks that every event committed in Catalog's outbox was applied exactly once
in Basket. Prints one table and writes docs/FAULTS.md; exits 1 when any row lost or doubled an event.

Environment: FAULTS=name,name (a subset: a scenario's name, or name/store), FAULTS_RATE (price changes/s, 250), FAULTS_SECONDS (drive
time per scenario, 20), FAULTS_CONNECTIONS (16), FAULTS_BROKER_PORT (5790), FAULTS_POSTGRES_PORT (5795),
FAULTS_HTTP_PORT (5796: Catalog, +1: Basket, +2/+3: the fault proxy), FAULTS_CLUSTER_PORT (5711: the cluster rows'
nodes on it and the two ports after it), BIN_DIR (.build/debug),
FAULTS_OUTPUT (docs/FAULTS.md; empty: do not write). Builds nothing: `make faults` builds first.
"""

import datetime
import os
import platform
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Harness, HarnessError  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402
from scenarios_cluster import CLUSTER_SCENARIOS  # noqa: E402 - issue 17's scenario 9

SCENARIOS = SCENARIOS + CLUSTER_SCENARIOS

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def git(*args):
    import subprocess
    try:
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def render(rows, started, elapsed, settings):
    header = ("| scenario | store | committed | applied once | lost | applied twice | dead-lettered | "
              "recovery s (fault end → quiescent) |")
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        recovery = "—" if row["recovery"] is None else "%.1f" % row["recovery"]
        lines.append("| %s | %s | %d | %d | %d | %d | %d | %s |" % (
            row["scenario"], row["store"], row["committed"], row["applied_once"], row["lost"], row["applied_twice"],
            row["dead_lettered"], recovery))
    table = "\n".join(lines)
    notes = []
    for row in rows:
        for note in row["notes"]:
            notes.append("- **%s / %s**: %s" % (row["scenario"], row["store"], note))
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    meta = ("Run %s UTC, commit %s%s, on %s (%s, %d cores, Python %s); %s; the whole run took %.0f s." % (
        started.strftime("%Y-%m-%d %H:%M"), git("rev-parse", "--short", "HEAD"), dirty, platform.node(),
        platform.platform(terse=True), os.cpu_count() or 0, platform.python_version(), settings, elapsed))
    return table, notes, meta


DOC_HEAD = """# Fault ledger (`make faults`)

Each row runs the real `catalog` and `basket` executables (debug build) against a private RabbitMQ (and a private
PostgreSQL for the PostgreSQL rows), each service with its own database. Thirty-two products sit in ten baskets;
sixteen keep-alive HTTP connections change prices through `PUT /api/v1/catalog/items` at a steady rate (each product
on one connection, prices only rising) while the scenario's fault is injected. Then the harness waits until nothing
is pending in Catalog's outbox, nothing waits in any queue and Basket's processed count is stable, and checks:

- **committed**: events in Catalog's outbox (`integration_event_log`): exactly the price changes whose transaction
  committed, whether or not the HTTP caller saw the answer.
- **applied once**: committed events with exactly one row in Basket's `basket_price_change_effects`. Basket writes
  that row in the transaction that updates the baskets and records the id in `processed_messages`, and the table has
  no unique key, so an effect committed twice would be two rows: the count is read from the database, not from logs.
- **lost**: committed events with no effect row that are not in the dead-letter queue either, plus any product whose
  basket lines and known price do not end at Catalog's final price (products whose events were dead-lettered
  excepted).
- **applied twice**: committed events with more than one effect row (or applied and dead-lettered). The basket's rule
  is idempotent, so the final prices cannot show a double: the effect rows can.
- **dead-lettered**: messages in the Basket queue's dead-letter queue at the end, read with the reason the bus wrote
  (`x-dead-letter-reason`, `x-last-error`; the notes count them per reason). A committed event found there is
  accounted for, not lost: the poison row puts three non-events there, the poison-product row every event of product 7.
- **recovery s**: from the end of the fault (the broker answers again, the killed service is healthy again, the alarm
  is cleared) until every event committed before that moment is applied in Basket. For the baseline it is measured
  from the middle of the drive, so it shows the normal lag.

The offered load is 250 price changes/s; a note says when fewer were accepted. While the broker is away, blocked or
unreachable, each `PUT` waits for its confirm up to Catalog's `publishTimeout` (5 s) before leaving the event to the
outbox relay, so sixteen connections commit fewer changes per second during the fault: that dip is the sample's
design (the answer waits for the broker, the event never waits for the answer), not the harness.

On PostgreSQL, Basket (one transaction and commit per event, one handler at a time, debug build) applies fewer events
per second than Catalog commits (each row's note gives the median): its queue grows during every PostgreSQL row, so
their recovery times are mostly that backlog draining; `baseline / postgres` shows the lag with no fault at all.

A row with lost > 0 or applied twice > 0 makes `make faults` fail.

What the rows show a user should expect: a broker restart or a closed connection costs seconds (reconnection with
back-off, then the outbox relay resends what was not confirmed); a killed Basket redelivers what it had applied but
not acknowledged, and the processed-id check drops those copies; a killed Catalog's committed but unconfirmed events
wait for the relay's `staleAfter` (60 s) and then go out, so recovery there is about a minute; a handler that cannot
write (PostgreSQL restarting, the disk full) is retried after the first retry delay (10 s); poison ends in the
dead-letter queue with its reason; a stalled or black-holed connection is given up after two missed heartbeats; a
handler that fails once (`handler-retry`: Basket's `BASKET_FAIL_EVERY=10`, retries after 20, 50, 100 ms) is applied
once on its retry, and one that always fails (`handler-poison-product`: `BASKET_FAIL_PRODUCT=7`) ends after its 30
attempts in the dead-letter queue with `MaxDeliveryAttemptsExceeded` while every other product goes on. Those two
rows inject from the start, so their recovery is measured from the middle of the drive, as the baseline's.

The two `cluster-` rows run both services with quorum queues (`EVENTBUS_QUEUE_TYPE=quorum`) and every node's address
in `EVENTBUS_URL` (heartbeat 5 s) on a three-node cluster of their own, started for the row: `cluster-kill-node` on
scripts/cluster.sh's loopback cluster (ports 5711-5713), SIGKILL of node 1, the services' node and their queues'
leader, then node 1 started again; `cluster-partition` with each node in its own network namespace on a veth pair to
a bridge (`cluster_partition_handling = pause_minority`, `net_ticktime = 10`), the link to node 1 down for 30 s: node 1
pauses itself, the others elect new leaders, the services move to node 2 once heartbeats find the link dead. Their
recovery is measured from the services' reconnection (kill) or the link's return (partition); a note gives how long
after the fault began every event committed before it was applied.

Notes under the table give the evidence each fault produced (rows pending in the outbox at a kill, duplicates
suppressed, ...).

"""


def main():
    wanted = [name.strip() for name in os.environ.get("FAULTS", "").split(",") if name.strip()]
    known = sorted({s.name for s in SCENARIOS} | {"%s/%s" % (s.name, s.store) for s in SCENARIOS})
    unknown = [name for name in wanted if name not in known]
    if unknown:
        print("faults: unknown scenario(s) %s; known: %s" % (", ".join(unknown), ", ".join(known)), file=sys.stderr)
        return 2
    chosen = [s for s in SCENARIOS if not wanted or s.name in wanted or "%s/%s" % (s.name, s.store) in wanted]
    bin_dir = os.environ.get("BIN_DIR", os.path.join(ROOT, ".build", "debug"))
    for program in ("catalog", "basket"):
        if not os.access(os.path.join(bin_dir, program), os.X_OK):
            print("faults: %s/%s is missing: run `make faults` (it builds first)" % (bin_dir, program), file=sys.stderr)
            return 2
    # Run copies: a build in the same tree while the ledger runs would relink the binaries under the services.
    copies = os.path.join(ROOT, ".run", "faults", "bin")
    os.makedirs(copies, exist_ok=True)
    for program in ("catalog", "basket"):
        shutil.copy2(os.path.join(bin_dir, program), os.path.join(copies, program + ".tmp"))
        os.replace(os.path.join(copies, program + ".tmp"), os.path.join(copies, program))
    bin_dir = copies
    import selftest
    if selftest.main() != 0:
        return 1
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.monotonic()
    harness = Harness(ROOT, bin_dir)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    rows = []
    try:
        harness.start_broker()
        if any(s.store == "postgres" for s in chosen):
            harness.start_postgres()
        for scenario in chosen:
            print("\n==> %s / %s" % (scenario.name, scenario.store), flush=True)
            row_clock = time.monotonic()
            try:
                row = harness.run(scenario)
            except HarnessError as error:
                row = harness.failed_row(scenario, str(error))
            rows.append(row)
            print("    committed %d, applied once %d, lost %d, applied twice %d, dead-lettered %d, recovery %s" % (
                row["committed"], row["applied_once"], row["lost"], row["applied_twice"], row["dead_lettered"],
                "—" if row["recovery"] is None else "%.1f s" % row["recovery"]), flush=True)
            print("    row took %.0f s" % (time.monotonic() - row_clock), flush=True)
    except KeyboardInterrupt:
        print("\nfaults: interrupted", file=sys.stderr)
        harness.stop_all()
        return 130
    finally:
        harness.stop_all()
    elapsed = time.monotonic() - clock
    settings = "%d price changes/s over %d connections, %d s per scenario" % (
        harness.rate, harness.connections, harness.seconds)
    table, notes, meta = render(rows, started, elapsed, settings)
    print("\n" + table)
    if notes:
        print("\n" + "\n".join(notes))
    print("\n" + meta)
    output = os.environ.get("FAULTS_OUTPUT", os.path.join(ROOT, "docs", "FAULTS.md"))
    if output:
        with open(output + ".tmp", "w") as handle:
            handle.write(DOC_HEAD + meta + "\n\n" + table + "\n")
            if notes:
                handle.write("\nNotes:\n\n" + "\n".join(notes) + "\n")
        shutil.move(output + ".tmp", output)
        print("faults: written to %s" % os.path.relpath(output, ROOT))
    bad = [row for row in rows if row["lost"] > 0 or row["applied_twice"] > 0 or row.get("failed")]
    if bad:
        print("faults: FAILED: %s" % ", ".join("%s/%s" % (r["scenario"], r["store"]) for r in bad), file=sys.stderr)
        return 1
    print("faults: OK: nothing lost, nothing applied twice in %d rows" % len(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
