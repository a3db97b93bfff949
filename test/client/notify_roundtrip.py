#!/usr/bin/env python3
"""LISTEN/NOTIFY round trip with a real client (psycopg2).

Connection A listens on channel backorder_events; connection B works:
  1. B creates an item with a little stock and orders more than that: at commit A hears
     line_backordered (and line_allocated) for the new line; the payload is the event_id,
     and the event row it names has the right kind, line_id, order_ref, sku and qty.
  2. Nothing is heard while B's transaction is still open: NOTIFY is sent at commit.
  3. B receives the missing units: A hears line_allocated for the waiting line with the
     quantity that the receipt gave it.
  4. B places an order and rolls back: A hears nothing of it.
verify() is empty at the end.

The connection comes from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
SKUs and order refs are unique per run, so this can run on a shared database; it deletes
nothing (the ledger is append-only). Only notifications sent by B's backend are considered,
so other activity in the database does not disturb it.

Exit status 0 when every check passed, 1 otherwise (each failure is printed).
"""
import select
import sys
import time
import uuid

import psycopg2

CHANNEL = "backorder_events"
failures = []


def check(cond, what, detail=""):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what + (": " + detail if detail else ""))
        failures.append(what)
    return cond


def connect():
    conn = psycopg2.connect("")  # everything from the libpq environment
    return conn


def collect(listener, from_pid, seconds, stop=None):
    """Notifications on the listener sent by backend from_pid, for up to `seconds`
    (less when stop(list_so_far) becomes true)."""
    got = []
    deadline = time.monotonic() + seconds
    while True:
        listener.poll()
        while listener.notifies:
            n = listener.notifies.pop(0)
            if n.pid == from_pid and n.channel == CHANNEL:
                got.append(n)
        if stop is not None and stop(got):
            return got
        left = deadline - time.monotonic()
        if left <= 0:
            return got
        select.select([listener], [], [], min(left, 0.2))


def event_rows(reader, notifies):
    """The event rows named by the payloads, in payload order."""
    rows = []
    with reader.cursor() as cur:
        for n in notifies:
            if not n.payload.isdigit():
                rows.append(None)
                continue
            cur.execute(
                "SELECT event_id, kind, sku, order_ref, line_id, po_id, qty"
                "  FROM backorder.event WHERE event_id = %s",
                (int(n.payload),),
            )
            r = cur.fetchone()
            rows.append(
                None if r is None else dict(zip(
                    ("event_id", "kind", "sku", "order_ref", "line_id", "po_id", "qty"), r))
            )
    return rows


