-- test/soak/receipt_po.sql: an issued purchase order arrives: one of the three oldest,
-- all its open lines in one INSERT, in sku order (items are locked in that order).
-- One line in 8 arrives short by one unit, so some orders stay open and are completed
-- by later receipts. Two clients may receive the same order at once: the second delivery
-- is an over-receipt (allowed; event po_over_received): a transaction-level advisory try-lock
-- on the order (harness bookkeeping, never waits) keeps that rare, so that deliveries do
-- not flood the items with surplus stock.
\set off random(0, 2)
INSERT INTO backorder.receipt (sku, qty, po_id)
SELECT l.sku, l.qty - l.received_qty - CASE WHEN l.qty - l.received_qty > 1 AND random() < 0.125
                                            THEN 1 ELSE 0 END, l.po_id
  FROM backorder.purchase_order_line l
 WHERE l.po_id = (SELECT p.po_id FROM backorder.purchase_order p
                   WHERE p.status = 'issued' ORDER BY p.po_id LIMIT 1 OFFSET :off)
   AND pg_try_advisory_xact_lock(1, l.po_id::int)
   AND l.received_qty < l.qty
 ORDER BY l.sku;
