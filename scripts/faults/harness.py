"""The fault harness's machinery: private servers, the two services, the price-change driver, quiescence and the
ledger. Scenarios (scenarios.py) only inject their fault through the methods here."""

import decimal
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request

PRODUCTS = 32          # the catalog seeds 12; the harness adds 13...32
BUYERS = 10            # each basket holds one line of every product
QUIESCE_TIMEOUT = 100  # s; a killed Catalog's InProgress rows wait for the relay's staleAfter (60 s)
OUTCOME_LINE = re.compile(r"event\.id=([0-9A-Fa-f-]{36}).*price change (applied|unmatched|stale|duplicate)")


class HarnessError(Exception):
    """A scenario could not run (a server did not start, a service did not become healthy...)."""


def log(message):
    print("    " + message, flush=True)


class Service:
    """One catalog or basket process; its log is appended across restarts."""

    def __init__(self, name, binary, port, env, log_path):
        self.name, self.binary, self.port, self.env, self.log_path = name, binary, port, env, log_path
        self.process = None

    def start(self, timeout=60):
        if self.port_in_use():
            raise HarnessError("port %d is in use: another run still going? set FAULTS_HTTP_PORT" % self.port)
        with open(self.log_path, "ab") as out:
            out.write(b"\n---- harness: start ----\n")
            self.process = subprocess.Popen([self.binary], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessError("%s exited during start-up with %s (log %s)" % (
                    self.name, self.process.returncode, self.log_path))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/health" % self.port, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise HarnessError("%s was not healthy within %d s (log %s)" % (self.name, timeout, self.log_path))

    def port_in_use(self):
        import socket
        with socket.socket() as probe:
            probe.settimeout(0.5)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, grace=20):
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log("%s did not stop within %d s; killing it" % (self.name, grace))
            self.kill()


class Store:
    """Read access to a service's database (SQLite file or PostgreSQL database) and one write for seeding."""

    def __init__(self, kind, location, psql_args=None):
        self.kind, self.location, self.psql_args = kind, location, psql_args or []

    @property
    def url(self):
        return self.location if self.kind == "sqlite" else "postgres://eventbus@127.0.0.1:%s/%s" % (
            self.psql_args[1], self.location)

    def query(self, sql, params=()):
        if self.kind == "sqlite":
            connection = sqlite3.connect(self.location, timeout=30)
            try:
                return connection.execute(sql, params).fetchall()
            finally:
                connection.close()
        command = ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", self.psql_args[1], "-U", "eventbus", "-d",
                   self.location, "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise HarnessError("psql failed: %s" % result.stderr.strip()[:300])
        return [tuple(line.split("\t")) for line in result.stdout.splitlines() if line]

    def execute(self, sql):
        if self.kind == "sqlite":
            connection = sqlite3.connect(self.location, timeout=30)
            try:
                connection.executescript(sql)
                connection.commit()
            finally:
                connection.close()
        else:
            self.query(sql)