def main():
    run = uuid.uuid4().hex[:12]
    sku = "notify-%s" % run
    ref1 = "notify-order-%s" % run
    ref_rb = "notify-rolledback-%s" % run

    listener = connect()
    listener.autocommit = True
    with listener.cursor() as cur:
        cur.execute("LISTEN " + CHANNEL)
    reader = connect()
    reader.autocommit = True
    worker = connect()  # B: explicit transactions, committed or rolled back by hand
    bpid = worker.get_backend_pid()

    # The item and 2 units of stock, committed; the stock_received notification is drained.
    with worker.cursor() as cur:
        cur.execute("INSERT INTO backorder.item (sku) VALUES (%s)", (sku,))
        cur.execute("INSERT INTO backorder.receipt (sku, qty) VALUES (%s, 2)", (sku,))
    worker.commit()
    setup = collect(listener, bpid, 5, stop=lambda got: len(got) >= 1)
    setup_rows = event_rows(reader, setup)
    check([r and r["kind"] for r in setup_rows] == ["stock_received"],
          "the receipt is heard as stock_received",
          repr(setup_rows))

    # 1 + 2: an order for 5 units: 2 allocated, 3 waiting; nothing heard before commit.
    with worker.cursor() as cur:
        cur.execute(
            "INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (%s, %s, 5)"
            " RETURNING line_id, allocated_qty, backordered_qty, status",
            (ref1, sku),
        )
        line_id, alloc, back, status = cur.fetchone()
    check((alloc, back, status) == (2, 3, "partially_allocated"),
          "the order allocates 2 and backorders 3",
          repr((alloc, back, status)))
    early = collect(listener, bpid, 1.0)
    check(early == [], "nothing is heard while the transaction is open",
          repr([n.payload for n in early]))
    worker.commit()

    def has_kind(kind, want_line):
        def stop(got):
            return any(r and r["kind"] == kind and r["line_id"] == want_line
                       for r in event_rows(reader, got))
        return stop

    heard = collect(listener, bpid, 10, stop=has_kind("line_backordered", line_id))
    rows = event_rows(reader, heard)
    check(all(n.payload.isdigit() for n in heard), "every payload is an event_id",
          repr([n.payload for n in heard]))
    check(None not in rows, "every payload names an existing event row", repr(rows))
    ids = [int(n.payload) for n in heard if n.payload.isdigit()]
    check(ids == sorted(ids), "the events of one commit arrive in event_id order", repr(ids))
    backordered = [r for r in rows if r and r["kind"] == "line_backordered"]
    check(len(backordered) == 1, "one line_backordered event is heard", repr(rows))
    if backordered:
        e = backordered[0]
        check((e["line_id"], e["qty"], e["sku"], e["order_ref"]) == (line_id, 3, sku, ref1),
              "line_backordered names the line, its 3 waiting units, its sku and order",
              repr(e))
    allocated = [r for r in rows if r and r["kind"] == "line_allocated"]
    check([(r["line_id"], r["qty"]) for r in allocated] == [(line_id, 2)],
          "line_allocated is heard for the 2 units allocated at once", repr(allocated))

    # 3: a receipt of 4 units fills the 3 waiting units.
    with worker.cursor() as cur:
        cur.execute(
            "INSERT INTO backorder.receipt (sku, qty) VALUES (%s, 4) RETURNING allocated_qty",
            (sku,),
        )
        (receipt_alloc,) = cur.fetchone()
    check(receipt_alloc == 3, "the receipt allocates 3 units", repr(receipt_alloc))
    worker.commit()
    heard = collect(listener, bpid, 10, stop=has_kind("line_allocated", line_id))
    rows = event_rows(reader, heard)
    allocated = [r for r in rows if r and r["kind"] == "line_allocated"]
    check([(r["line_id"], r["qty"], r["order_ref"]) for r in allocated] == [(line_id, 3, ref1)],
          "after the receipt, line_allocated is heard for the line with qty 3", repr(rows))
    check(sorted(r["kind"] for r in rows if r) == ["line_allocated", "stock_received"],
          "and stock_received with it, nothing else", repr(rows))
    with reader.cursor() as cur:
        cur.execute("SELECT status, allocated_qty FROM backorder.order_line WHERE line_id = %s",
                    (line_id,))
        check(cur.fetchone() == ("allocated", 5), "the line is now fully allocated")

    # 4: an order (which would wait: only 1 unit is free) rolled back is never heard of.
    with worker.cursor() as cur:
        cur.execute(
            "INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (%s, %s, 7)",
            (ref_rb, sku),
        )
    worker.rollback()
    heard = collect(listener, bpid, 1.5)
    check(heard == [], "a rolled-back order sends no notification",
          repr([n.payload for n in heard]))
    with reader.cursor() as cur:
        cur.execute("SELECT count(*) FROM backorder.event WHERE order_ref = %s", (ref_rb,))
        check(cur.fetchone()[0] == 0, "and leaves no event row")
        cur.execute("SELECT count(*) FROM backorder.order_line WHERE order_ref = %s", (ref_rb,))
        check(cur.fetchone()[0] == 0, "and no order line")
        cur.execute("SELECT * FROM backorder.verify()")
        bad = cur.fetchall()
        check(bad == [], "verify() is empty", repr(bad[:10]))

    for c in (listener, reader, worker):
        c.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a crash is a failure with a message, not a traceback only
        import traceback
        traceback.print_exc()
        print("FAIL the script stopped: %s" % exc)
        sys.exit(1)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)
