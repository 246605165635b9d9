"""The faults, one per ledger row. Each inject() returns when the fault is over (the broker answers again, the
killed service is healthy again, the alarm is cleared); the harness measures recovery from there."""

import json
import re
import time

import amqp_raw
from harness import HarnessError, log


class Scenario:
    def __init__(self, name, store, description, inject=None, evidence=None):
        self.name, self.store, self.description = name, store, description
        self.inject = inject
        self.scenario = name
        if evidence:
            self.evidence = evidence


# --- 1. broker restart ---------------------------------------------------------------------------------------------

def broker_restart(harness, ctx):
    harness.broker("stop", timeout=90)
    log("broker stopped; starting it again")
    harness.broker("start", timeout=150)


# --- 2. connections closed by the broker ---------------------------------------------------------------------------

def close_connection(connection_name):
    def inject(harness, ctx):
        pids = []
        deadline = time.monotonic() + 10
        while not pids and time.monotonic() < deadline:
            pids = harness.connection_pids(connection_name)
            if not pids:
                time.sleep(0.5)
        if not pids:
            raise HarnessError("no connection named %s on the broker" % connection_name)
        for pid in pids:
            harness.ctl("close_connection", pid, "fault harness: closing %s" % connection_name, check=False)
        ctx.note("closed %d connection(s) named %s" % (len(pids), connection_name))
        # Over when the service has connected again under the same name.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            again = [pid for pid in harness.connection_pids(connection_name) if pid not in pids]
            if again:
                return
            time.sleep(0.2)
        raise HarnessError("%s did not reconnect within 60 s" % connection_name)
    return inject


# --- 3. SIGKILL of Basket ------------------------------------------------------------------------------------------

def basket_through_proxy(harness, ctx):
    """Basket reaches the broker through the proxy (Catalog directly), so its acks can be held back."""
    from proxy import FaultProxy
    ctx.proxy = FaultProxy(harness.http_port + 2, harness.broker_port)
    return ctx.broker_url, "amqp://guest:guest@127.0.0.1:%d/" % (harness.http_port + 2)


def kill_basket(harness, ctx):
    # Basket's traffic to the broker is held for a second first: it goes on applying and committing what it has
    # prefetched while none of its acks arrive, so the kill lands between effect and ack for all of those.
    ctx.proxy.set_mode("stall-up")
    time.sleep(1.0)
    processed = len(harness.processed_ids(ctx))
    ctx.basket.kill()
    ctx.proxy.restore()
    unacked = sum(harness.queue_depths(ctx.queue).values())
    ctx.note("Basket killed (SIGKILL) after 1 s with its acks held back, %d events processed; %d messages waiting "
             "or unacknowledged in its queue" % (processed, unacked))
    time.sleep(1.0)
    ctx.basket.start()


# --- 4. SIGKILL of Catalog between commit and publish --------------------------------------------------------------

def kill_catalog(harness, ctx):
    # A memory alarm blocks the publishing connection, so that PUTs keep committing while their publishes wait:
    # the kill then lands between commit and publish for every request in flight, not by luck.
    harness.ctl("set_vm_memory_high_watermark", "0.0000001")
    try:
        wait_alarm(harness, "memory", True, 40)
        time.sleep(2.0)
        ctx.catalog.kill()
    finally:
        harness.ctl("set_vm_memory_high_watermark", "0.4")
    pending = harness.outbox_pending(ctx)
    states = ctx.catalog_store.query("SELECT state, count(*) FROM integration_event_log GROUP BY state ORDER BY state")
    ctx.note("Catalog killed (SIGKILL) while a memory alarm held its publishes: %d outbox rows committed but not "
             "confirmed (%s)" % (pending, ", ".join("%s %s" % (s, n) for s, n in states)))
    wait_alarm(harness, "memory", False, 40)
    ctx.catalog.start()


# --- 11. poison messages -------------------------------------------------------------------------------------------

POISON_TYPE = "ProductPriceChangedIntegrationEvent"


