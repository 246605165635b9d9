#!/usr/bin/env python3
"""Checks that the ledger can fail: on hand-made databases (Basket's effect rows included), a log and a dead-letter
queue with one lost event, one event applied twice, one dead-lettered and one basket line left behind, it must count
exactly those. run.py runs this first; a ledger that cannot see a loss or a double would make every row green."""

import os
import sqlite3
import sys
import tempfile
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Harness, Store  # noqa: E402

IDS = ["00000000-0000-4000-8000-%012d" % n for n in range(7)]


def build(directory):
    catalog = os.path.join(directory, "catalog.sqlite")
    basket = os.path.join(directory, "basket.sqlite")
    with sqlite3.connect(catalog) as db:
        db.executescript("""
            CREATE TABLE integration_event_log (event_id TEXT PRIMARY KEY, state TEXT, times_sent INT, last_error TEXT,
                                                content TEXT);
            CREATE TABLE catalog_items (id INTEGER PRIMARY KEY, price TEXT);
            INSERT INTO catalog_items VALUES (1, '100.03'), (2, '100.02'), (3, '100.01');
        """)
        # IDS[6] is product 3's only change, and it was dead-lettered.
        db.executemany("INSERT INTO integration_event_log VALUES (?, 'Published', 1, NULL, ?)",
                       [(i.upper(), '{"productId": %d}' % (3 if n == 6 else 1)) for n, i in enumerate(IDS)])
    with sqlite3.connect(basket) as db:
        db.executescript("""
            CREATE TABLE processed_messages (consumer TEXT, message_id TEXT);
            CREATE TABLE basket_items (product_id INT, unit_price TEXT);
            CREATE TABLE product_prices (product_id INT, price TEXT);
            CREATE TABLE basket_price_change_effects (event_id TEXT, consumer TEXT, product_id INT, outcome TEXT,
                                                      updated_lines INT, recorded_at REAL);
            INSERT INTO basket_items VALUES (1, '100.03'), (2, '100.01'), (3, '20');
            INSERT INTO product_prices VALUES (1, '100.03'), (2, '100.02');
        """)
        # IDS[5] is lost: never processed. IDS[1] had its effect twice (two rows); the others once.
        db.executemany("INSERT INTO processed_messages VALUES ('basket', ?)", [(i,) for i in IDS[:5]])
        db.executemany("INSERT INTO basket_price_change_effects VALUES (?, 'basket', 1, 'applied', 1, 1000)",
                       [(i,) for i in IDS[:5] + [IDS[1]]])
    log = os.path.join(directory, "basket.log")
    with open(log, "w") as handle:
        for event_id in IDS[:5]:
            handle.write("t info basket: event.id=%s lines=1 [BasketService] price change applied\n" % event_id)
        # IDS[2] once plus a harmless duplicate.
        handle.write("t info basket: event.id=%s lines=0 [BasketService] price change duplicate\n" % IDS[2])
    return catalog, basket, log


def main():
    with tempfile.TemporaryDirectory() as directory:
        catalog, basket, log = build(directory)
        harness = Harness.__new__(Harness)
        harness.queue_depths = lambda prefix: {}
        harness.metric = lambda service, name: 0
        harness.dead_letters = lambda ctx: [
            {"message_id": IDS[6], "reason": "MaxDeliveryAttemptsExceeded", "last_error": "boom", "attempts": "30"},
            {"message_id": "poison-invalid-json", "reason": "Unprocessable", "last_error": "", "attempts": "1"}]
        ctx = types.SimpleNamespace(
            catalog_store=Store("sqlite", catalog), basket_store=Store("sqlite", basket), notes=[],
            basket=types.SimpleNamespace(name="basket", log_path=log, port=0),
            catalog=types.SimpleNamespace(name="catalog", log_path=log, port=0),
            scenario=types.SimpleNamespace(name="selftest", store="sqlite"), queue="q")
        ctx.note = ctx.notes.append
        row = Harness.ledger(harness, ctx)
    expected = {"committed": 7, "applied_once": 4, "lost": 1, "applied_twice": 1, "dead_lettered": 2}
    got = {key: row[key] for key in expected}
    behind = any("products [2]" in note for note in row["notes"])  # not 3: its only event was dead-lettered
    if got != expected or not behind:
        print("faults selftest: FAILED: expected %s and product 2 behind, got %s; notes %s" % (
            expected, got, row["notes"]), file=sys.stderr)
        return 1
    print("faults selftest: the ledger sees a lost event, a double, a dead letter and a line left behind")
    return 0


if __name__ == "__main__":
    sys.exit(main())