class Driver:
    """Concurrent keep-alive HTTP connections changing prices at a steady total rate; each product belongs to one
    connection, so a product's changes are sequential and its prices only rise."""

    def __init__(self, port, rate, connections):
        self.port, self.rate, self.connections = port, rate, connections
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.ok = self.failed = 0
        self.counters = {product: 0 for product in range(1, PRODUCTS + 1)}
        self.threads = []

    def start(self):
        self.started = time.monotonic()
        for index in range(self.connections):
            products = [p for p in range(1, PRODUCTS + 1) if p % self.connections == index]
            thread = threading.Thread(target=self.loop, args=(products,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.stopped = time.monotonic()

    def loop(self, products):
        interval = self.connections / self.rate
        connection = None
        due = time.monotonic()
        turn = 0
        while not self.stop_event.is_set():
            now = time.monotonic()
            if due > now:
                self.stop_event.wait(due - now)
                continue
            due = max(due + interval, now - 1.0)  # catch up after a stall, but never burst more than a second
            product = products[turn % len(products)]
            turn += 1
            self.counters[product] += 1
            price = decimal.Decimal(10000 + self.counters[product]) / 100
            body = '{"id": %d, "price": %s}' % (product, price)  # the exact decimal, not a float's digits
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                connection.request("PUT", "/api/v1/catalog/items", body=body,
                                   headers={"content-type": "application/json"})
                answer = connection.getresponse()
                answer.read()
                with self.lock:
                    if answer.status == 200:
                        self.ok += 1
                    else:
                        self.failed += 1
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.failed += 1
                if connection is not None:
                    connection.close()
                connection = None
                self.stop_event.wait(0.2)
        if connection is not None:
            connection.close()


class Context:
    """One scenario's world: its services, stores, queue names and times."""

    def __init__(self, harness, scenario):
        self.harness, self.scenario = harness, scenario
        self.tag = "%s-%s" % (scenario.name, scenario.store)
        self.dir = os.path.join(harness.run_dir, self.tag)
        safe = self.tag.replace("-", "_")
        self.exchange = "faults_" + safe
        self.queue = "faults.%s.basket" % safe
        self.catalog_queue = "faults.%s.catalog" % safe
        self.notes = []
        self.catalog = self.basket = None
        self.catalog_store = self.basket_store = None
        self.broker_url = "amqp://guest:guest@127.0.0.1:%d/" % harness.broker_port

    def note(self, text):
        self.notes.append(text)
        log("note: " + text)


class Harness:
    def __init__(self, root, bin_dir):
        self.root, self.bin_dir = root, bin_dir
        self.rate = int(os.environ.get("FAULTS_RATE", "250"))
        self.seconds = int(os.environ.get("FAULTS_SECONDS", "20"))
        self.connections = int(os.environ.get("FAULTS_CONNECTIONS", "16"))
        self.broker_port = int(os.environ.get("FAULTS_BROKER_PORT", "5790"))
        self.postgres_port = int(os.environ.get("FAULTS_POSTGRES_PORT", "5795"))
        self.http_port = int(os.environ.get("FAULTS_HTTP_PORT", "5796"))
        self.run_dir = os.path.join(root, ".run", "faults")
        self.broker_started = self.postgres_started = False
        self.active = []
        os.makedirs(self.run_dir, exist_ok=True)
        # scripts/broker.sh keeps a node's data under <its root>/.run/rabbitmq-<port>; with-services.sh stops every
        # broker under the main tree's .run/rabbitmq-* when it exits (other people's test runs). A copy of the script
        # under .run/faults keeps this broker out of that sweep.
        broker_root = os.path.join(self.run_dir, "broker")
        os.makedirs(os.path.join(broker_root, "scripts"), exist_ok=True)
        self.broker_script = os.path.join(broker_root, "scripts", "broker.sh")
        shutil.copy2(os.path.join(root, "scripts", "broker.sh"), self.broker_script)

    # --- servers -------------------------------------------------------------------------------------------------

    def broker(self, *args, timeout=120, check=True):
        env = dict(os.environ, EVENTBUS_BROKER_PORT=str(self.broker_port))
        result = subprocess.run([self.broker_script, *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise HarnessError("broker.sh %s failed: %s" % (" ".join(args), (result.stderr or result.stdout)[-500:]))
        return result.stdout

    def ctl(self, *args, timeout=60, check=True):
        return self.broker("ctl", *args, timeout=timeout, check=check)

    def start_broker(self):
        log("starting a private broker on 127.0.0.1:%d" % self.broker_port)
        self.broker("start", "--fresh", timeout=150)
        self.broker_started = True

    def postgres(self, *args, timeout=120):
        env = dict(os.environ, EVENTBUS_POSTGRES_PORT=str(self.postgres_port))
        result = subprocess.run([os.path.join(self.root, "scripts", "postgres.sh"), *args], env=env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise HarnessError("postgres.sh %s failed: %s" % (" ".join(args), (result.stderr or result.stdout)[-500:]))
        return result.stdout

    def start_postgres(self):
        log("starting a private PostgreSQL on 127.0.0.1:%d" % self.postgres_port)
        self.postgres("start", "--fresh")
        self.postgres_started = True

    def stop_all(self):
        for service in self.active:
            try:
                service.stop(grace=15)
            except Exception:  # noqa: BLE001 - stopping must go on
                service.kill()
        self.active = []
        if self.broker_started:
            self.broker("stop", check=False)
            self.broker_started = False
        if self.postgres_started:
            try:
                self.postgres("stop")
            except HarnessError:
                pass
            self.postgres_started = False

    # --- broker views --------------------------------------------------------------------------------------------

    def queue_depths(self, prefix):
        output = self.ctl("list_queues", "-q", "--no-table-headers", "name", "messages", timeout=30)
        depths = {}
        for line in output.splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[0].startswith(prefix) and parts[1].isdigit():
                depths[parts[0]] = int(parts[1])
        return depths

    def connection_pids(self, connection_name):
        output = self.ctl("list_connections", "-q", "--no-table-headers", "pid", "client_properties", timeout=30)
        marker = '{"connection_name","%s"}' % connection_name
        return [line.split("\t")[0] for line in output.splitlines() if marker in line]

    # --- a scenario ----------------------------------------------------------------------------------------------

    def make_store(self, ctx, service):
        if ctx.scenario.store == "sqlite":
            return Store("sqlite", os.path.join(ctx.dir, service + ".sqlite"))
        database = "f_%s_%s" % (ctx.tag.replace("-", "_"), service)
        admin = Store("postgres", "postgres", ["-p", str(self.postgres_port)])
        admin.query('DROP DATABASE IF EXISTS "%s"' % database)
        admin.query('CREATE DATABASE "%s"' % database)
        return Store("postgres", database, ["-p", str(self.postgres_port)])

    def make_service(self, ctx, name, port, store, queue, broker_url=None, extra_env=None):
        env = dict(os.environ, SERVICE_NAME=name, PORT=str(port), HOST="127.0.0.1", DATABASE_URL=store.url,
                   EVENTBUS_URL=broker_url or ctx.broker_url, EVENTBUS_EXCHANGE=ctx.exchange,
                   EVENTBUS_QUEUE=queue, LOG_LEVEL="info")
        env.update(extra_env or {})
        service = Service(name, os.path.join(self.bin_dir, name), port, env, os.path.join(ctx.dir, name + ".log"))
        self.active.append(service)
        return service

    def processed_ids(self, ctx):
        return {row[0].lower() for row in ctx.basket_store.query("SELECT message_id FROM processed_messages")}

    def committed_ids(self, ctx):
        return {row[0].lower() for row in ctx.catalog_store.query("SELECT event_id FROM integration_event_log")}

    def committed_products(self, ctx):
        """Each committed event's product, from the event JSON Catalog saved in its outbox."""
        products = {}
        for event_id, content in ctx.catalog_store.query("SELECT event_id, content FROM integration_event_log"):
            try:
                event = json.loads(content)
            except ValueError:
                continue
            product = next((v for k, v in event.items() if k.lower() == "productid"), None)
            if isinstance(product, int):
                products[event_id.lower()] = product
        return products

    def effect_counts(self, ctx):
        """Basket's effect rows per event id: one row per committed effect transaction (the table has no unique
        key, so a second effect of one event is a second row)."""
        return {row[0].lower(): int(row[1]) for row in ctx.basket_store.query(
            "SELECT event_id, count(*) FROM basket_price_change_effects GROUP BY event_id")}

    def effects_per_second(self, ctx):
        second = ("CAST(recorded_at AS INTEGER)" if ctx.basket_store.kind == "sqlite"
                  else "floor(extract(epoch FROM recorded_at))::bigint")
        return [int(row[1]) for row in ctx.basket_store.query(
            "SELECT %s AS s, count(*) FROM basket_price_change_effects GROUP BY s ORDER BY s" % second)]

    def dead_letters(self, ctx):
        """The messages in Basket's dead-letter queue (read and put back), with the reason headers the bus wrote."""
        import amqp_raw
        try:
            connection = amqp_raw.Connection("127.0.0.1", self.broker_port, name="faults-ledger")
            try:
                messages = connection.peek(ctx.queue + ".dead-letter")
            finally:
                connection.close()
        except (OSError, ConnectionError, ValueError) as error:
            # Then nothing counts as dead-lettered: a committed event in that queue shows as lost, not as fine.
            ctx.note("could not read the dead-letter queue: %s" % error)
            return []
        # A message the broker dead-lettered itself (over the queue's size limit, the bus's TooLarge) has no bus
        # header; RabbitMQ's own x-first-death-reason says why.
        return [{"message_id": (m["message_id"] or "").lower(),
                 "reason": amqp_raw.text(m["headers"].get("x-dead-letter-reason")) or (
                     "broker: %s" % amqp_raw.text(m["headers"].get("x-first-death-reason"))
                     if m["headers"].get("x-first-death-reason") is not None else "no reason header"),
                 "last_error": amqp_raw.text(m["headers"].get("x-last-error")),
                 "attempts": amqp_raw.text(m["headers"].get("x-delivery-attempts"))} for m in messages]

    def outbox_pending(self, ctx):
        rows = ctx.catalog_store.query(
            "SELECT count(*) FROM integration_event_log WHERE state IN ('NotPublished', 'InProgress') "
            "OR (state = 'PublishedFailed' AND next_attempt_at IS NOT NULL)")
        return int(rows[0][0])

    def seed(self, ctx):
        values = ", ".join("(%d, 'Fault product %d', 'Added by the fault harness', '20')" % (p, p)
                           for p in range(13, PRODUCTS + 1))
        ctx.catalog_store.execute("INSERT INTO catalog_items (id, name, description, price) VALUES %s" % values)
        url = "http://127.0.0.1:%d/api/v1/catalog/items?pageSize=100" % ctx.catalog.port
        with urllib.request.urlopen(url, timeout=10) as answer:
            page = json.loads(answer.read(), parse_float=decimal.Decimal)
        items = {item["id"]: item for item in page["data"]}
        if len(items) != PRODUCTS:
            raise HarnessError("the catalog lists %d products, expected %d" % (len(items), PRODUCTS))
        for buyer in range(BUYERS):
            lines = [{"id": "line-%d" % p, "productId": p, "productName": items[p]["name"],
                      "unitPrice": items[p]["price"], "quantity": 1} for p in sorted(items)]
            body = json.dumps({"buyerId": "buyer-%d" % buyer, "items": lines}, default=str).encode()
            # Prices go as JSON numbers: json.dumps(default=str) would quote Decimals, so encode them by hand.
            body = re.sub(rb'"unitPrice": "([0-9.]+)"', rb'"unitPrice": \1', body)
            request = urllib.request.Request("http://127.0.0.1:%d/api/v1/basket" % ctx.basket.port, data=body,
                                             method="POST", headers={"content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                if answer.status != 200:
                    raise HarnessError("could not create basket %d: %s" % (buyer, answer.status))

    def run(self, scenario):
        ctx = Context(self, scenario)
        shutil.rmtree(ctx.dir, ignore_errors=True)
        os.makedirs(ctx.dir)
        try:
            return self._run(ctx)
        finally:
            for service in (ctx.catalog, ctx.basket):
                if service:
                    service.stop()
                    if service in self.active:
                        self.active.remove(service)
            if hasattr(scenario, "cleanup"):
                scenario.cleanup(self, ctx)

    def _run(self, ctx):
        scenario = ctx.scenario
        ctx.catalog_store = self.make_store(ctx, "catalog")
        ctx.basket_store = self.make_store(ctx, "basket")
        catalog_url = basket_url = ctx.broker_url
        if hasattr(scenario, "prepare"):
            catalog_url, basket_url = scenario.prepare(self, ctx)
        # Four handlers at once, as a service that keeps up would run (Basket's handler does not need queue order).
        basket_env = dict({"EVENTBUS_HANDLER_CONCURRENCY": "4"}, **(getattr(scenario, "basket_env", None) or {}))
        ctx.basket = self.make_service(ctx, "basket", self.http_port + 1, ctx.basket_store, ctx.queue, basket_url,
                                       basket_env)
        ctx.catalog = self.make_service(ctx, "catalog", self.http_port, ctx.catalog_store, ctx.catalog_queue,
                                        catalog_url)
        ctx.basket.start()   # first: its queue is bound before the catalog publishes
        ctx.catalog.start()
        self.seed(ctx)
        driver = Driver(self.http_port, self.rate, self.connections)
        driver.start()
        ctx.driver = driver
        fault_at = driver.started + min(8.0, self.seconds / 2.0)
        time.sleep(max(0.0, fault_at - time.monotonic()))
        if scenario.inject is None:
            time.sleep(max(0.0, driver.started + self.seconds / 2.0 - time.monotonic()))
            fault_end = time.monotonic()
        else:
            log("fault: %s" % scenario.description)
            scenario.inject(self, ctx)
            fault_end = time.monotonic()
            log("fault over after %.1f s" % (fault_end - fault_at))
        before_fault_end = self.committed_ids(ctx)
        recovery = {"at": None}
        watcher = threading.Thread(target=self.watch_recovery, args=(ctx, before_fault_end, fault_end, recovery),
                                   daemon=True)
        watcher.start()
        time.sleep(max(0.0, max(driver.started + self.seconds, fault_end + 3.0) - time.monotonic()))
        driver.stop()
        drive = driver.stopped - driver.started
        log("drove %d price changes in %.1f s (%.0f/s); %d requests failed" % (
            driver.ok, drive, driver.ok / drive, driver.failed))
        quiet = self.wait_quiescent(ctx)
        watcher.join(timeout=5)
        if driver.ok / drive < 200:
            ctx.note("drove %.0f accepted price changes/s (< 200/s) over %.1f s" % (driver.ok / drive, drive))
        if not quiet:
            ctx.note("not quiescent within %d s" % QUIESCE_TIMEOUT)
        if hasattr(scenario, "evidence"):
            scenario.evidence(self, ctx)
        row = self.ledger(ctx)
        row["recovery"] = None if recovery["at"] is None else recovery["at"] - fault_end
        return row

    def watch_recovery(self, ctx, expected, since, result):
        deadline = since + QUIESCE_TIMEOUT + self.seconds + 30
        failing = getattr(ctx.scenario, "fail_product", None)
        if failing is not None:  # those events end in the dead-letter queue, never in processed_messages
            try:
                products = self.committed_products(ctx)
            except (sqlite3.Error, HarnessError):
                products = {}
            expected = {i for i in expected if products.get(i) != failing}
        while time.monotonic() < deadline:
            try:
                if expected <= self.processed_ids(ctx):
                    result["at"] = time.monotonic()
                    return
            except (sqlite3.Error, HarnessError):
                pass
            time.sleep(0.25)

    def wait_quiescent(self, ctx):
        deadline = time.monotonic() + QUIESCE_TIMEOUT
        last_count, stable_since = -1, None
        prefix = "faults.%s." % ctx.tag.replace("-", "_")
        while time.monotonic() < deadline:
            try:
                pending = self.outbox_pending(ctx)
                waiting = {q: n for q, n in self.queue_depths(prefix).items() if not q.endswith(".dead-letter") and n}
                count = len(self.processed_ids(ctx))
            except (sqlite3.Error, HarnessError, subprocess.TimeoutExpired) as error:
                log("quiescence check failed (%s); retrying" % error)
                time.sleep(1)
                continue
            now = time.monotonic()
            if pending == 0 and not waiting and count == last_count:
                if stable_since and now - stable_since >= 2.0:
                    return True
                stable_since = stable_since or now
            else:
                stable_since = None
            last_count = count
            time.sleep(0.5)
        log("still pending: outbox %s, queues %s" % (pending, waiting))
        return False

    def ledger(self, ctx):
        committed = self.committed_ids(ctx)
        processed = self.processed_ids(ctx)
        # The effects, from Basket's database: one basket_price_change_effects row per committed effect transaction,
        # written with the basket update and the processed id. No unique key: an effect committed twice is two rows.
        effects = self.effect_counts(ctx)
        once = {event_id for event_id in committed if effects.get(event_id) == 1}
        twice = {event_id for event_id in committed if effects.get(event_id, 0) > 1}
        # Dead letters, read from the queue with the reason the bus wrote; a committed event there is accounted for.
        dead = self.dead_letters(ctx)
        dead_ids = {letter["message_id"] for letter in dead}
        dead_committed = (committed & dead_ids) - set(effects)
        both = committed & dead_ids & set(effects)
        if both:
            ctx.note("%d events both applied and dead-lettered (counted applied twice), e.g. %s" % (
                len(both), sorted(both)[0]))
            twice |= both
            once -= both
        lost = committed - set(effects) - dead_committed
        if dead:
            reasons = {}
            for letter in dead:
                key = (letter["reason"], letter["last_error"][:120])
                reasons[key] = reasons.get(key, 0) + 1
            ctx.note("dead-lettered: %s" % "; ".join(
                "%d %s%s" % (n, reason, " (last error: %s)" % error if error else "")
                for (reason, error), n in sorted(reasons.items(), key=lambda item: -item[1])))
        unmarked = set(effects) - processed
        if unmarked:
            ctx.note("%d effect rows without a processed id (e.g. %s)" % (len(unmarked), sorted(unmarked)[0]))
        marked_only = (processed & committed) - set(effects)
        if marked_only:
            ctx.note("%d processed ids without an effect row (counted lost), e.g. %s" % (
                len(marked_only), sorted(marked_only)[0]))
        # What Basket logged it committed, across restarts: a SIGKILL may lose a line, never invent one, so an outcome
        # line without an effect row would be an effect that vanished. Its duplicate lines are the suppressed copies.
        logged, duplicates = set(), 0
        with open(ctx.basket.log_path, errors="replace") as handle:
            for line in handle:
                match = OUTCOME_LINE.search(line)
                if not match:
                    continue
                if match.group(2) == "duplicate":
                    duplicates += 1
                else:
                    logged.add(match.group(1).lower())
        vanished = logged - set(effects)
        if vanished:
            ctx.note("%d events logged as applied have no effect row (e.g. %s)" % (len(vanished), sorted(vanished)[0]))
        # The effect itself: every basket line and the known price of a product end at Catalog's final price, except
        # for products whose events were dead-lettered (their lines legitimately stay behind).
        products = self.committed_products(ctx)
        dead_products = {products[i] for i in dead_committed if i in products}
        final = {int(row[0]): decimal.Decimal(str(row[1]))
                 for row in ctx.catalog_store.query("SELECT id, price FROM catalog_items")}
        behind = set()
        for product, price in ctx.basket_store.query("SELECT product_id, unit_price FROM basket_items"):
            if decimal.Decimal(str(price)) != final.get(int(product)):
                behind.add(int(product))
        known = {int(p): decimal.Decimal(str(v))
                 for p, v in ctx.basket_store.query("SELECT product_id, price FROM product_prices")}
        changed = {p for p, price in final.items() if price >= 100}
        behind |= {p for p in changed if known.get(p) != final[p]}
        behind -= dead_products
        missing_effect = len(behind) if not lost else 0
        if behind:
            ctx.note("basket lines or known prices behind Catalog's final price for products %s" % sorted(behind))
        if lost:
            sample = sorted(lost)[:5]
            states = ctx.catalog_store.query(
                "SELECT event_id, state, times_sent, coalesce(last_error, '') FROM integration_event_log "
                "WHERE lower(CAST(event_id AS TEXT)) IN (%s)" % ", ".join("'%s'" % i for i in sample))
            ctx.note("lost ids (first 5) and their outbox rows: %s" % "; ".join("|".join(map(str, r)) for r in states))
        if twice:
            ctx.note("applied twice (first 5): %s" % ", ".join(sorted(twice)[:5]))
        phantom = processed - committed
        if phantom:
            ctx.note("%d processed ids were never committed in Catalog (e.g. %s)" % (len(phantom), sorted(phantom)[0]))
        duplicates += self.metric(ctx.basket, "eventbus_duplicates_total")
        if duplicates:
            ctx.note("%d redelivered or republished copies found already processed (no second effect; Basket's "
                     "duplicate outcomes and eventbus_duplicates_total since its last start)" % duplicates)
        busy = sorted(self.effects_per_second(ctx))[1:-1]  # the first and last seconds are partial
        if busy:
            ctx.note("Basket applied a median of %d events/s (best second %d)" % (busy[len(busy) // 2], busy[-1]))
        # What the services themselves saw: lost connections (and why), handler retries.
        seen = []
        for service in (ctx.catalog, ctx.basket):
            with open(service.log_path, errors="replace") as handle:
                text = handle.read()
            lost_connections = text.count("connection lost")
            heartbeats = text.count("no heartbeat from the broker")
            retries = len(re.findall(r"delay_ms=\d+", text))
            if lost_connections or retries:
                seen.append("%s: %d connection losses%s%s" % (
                    service.name, lost_connections, " (%d by heartbeat)" % heartbeats if heartbeats else "",
                    ", %d handler retries scheduled" % retries if retries else ""))
        if seen:
            ctx.note("; ".join(seen))
        ctx.dead = dead
        ctx.dead_committed = dead_committed
        return {
            "scenario": ctx.scenario.name, "store": ctx.scenario.store, "committed": len(committed),
            "applied_once": len(once), "lost": len(lost) + missing_effect,
            "applied_twice": len(twice), "dead_lettered": len(dead), "notes": ctx.notes, "recovery": None,
        }

    def metric(self, service, name):
        """The sum of a counter over its labels in a service's /metrics, or 0 when it cannot be read."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % service.port, timeout=5) as answer:
                text = answer.read().decode(errors="replace")
        except (urllib.error.URLError, OSError):
            return 0
        total = 0
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                try:
                    total += int(float(line.rsplit(" ", 1)[1]))
                except ValueError:
                    pass
        return total

    def failed_row(self, scenario, reason):
        log("FAILED: " + reason)
        return {"scenario": scenario.name, "store": scenario.store, "committed": 0, "applied_once": 0, "lost": 0,
                "applied_twice": 0, "dead_lettered": 0, "recovery": None, "failed": True,
                "notes": ["the scenario could not run: " + reason]}
