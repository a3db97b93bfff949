-- test/soak/ship.sql: ship the oldest allocated lines of an item (up to 10 lines, all
-- their allocated units; or 1 unit of the oldest), from soak_floor.ship_from on.
-- Skips lines of ship-complete orders that still wait. Between the SELECT and the
-- engine's lock another session may ship, cancel or take back those units (BO003) or
-- make the order wait again (BO007): caught and counted. May find nothing: fine.
-- A transaction-level advisory try-lock per line (harness bookkeeping, never waits) keeps
-- clients that ship the same hot item from all picking the same oldest lines.
\set k random_zipfian(1, 205, 1.5)
\set part random(1, 8)
DO $$
BEGIN
    INSERT INTO backorder.shipment (line_id, qty)
    SELECT l.line_id, CASE WHEN :part = 1 THEN 1 ELSE l.allocated_qty END
      FROM backorder.order_line l
     WHERE l.sku = soak_sku(:k)
       AND l.line_id >= (SELECT f.ship_from FROM soak_floor f WHERE f.sku = soak_sku(:k))
       AND l.allocated_qty > 0
       AND NOT EXISTS (SELECT 1 FROM backorder.customer_order o
                         JOIN backorder.order_line w ON w.order_ref = o.order_ref
                        WHERE o.order_ref = l.order_ref AND o.ship_complete
                          AND w.backordered_qty > 0)
       AND pg_try_advisory_xact_lock(2, l.line_id::int)
     ORDER BY l.line_id
     LIMIT CASE WHEN :part = 1 THEN 1 ELSE 10 END;
EXCEPTION WHEN SQLSTATE 'BO003' OR SQLSTATE 'BO007' THEN
    INSERT INTO soak_caught (script, sqlstate) VALUES ('ship', SQLSTATE);
END $$;
