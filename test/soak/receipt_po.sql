-- test/soak/receipt_po.sql: an issued purchase order arrives. Half of the time one line
-- of it, else the whole order: one INSERT of all its open lines in sku order. Two clients
-- may receive the same order at once: the second delivery is an over-receipt (allowed).
\set off random(0, 3)
\set whole random(0, 1)
INSERT INTO backorder.receipt (sku, qty, po_id)
SELECT l.sku, l.qty - l.received_qty, l.po_id
  FROM backorder.purchase_order_line l
 WHERE l.po_id = (SELECT p.po_id FROM backorder.purchase_order p
                   WHERE p.status = 'issued' ORDER BY p.po_id LIMIT 1 OFFSET :off)
   AND l.received_qty < l.qty
   AND (:whole = 1 OR l.sku = (SELECT min(l2.sku) FROM backorder.purchase_order_line l2
                                WHERE l2.po_id = l.po_id AND l2.received_qty < l2.qty))
 ORDER BY l.sku;
