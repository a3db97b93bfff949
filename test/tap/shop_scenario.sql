-- shop_scenario.sql: the state that 002_hot_standby.pl and 004_dump_restore.pl start from,
-- run by each in one psql call in a database where backorder is not created yet.
--
-- A day in the life of a small shop: suppliers with buffered purchase orders, items of each
-- policy, orders that allocate, wait, ship and get cancelled, stock corrections, and
-- purchase orders in draft, issued, received and cancelled state. The engine's clock is
-- fixed so that placed_at, issued_at and expected_at are the same on every run.
CREATE EXTENSION backorder;
SET backorder.clock = '2026-01-05 09:00+00';
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty, po_max_wait) VALUES
    ('ACME', 'Acme Tools', '5 days', 10, '2 days'),
    ('SLOW', 'Slow & Co', '14 days', 1, NULL),
    ('BULK', 'Bulk Ltd', '30 days', 1000, '7 days');
INSERT INTO backorder.item (sku, supplier_id, policy, backorder_limit, pack_size) VALUES
    ('A', 'ACME', 'backorder', NULL, 5),
    ('B', 'ACME', 'backorder', NULL, 1),
    ('C', 'SLOW', 'backorder', 100, 1),
    ('D', 'BULK', 'preorder', NULL, 10),
    ('E', NULL, 'deny', NULL, 1),
    ('F', NULL, 'backorder', NULL, 1);
INSERT INTO backorder.receipt (sku, qty) VALUES ('A', 3), ('B', 4), ('C', 2), ('E', 10), ('F', 1);
INSERT INTO backorder.customer_order (order_ref, ship_complete) VALUES ('o-complete', true);
SET backorder.clock = '2026-01-05 10:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o-1', 'A', 8);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o-2', 'B', 6);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o-3', 'E', 4), ('o-3', 'F', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o-complete', 'C', 5), ('o-complete', 'E', 1);
SET backorder.clock = '2026-01-06 10:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o-4', 'A', 6);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o-5', 'D', 20);
SET backorder.clock = '2026-01-09 10:00+00';
INSERT INTO backorder.receipt (sku, qty, po_id)
SELECT pl.sku, pl.qty, pl.po_id
  FROM backorder.purchase_order_line pl JOIN backorder.purchase_order p USING (po_id)
 WHERE p.supplier_id = 'ACME' AND p.status = 'issued' ORDER BY pl.sku;
INSERT INTO backorder.receipt (sku, qty, po_id)
SELECT 'C', 1, po_id FROM backorder.purchase_order WHERE supplier_id = 'SLOW' AND status = 'issued';
SET backorder.clock = '2026-01-10 10:00+00';
INSERT INTO backorder.shipment (line_id, qty)
SELECT line_id, allocated_qty FROM backorder.order_line WHERE order_ref = 'o-1';
INSERT INTO backorder.shipment (line_id, qty)
SELECT line_id, 2 FROM backorder.order_line WHERE order_ref = 'o-3' AND sku = 'E';
INSERT INTO backorder.cancellation (line_id, reason)
SELECT line_id, 'customer changed mind' FROM backorder.order_line WHERE order_ref = 'o-3' AND sku = 'F';
INSERT INTO backorder.cancellation (line_id, qty)
SELECT line_id, 1 FROM backorder.order_line WHERE order_ref = 'o-4';
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('E', -1, 'damaged'), ('F', 5, 'found in aisle 3');
SET backorder.clock = '2026-01-20 10:00+00';
SELECT backorder.cancel_purchase_order(po_id) FROM backorder.purchase_order
 WHERE supplier_id = 'BULK' AND status = 'draft';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o-6', 'B', 3);
