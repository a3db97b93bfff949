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
  5. With backorder.notify off (B's session; the setting is superuser-only), B's committed
     order is written to backorder.event but A hears nothing; back on, A hears again.
  6. Big transactions: orders of 5,000 and 20,000 lines (one statement each), and 17,000
     one-line orders in one transaction with a gap in the event ids after each: every event_id
     is heard exactly once. With backorder preloaded, the first two go through the notifier
     worker (the ring holds runs of consecutive ids: 20,000 events are one run), the third,
     17,000 runs where the ring holds 16,384, is notified by the committing backend itself.
  Throughout: with backorder preloaded the notifications of small transactions come from the
  notifier worker, without it from the committing backend.
verify() is empty at the end.

The connection comes from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
SKUs and order refs are unique per run, so this can run on a shared database; it deletes
nothing (the ledger is append-only). Only notifications whose event rows name this run's sku are
considered, so other activity in the database does not disturb it. Notifications come from
B's backend or, when backorder is in shared_preload_libraries, from the database's
"backorder notifier" worker: the checks are the same.

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


def collect(listener, reader, sku, seconds, stop=None):
    """Notifications on the channel whose event rows belong to `sku`, for up to `seconds`
    (less when stop(list_so_far) becomes true). A notification is sent by the committing
    backend itself or, when backorder is preloaded, by the "backorder notifier" worker of
    the database, so they are told apart by what their event rows say, not by sender pid."""
    got = []
    deadline = time.monotonic() + seconds
    while True:
        listener.poll()
        fresh = []
        while listener.notifies:
            n = listener.notifies.pop(0)
            if n.channel == CHANNEL:
                fresh.append(n)
        for n, r in zip(fresh, event_rows(reader, fresh)):
            if r is None or r["sku"] == sku:   # None: a payload naming no row is kept (a failure)
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


def collect_ids(listener, count, seconds):
    """(payload ids, sender pids) of up to `count` notifications, for up to `seconds`."""
    ids, pids = [], set()
    deadline = time.monotonic() + seconds
    while len(ids) < count and time.monotonic() < deadline:
        listener.poll()
        while listener.notifies:
            n = listener.notifies.pop(0)
            if n.channel == CHANNEL and n.payload.isdigit():
                ids.append(int(n.payload))
                pids.add(n.pid)
        select.select([listener], [], [], 0.2)
    return ids, pids


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
    with reader.cursor() as cur:
        # the list may name it by path (a staged install): .../backorder or .../backorder.so
        cur.execute("SELECT current_setting('shared_preload_libraries')"
                    " ~ '(^|[[:space:],/])backorder(\\.so)?[[:space:]]*(,|$)'")
        preloaded = cur.fetchone()[0]
    print("# backorder %s preloaded: notifications come from %s"
          % ("is" if preloaded else "is not", "the notifier worker" if preloaded else "the committing backend"))

    def from_expected_sender(notifies, what):
        pids = {n.pid for n in notifies}
        if preloaded:
            check(bpid not in pids, what + ": sent by the notifier worker", repr(pids))
        else:
            check(pids <= {bpid}, what + ": sent by the committing backend", repr(pids))

    # The item and 2 units of stock, committed; the stock_received notification is drained.
    with worker.cursor() as cur:
        cur.execute("INSERT INTO backorder.item (sku) VALUES (%s)", (sku,))
        cur.execute("INSERT INTO backorder.receipt (sku, qty) VALUES (%s, 2)", (sku,))
    worker.commit()
    setup = collect(listener, reader, sku, 5, stop=lambda got: len(got) >= 1)
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
    early = collect(listener, reader, sku, 1.0)
    check(early == [], "nothing is heard while the transaction is open",
          repr([n.payload for n in early]))
    worker.commit()

    def has_kind(kind, want_line):
        def stop(got):
            return any(r and r["kind"] == kind and r["line_id"] == want_line
                       for r in event_rows(reader, got))
        return stop

    heard = collect(listener, reader, sku, 10, stop=has_kind("line_backordered", line_id))
    rows = event_rows(reader, heard)
    from_expected_sender(heard, "the order's notifications")
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
    heard = collect(listener, reader, sku, 10, stop=has_kind("line_allocated", line_id))
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
    heard = collect(listener, reader, sku, 1.5)
    check(heard == [], "a rolled-back order sends no notification",
          repr([n.payload for n in heard]))
    with reader.cursor() as cur:
        cur.execute("SELECT count(*) FROM backorder.event WHERE order_ref = %s", (ref_rb,))
        check(cur.fetchone()[0] == 0, "and leaves no event row")
        cur.execute("SELECT count(*) FROM backorder.order_line WHERE order_ref = %s", (ref_rb,))
        check(cur.fetchone()[0] == 0, "and no order line")

    # 5: backorder.notify = off: the event rows are written, no notification is sent.
    ref_quiet = "notify-quiet-%s" % run
    ref_loud = "notify-loud-%s" % run
    with worker.cursor() as cur:
        cur.execute("SET backorder.notify = off")
        cur.execute(
            "INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (%s, %s, 3)",
            (ref_quiet, sku),
        )
    worker.commit()
    heard = collect(listener, reader, sku, 1.5)
    check(heard == [], "with backorder.notify off a committed order sends no notification",
          repr([n.payload for n in heard]))
    with worker.cursor() as cur:
        cur.execute("RESET backorder.notify")
        cur.execute(
            "INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (%s, %s, 1)"
            " RETURNING line_id",
            (ref_loud, sku),
        )
        (loud_line,) = cur.fetchone()
    worker.commit()
    heard = collect(listener, reader, sku, 10, stop=has_kind("line_backordered", loud_line))
    check([r["order_ref"] for r in event_rows(reader, heard) if r] == [ref_loud],
          "with backorder.notify back on, the next order is heard (and only it)",
          repr(event_rows(reader, heard)))
    with reader.cursor() as cur:
        cur.execute("SELECT kind, qty FROM backorder.event WHERE order_ref = %s ORDER BY event_id",
                    (ref_quiet,))
        check(cur.fetchall() == [("line_allocated", 1), ("line_backordered", 2)],
              "but its event rows are written (1 unit allocated, 2 backordered)")

    # 6: big transactions: every event heard once, through the worker's ring or around it.
    # Each statement is (lines per order, orders): one order of many lines writes a run of
    # consecutive event ids; many one-line orders with a nextval between them leave gaps.
    gapped = (
        "DO $$ BEGIN FOR i IN 1..%s LOOP"
        " INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (%s, %s, 1);"
        " PERFORM nextval('backorder.event_event_id_seq'); END LOOP; END $$"
    )
    contiguous = (
        "INSERT INTO backorder.order_line (order_ref, sku, qty)"
        " SELECT %s, %s, 1 FROM generate_series(1, %s)"
    )
    for lines, runs in ((5000, 1), (20000, 1), (17000, 17000)):
        ref_big = "notify-big%d-%s" % (lines, run)
        listener.poll()
        del listener.notifies[:]
        with worker.cursor() as cur:
            if runs == 1:
                cur.execute(contiguous, (ref_big, sku, lines))
            else:
                cur.execute(gapped % (lines, "%s", "%s"), (ref_big, sku))
        worker.commit()
        with reader.cursor() as cur:
            cur.execute("SELECT event_id FROM backorder.event WHERE order_ref = %s ORDER BY event_id",
                        (ref_big,))
            want = [r[0] for r in cur.fetchall()]
        ids, pids = collect_ids(listener, len(want), 60)
        check(len(want) == lines, "%d lines, %d events written" % (lines, lines), repr(len(want)))
        gaps = sum(1 for a, b in zip(want, want[1:]) if b != a + 1)
        check(gaps + 1 == runs, "their ids form %d run(s) of consecutive ids" % runs, repr(gaps + 1))
        check(sorted(ids) == want, "every event of the %d-line transaction is heard exactly once" % lines,
              "heard %d, %d distinct, want %d" % (len(ids), len(set(ids)), len(want)))
        if preloaded and runs > 16384:
            check(pids == {bpid}, "%d runs, more than the ring holds: the backend notifies by itself" % runs,
                  repr(pids))
        elif preloaded:
            check(bpid not in pids, "the %d events went through the notifier worker" % lines, repr(pids))
        else:
            check(pids == {bpid}, "the committing backend sent them", repr(pids))

    with reader.cursor() as cur:
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
