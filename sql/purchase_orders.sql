-- Purchase-order buffering, with the engine's clock fixed.
-- every worked example starts from an empty ledger
SET client_min_messages = warning;
DROP EXTENSION backorder CASCADE;
CREATE EXTENSION backorder;
RESET client_min_messages;
\pset footer off
SET backorder.clock = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty, po_max_wait)
VALUES ('nord', 'Nordic Wool', '10 days', 24, '3 days');
INSERT INTO backorder.item (sku, supplier_id, pack_size) VALUES
    ('SCARF', 'nord', 6), ('MITTEN', 'nord', 12);
INSERT INTO backorder.item (sku) VALUES ('LOCAL');   -- no supplier: never ordered

-- 4 scarves wait: the draft gets one pack of 6 (rounded up), not yet 24 in total
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('A', 'SCARF', 4), ('A', 'LOCAL', 2);
SELECT po_id, supplier_id, status, created_at, issued_at FROM backorder.purchase_order ORDER BY po_id;
SELECT po_id, sku, qty, received_qty, first_demand_at FROM backorder.purchase_order_line ORDER BY po_id, sku;
SELECT sku, backordered, incoming FROM backorder.item ORDER BY sku;

-- 3 more scarves: 7 waiting -> 12 in the draft; never twice for the same unit
SET backorder.clock = '2026-03-02 10:00:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('B', 'SCARF', 3);
SELECT po_id, sku, qty FROM backorder.purchase_order_line ORDER BY po_id, sku;

-- a cancelled backorder shrinks the draft: 4 waiting -> one pack of 6
INSERT INTO backorder.cancellation (line_id, qty) SELECT line_id, NULL FROM backorder.order_line WHERE order_ref = 'B';
SELECT po_id, sku, qty FROM backorder.purchase_order_line ORDER BY po_id, sku;

-- mittens: 10 waiting -> a pack of 12; draft total 18 < 24, still a draft
SET backorder.clock = '2026-03-03 08:00:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('C', 'MITTEN', 10);
SELECT po_id, status, (SELECT sum(qty) FROM backorder.purchase_order_line l WHERE l.po_id = p.po_id) AS total
  FROM backorder.purchase_order p ORDER BY po_id;

-- nothing is due yet: the oldest demand (09:00 on the 2nd) has waited less than 3 days
SELECT * FROM backorder.issue_due_purchase_orders('2026-03-05 08:59:00+00');
-- three days later it is issued, expected after the 10-day lead time
SELECT * FROM backorder.issue_due_purchase_orders('2026-03-05 09:00:00+00');
SELECT po_id, status, issued_at, expected_at FROM backorder.purchase_order ORDER BY po_id;

-- new demand goes to a new draft; 30 more mittens push it over 24: issued at that commit
SET backorder.clock = '2026-03-06 12:00:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('D', 'MITTEN', 30);
SELECT po_id, status, issued_at, expected_at FROM backorder.purchase_order ORDER BY po_id;
SELECT po_id, sku, qty, received_qty FROM backorder.purchase_order_line ORDER BY po_id, sku;
SELECT sku, on_hand, backordered, incoming FROM backorder.item ORDER BY sku;

-- the first order arrives: booked against it, fills the queues; it is received
SET backorder.clock = '2026-03-15 07:00:00+00';
INSERT INTO backorder.receipt (sku, qty, po_id) VALUES ('SCARF', 6, 1), ('MITTEN', 12, 1);
SELECT po_id, status, received_at FROM backorder.purchase_order ORDER BY po_id;
SELECT sku, on_hand, allocated, backordered, incoming, available FROM backorder.item ORDER BY sku;

-- a receipt without po_id books against the oldest issued order; more than ordered is allowed
INSERT INTO backorder.receipt (sku, qty) VALUES ('MITTEN', 40);
SELECT po_id, sku, qty, received_qty FROM backorder.purchase_order_line ORDER BY po_id, sku;
SELECT po_id, status FROM backorder.purchase_order ORDER BY po_id;
SELECT kind, sku, po_id, qty FROM backorder.event WHERE kind LIKE 'po%' ORDER BY event_id;

-- bad input: a purchase order of another supplier
INSERT INTO backorder.supplier (supplier_id, name) VALUES ('other', 'Other');
INSERT INTO backorder.item (sku, supplier_id) VALUES ('GLOVE', 'other');
INSERT INTO backorder.receipt (sku, qty, po_id) VALUES ('GLOVE', 1, 1);
INSERT INTO backorder.receipt (sku, qty, po_id) VALUES ('SCARF', 1, 999);
-- cancelling: a received order cannot be; a draft can, its demand returns to a new draft
SELECT backorder.cancel_purchase_order(1);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('E', 'SCARF', 10);
SELECT po_id, status FROM backorder.purchase_order ORDER BY po_id;
SELECT backorder.cancel_purchase_order(3);
SELECT po_id, status, cancelled_at FROM backorder.purchase_order ORDER BY po_id;
SELECT po_id, sku, qty FROM backorder.purchase_order_line WHERE po_id >= 3 ORDER BY po_id, sku;
SELECT sku, backordered, incoming FROM backorder.item ORDER BY sku;
SELECT count(*) AS broken_invariants FROM backorder.verify();
RESET backorder.clock;
