-- backorder demo: a flash sale, step by step.
-- Run it on a throw-away cluster with:  bash test/demo.sh
-- (or on any database where you may create the extension:  psql -X -f test/demo.sql)
\set ON_ERROR_STOP 1
\set QUIET 1
\pset null '-'
\pset footer off

CREATE EXTENSION IF NOT EXISTS backorder;

\echo
\echo '=== Step 1. A supplier, one item, and 50 units of stock'
\echo 'Stock is never typed into a counter: it arrives as a row in backorder.receipt.'
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty, po_max_wait)
VALUES ('acme', 'Acme Textiles', interval '5 days', 100, interval '2 days');

INSERT INTO backorder.item (sku, supplier_id, policy)
VALUES ('TEE-RED-M', 'acme', 'backorder');

INSERT INTO backorder.receipt (sku, qty) VALUES ('TEE-RED-M', 50);

\echo
\echo 'The item after the receipt (expect on_hand 50, available 50):'
SELECT sku, on_hand, allocated, backordered, available
FROM backorder.item WHERE sku = 'TEE-RED-M';

\echo
\echo '=== Step 2. The flash sale: 12 orders for 80 units, in one multi-row INSERT'
\echo 'Each line takes what is free (min(qty, on_hand - allocated)) and backorders the rest,'
\echo 'in the order the lines commit: the first 50 units go to the oldest lines.'
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES
    ('SO-1001', 'TEE-RED-M',  5),
    ('SO-1002', 'TEE-RED-M',  8),
    ('SO-1003', 'TEE-RED-M',  3),
    ('SO-1004', 'TEE-RED-M', 10),
    ('SO-1005', 'TEE-RED-M',  6),
    ('SO-1006', 'TEE-RED-M',  4),
    ('SO-1007', 'TEE-RED-M',  9),
    ('SO-1008', 'TEE-RED-M',  7),
    ('SO-1009', 'TEE-RED-M',  2),
    ('SO-1010', 'TEE-RED-M', 12),
    ('SO-1011', 'TEE-RED-M',  6),
    ('SO-1012', 'TEE-RED-M',  8);

\echo
\echo 'The lines: SO-1001..SO-1007 (45 units) are allocated, SO-1008 gets the last 5 of its 7'
\echo '(partially_allocated), SO-1009..SO-1012 wait in the queue (backordered):'
SELECT line_id, order_ref, qty, allocated_qty, backordered_qty, status
FROM backorder.order_line WHERE sku = 'TEE-RED-M' ORDER BY line_id;

\echo
\echo 'The item: every unit on hand is allocated and 30 units are owed to customers,'
\echo 'so available = on_hand - allocated - backordered = 50 - 50 - 30 = -30 (stock may go negative):'
SELECT sku, on_hand, allocated, backordered, available
FROM backorder.item WHERE sku = 'TEE-RED-M';

\echo
\echo '=== Step 3. A receipt of 40 units'
\echo 'The new stock goes to the head of the queue first, oldest line first: SO-1008 gets its'
\echo 'missing 2, then SO-1009, SO-1010, SO-1011 and SO-1012 in turn. 30 units fill the queue,'
\echo 'the other 10 stay free.'
INSERT INTO backorder.receipt (sku, qty) VALUES ('TEE-RED-M', 40);

\echo
\echo 'The receipts (allocated_qty: how much of each went straight to waiting lines):'
SELECT receipt_id, sku, qty, allocated_qty
FROM backorder.receipt WHERE sku = 'TEE-RED-M' ORDER BY receipt_id;

\echo
\echo 'The lines: all allocated now, nothing waits:'
SELECT line_id, order_ref, qty, allocated_qty, backordered_qty, status
FROM backorder.order_line WHERE sku = 'TEE-RED-M' ORDER BY line_id;

\echo
\echo 'The item (expect on_hand 90, allocated 80, backordered 0, available 10):'
SELECT sku, on_hand, allocated, backordered, available
FROM backorder.item WHERE sku = 'TEE-RED-M';

\echo
\echo '=== Step 4. backorder.verify(): one row per broken invariant (no rows: all hold)'
\pset footer on
SELECT * FROM backorder.verify();
