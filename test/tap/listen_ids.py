#!/usr/bin/env python3
"""Listen on channel backorder_events and print every payload heard, one per line.

Usage: listen_ids.py CONNSTR STOPFILE

Prints "ready" once it listens. Collects notifications until STOPFILE exists and holds
a number N and N different payloads were heard (or, when it holds no number, nothing more
has come for three seconds), or 120 seconds after STOPFILE appeared; then prints "heard N"
followed by each payload on its own line, in the order heard (duplicates included). A
helper of 005_notifier.pl, not a test of its own.
"""
import os
import select
import sys
import time

import psycopg2

conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
conn.cursor().execute("LISTEN backorder_events")
print("ready", flush=True)

heard = []
stop_seen = None
want = None
last = time.monotonic()
while True:
    if select.select([conn], [], [], 0.2) != ([], [], []):
        conn.poll()
        while conn.notifies:
            heard.append(conn.notifies.pop(0).payload)
            last = time.monotonic()
    now = time.monotonic()
    if stop_seen is None and os.path.exists(sys.argv[2]):
        stop_seen = now
        text = open(sys.argv[2]).read().strip()
        want = int(text) if text.isdigit() else None
    if stop_seen is not None:
        if want is not None and len(set(heard)) >= want:
            break
        if want is None and now - max(last, stop_seen) > 3:
            break
        if now - stop_seen > 120:
            break
print("heard %d" % len(heard))
for p in heard:
    print(p)