def hostile_headers():
    nested = ("F", [])
    for _ in range(40):
        nested = ("F", [("n", nested)])
    return [
        ("x-delivery-attempts", ("l", 2 ** 62)),
        ("x-first-death-time", ("T", 2 ** 64 - 1)),
        ("cloudEvents_time", ("T", 2 ** 64 - 2)),
        ("cloudEvents_type", ("S", POISON_TYPE)),
        ("cloudEvents_id", ("S", "x" * 255)),
        ("x-death", ("A", [("F", [("count", ("l", -1)), ("time", ("T", 2 ** 63))])] * 3)),
        ("deep", nested),
        ("x-delivery-attempts", ("d", 1e308)),
        ("binary", ("x", bytes(range(256)))),
        ("nothing", ("V", None)),
    ]


def poison(harness, ctx):
    connection = amqp_raw.Connection("127.0.0.1", harness.broker_port)
    try:
        sent = []
        # Hostile headers on a body that is not an event.
        sent.append(connection.publish(ctx.queue, b'{"Id": "not-a-uuid", "ProductId": "one"',
                                       headers=hostile_headers(), message_id="poison-headers", type_name=POISON_TYPE))
        # A body over the bus's 1 MiB limit.
        big = json.dumps({"Id": "00000000-0000-0000-0000-00000000b16b", "ProductId": 1, "NewPrice": 1, "OldPrice": 2,
                          "Padding": "p" * (2 * 1024 * 1024)}).encode()
        sent.append(connection.publish(ctx.queue, big, message_id="poison-oversized", type_name=POISON_TYPE))
        # Invalid JSON (and invalid UTF-8).
        sent.append(connection.publish(ctx.queue, b"\xff\xfe{not json at all",
                                       message_id="poison-invalid-json", type_name=POISON_TYPE))
    finally:
        connection.close()
    if not all(sent):
        raise HarnessError("the broker did not confirm the poison messages: %s" % sent)
    ctx.note("published 3 poison messages into %s mid-stream (hostile headers, 2 MiB body, invalid JSON); "
             "expected: 3 dead-lettered, the stream unaffected" % ctx.queue)


def poison_evidence(harness, ctx):
    dead = harness.queue_depths(ctx.queue + ".dead-letter").get(ctx.queue + ".dead-letter", 0)
    if dead != 3:
        ctx.note("expected 3 dead letters, found %d" % dead)


# --- 5. failing handlers -------------------------------------------------------------------------------------------

# Short retry delays for the ledger (Event Grid's 10 s, 30 s, ... would outlast the row); the last one repeats, so an
# event that always fails uses its 30 attempts in about 3 s and is dead-lettered.
RETRY_DELAYS_MS = "20,50,100"
FAIL_EVERY = 10
FAIL_PRODUCT = 7


