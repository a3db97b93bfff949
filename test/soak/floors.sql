-- test/soak/floors.sql: housekeeping for the soak's own bookkeeping (not the engine):
-- move an item's soak_floor up to its oldest line that is still open.
\set k random_zipfian(1, 205, 1.5)
UPDATE soak_floor f
   SET line_id = coalesce((SELECT min(l.line_id) FROM backorder.order_line l
                            WHERE l.sku = f.sku AND l.line_id >= f.line_id
                              AND (l.allocated_qty > 0 OR l.backordered_qty > 0)),
                          (SELECT max(l.line_id) + 1 FROM backorder.order_line l WHERE l.sku = f.sku),
                          f.line_id)
 WHERE f.sku = soak_sku(:k);
