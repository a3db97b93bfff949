-- The demo (test/demo.sql) as a worked example: a flash sale, then a second wave of
-- orders and a receipt that fills the queue head partially.
-- every worked example starts from an empty ledger
SET client_min_messages = warning;
DROP EXTENSION backorder CASCADE;
CREATE EXTENSION backorder;
RESET client_min_messages;
\i test/demo.sql
\pset footer off

-- a second wave: 17 units against 10 free ones; the last 7 wait
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES
    ('SO-2001', 'TEE-RED-M', 6), ('SO-2002', 'TEE-RED-M', 7), ('SO-2003', 'TEE-RED-M', 4);
SELECT line_id, order_ref, qty, allocated_qty, backordered_qty, status
  FROM backorder.order_line WHERE order_ref LIKE 'SO-2%' ORDER BY line_id;
-- 5 units arrive: SO-2002 is the head (it got 4 of 7 at placement), it takes 3,
-- and SO-2003 gets 2 of its 4: filled partially at the head
INSERT INTO backorder.receipt (sku, qty) VALUES ('TEE-RED-M', 5);
SELECT line_id, order_ref, qty, allocated_qty, backordered_qty, status
  FROM backorder.order_line WHERE order_ref LIKE 'SO-2%' ORDER BY line_id;
SELECT on_hand, allocated, backordered, available FROM backorder.item WHERE sku = 'TEE-RED-M';
SELECT kind, count(*), sum(qty) FROM backorder.event WHERE sku = 'TEE-RED-M' GROUP BY kind ORDER BY kind;
SELECT count(*) AS broken_invariants FROM backorder.verify();
