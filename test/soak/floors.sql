-- test/soak/floors.sql: housekeeping of the soak's own bookkeeping (not the engine):
-- move an item's soak_floor.line_id up to its oldest line that is still open, and set
-- ship_from to its oldest allocated line that a waiting ship-complete order does not hold
-- back (no such line: just past its newest line).
-- Without open lines the floor goes just past the newest line: a line inserted later gets
-- a greater line_id (line_id is taken while the item is locked, so committed lines of an
-- item are numbered in order).
\set k random_zipfian(1, 205, 1.5)
UPDATE soak_floor f
   SET line_id = n.line_id,
       ship_from = coalesce((SELECT min(l.line_id) FROM backorder.order_line l
                              WHERE l.sku = f.sku AND l.line_id >= n.line_id
                                AND l.allocated_qty > 0
                                AND NOT EXISTS (SELECT 1 FROM backorder.customer_order o
                                                  JOIN backorder.order_line w ON w.order_ref = o.order_ref
                                                 WHERE o.order_ref = l.order_ref AND o.ship_complete
                                                   AND w.backordered_qty > 0)),
                            n.line_id)
  FROM (SELECT coalesce((SELECT min(l.line_id) FROM backorder.order_line l
                          WHERE l.sku = soak_sku(:k)
                            AND l.line_id >= (SELECT line_id FROM soak_floor WHERE sku = soak_sku(:k))
                            AND (l.allocated_qty > 0 OR l.backordered_qty > 0)),
                        (SELECT max(l.line_id) + 1 FROM backorder.order_line l
                          WHERE l.sku = soak_sku(:k)),
                        0) AS line_id) n
 WHERE f.sku = soak_sku(:k);