def handler_retry_evidence(harness, ctx):
    """Every tenth new event failed once: the retries Basket scheduled, and nothing dead-lettered."""
    text = open(ctx.basket.log_path, errors="replace").read()
    injected = text.count("injected failure: new event")
    retried = len(re.findall(r"attempt=([2-9]|\d\d+) .*price change (applied|unmatched|stale)", text))
    committed = len(harness.committed_ids(ctx))
    ctx.note("BASKET_FAIL_EVERY=%d, retry delays %s ms: %d first attempts failed on purpose (about 1 in %d of %d "
             "committed); %d events applied on a later attempt" % (
                 FAIL_EVERY, RETRY_DELAYS_MS, injected, FAIL_EVERY, committed, retried))
    if injected < committed // FAIL_EVERY // 2:
        ctx.note("expected about %d injected failures, saw %d" % (committed // FAIL_EVERY, injected))


def poison_product_evidence(harness, ctx):
    """Product 7's events are all in the dead-letter queue with MaxDeliveryAttemptsExceeded, none applied; the
    other products are untouched (the ledger checks their final prices and counts)."""
    products = harness.committed_products(ctx)
    failing = {i for i, p in products.items() if p == FAIL_PRODUCT}
    letters = {letter["message_id"]: letter for letter in harness.dead_letters(ctx)}
    reasons = {letters[i]["reason"] for i in failing if i in letters}
    missing = failing - set(letters)
    applied = failing & set(harness.effect_counts(ctx))
    others = {i for i in letters if products.get(i, FAIL_PRODUCT) != FAIL_PRODUCT}
    ctx.note("BASKET_FAIL_PRODUCT=%d, retry delays %s ms: %d of its %d committed events dead-lettered (%s), %d "
             "applied, %d other products' events dead-lettered" % (
                 FAIL_PRODUCT, RETRY_DELAYS_MS, len(failing) - len(missing), len(failing),
                 ", ".join(sorted(reasons)) or "no reason", len(applied), len(others)))
    if missing or applied or others or reasons != {"MaxDeliveryAttemptsExceeded"}:
        ctx.note("expected every product %d event dead-lettered with MaxDeliveryAttemptsExceeded and nothing else" %
                 FAIL_PRODUCT)


# --- 6. broker resource alarms ------------------------------------------------------------------------------------

def alarms(harness):
    return harness.ctl("eval", "rabbit_alarm:get_alarms().", timeout=30, check=False)


def wait_alarm(harness, resource, present, bound):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if (resource in alarms(harness)) == present:
            return True
        time.sleep(0.5)
    raise HarnessError("the %s alarm was %s after %d s" % (resource, "not raised" if present else "still set", bound))


def alarm(resource, raise_args, clear_args, hold=6.0):
    def inject(harness, ctx):
        harness.ctl(*raise_args)
        wait_alarm(harness, resource, True, 40)
        raised = time.monotonic()
        ctx.note("%s alarm raised (%s) and held %.0f s" % (resource, " ".join(raise_args), hold))
        time.sleep(max(0.0, raised + hold - time.monotonic()))
        harness.ctl(*clear_args)
        wait_alarm(harness, resource, False, 40)
    return inject


def clear_alarms(harness, ctx):
    harness.ctl("set_vm_memory_high_watermark", "0.4", check=False)
    harness.ctl("set_disk_free_limit", "50MB", check=False)


# --- 7. SQLite disk full for the consumer --------------------------------------------------------------------------

def basket_on_small_disk(harness, ctx):
    """Basket's SQLite file lives on a 64 MiB tmpfs of its own (mounting needs root), which the fault fills."""
    import os
    import subprocess
    from harness import Store
    ctx.mount = os.path.join(ctx.dir, "basket-disk")
    os.makedirs(ctx.mount, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", ctx.mount], capture_output=True,
                            text=True)
    if result.returncode != 0:
        ctx.mount = None
        raise HarnessError("cannot mount a small tmpfs for Basket's database (needs root): %s" % result.stderr.strip())
    ctx.basket_store = Store("sqlite", os.path.join(ctx.mount, "basket.sqlite"))
    return ctx.broker_url, ctx.broker_url


def fill_disk(harness, ctx):
    import os
    ballast = os.path.join(ctx.mount, "ballast")
    written = 0
    with open(ballast, "wb") as handle:
        chunk = b"\0" * (256 * 1024)
        try:
            while True:
                handle.write(chunk)
                handle.flush()
                written += len(chunk)
        except OSError:
            pass
    ctx.note("Basket's file system filled (%d MiB of ballast, writes fail with ENOSPC) for 5 s" % (written >> 20))
    time.sleep(5.0)
    os.remove(ballast)


def unmount(harness, ctx):
    import subprocess
    if getattr(ctx, "mount", None):
        subprocess.run(["umount", "-l", ctx.mount], capture_output=True)
        ctx.mount = None


# --- 8. PostgreSQL restart -----------------------------------------------------------------------------------------

def postgres_restart(harness, ctx):
    harness.postgres("restart")


# --- 10. a bad network: the fault proxy ----------------------------------------------------------------------------

def through_proxy(harness, ctx):
    """Both services reach the broker through the proxy, with 5 s heartbeats so a stalled connection is noticed."""
    from proxy import FaultProxy
    ctx.proxy = FaultProxy(harness.http_port + 2, harness.broker_port)
    url = "amqp://guest:guest@127.0.0.1:%d/?heartbeat=5" % (harness.http_port + 2)
    return url, url


def stop_proxy(harness, ctx):
    if getattr(ctx, "proxy", None):
        ctx.proxy.stop()
        ctx.proxy = None


def proxy_fault(mode, hold):
    def inject(harness, ctx):
        before = ctx.proxy.connections()
        affected = ctx.proxy.set_mode(mode)
        if mode == "cut":
            # Over when as many connections are open again as before (the services reconnected).
            deadline = time.monotonic() + 60
            time.sleep(0.5)
            ctx.proxy.restore()
            while ctx.proxy.connections() < before and time.monotonic() < deadline:
                time.sleep(0.2)
            ctx.note("cut %d connections mid-frame; %d open again" % (affected, ctx.proxy.connections()))
            return
        time.sleep(hold)
        closed = ctx.proxy.restore()
        ctx.note("%s on %d connections for %.0f s%s" % (
            mode, affected, hold, "; %d closed at the end" % closed if closed else ""))
    return inject


SCENARIOS = [
    Scenario("baseline", "sqlite", "none"),
    Scenario("baseline", "postgres", "none"),
    Scenario("broker-restart", "sqlite", "stop the broker and start it again", broker_restart),
    Scenario("broker-restart", "postgres", "stop the broker and start it again", broker_restart),
    Scenario("close-publisher", "sqlite", "rabbitmqctl close_connection catalog-publisher",
             close_connection("catalog-publisher")),
    Scenario("close-consumer", "sqlite", "rabbitmqctl close_connection basket-consumer",
             close_connection("basket-consumer")),
    Scenario("kill-basket", "sqlite", "SIGKILL Basket mid-stream, then start it again", kill_basket),
    Scenario("kill-basket", "postgres", "SIGKILL Basket mid-stream, then start it again", kill_basket),
    Scenario("kill-catalog", "sqlite", "SIGKILL Catalog mid-stream (commits not yet published), then start it again",
             kill_catalog),
    Scenario("poison", "sqlite", "three poison messages into Basket's queue", poison, poison_evidence),
    Scenario("handler-retry", "sqlite", "Basket's handler fails the first attempt of every 10th event",
             evidence=handler_retry_evidence),
    Scenario("handler-retry", "postgres", "Basket's handler fails the first attempt of every 10th event",
             evidence=handler_retry_evidence),
    Scenario("handler-poison-product", "sqlite", "Basket's handler fails every attempt for product 7",
             evidence=poison_product_evidence),
    # Stage 2.
    Scenario("memory-alarm", "sqlite", "set_vm_memory_high_watermark 0.0000001, then 0.4",
             alarm("memory", ["set_vm_memory_high_watermark", "0.0000001"], ["set_vm_memory_high_watermark", "0.4"])),
    Scenario("disk-alarm", "sqlite", "set_disk_free_limit 100000GB, then 50MB",
             alarm("disk", ["set_disk_free_limit", "100000GB"], ["set_disk_free_limit", "50MB"])),
    Scenario("disk-full", "sqlite", "Basket's SQLite file system full for 5 s, then space freed", fill_disk),
    Scenario("postgres-restart", "postgres", "restart PostgreSQL under both services", postgres_restart),
    Scenario("proxy-latency", "sqlite", "50 ms each way on every broker connection for 10 s", proxy_fault("latency", 10)),
    Scenario("proxy-stall", "sqlite", "broker-to-client traffic stalled on open connections for 15 s (sockets stay open)",
             proxy_fault("stall", 15)),
    Scenario("proxy-cut", "sqlite", "every broker connection dropped mid-frame", proxy_fault("cut", 0)),
    Scenario("proxy-blackhole", "sqlite", "everything black-holed for 10 s, then those connections closed",
             proxy_fault("blackhole", 10)),
]

for _scenario in SCENARIOS:
    if _scenario.name.endswith("-alarm"):
        _scenario.cleanup = clear_alarms
    if _scenario.name == "disk-full":
        _scenario.prepare = basket_on_small_disk
        _scenario.cleanup = unmount
    if _scenario.name == "kill-basket":
        _scenario.prepare = basket_through_proxy
        _scenario.cleanup = stop_proxy
    if _scenario.name == "handler-retry":
        _scenario.basket_env = {"BASKET_FAIL_EVERY": str(FAIL_EVERY), "BASKET_RETRY_DELAYS_MS": RETRY_DELAYS_MS}
    if _scenario.name == "handler-poison-product":
        _scenario.basket_env = {"BASKET_FAIL_PRODUCT": str(FAIL_PRODUCT), "BASKET_RETRY_DELAYS_MS": RETRY_DELAYS_MS}
        _scenario.fail_product = FAIL_PRODUCT
    if _scenario.name.startswith("proxy-"):
        _scenario.prepare = through_proxy
        _scenario.cleanup = stop_proxy
