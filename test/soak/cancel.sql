-- test/soak/cancel.sql: cancel an open line of an item: the head of its queue or one of
-- its newest open lines; everything still open (qty NULL) or 1 unit. Another session may
-- have finished the line meanwhile (BO004): caught and counted.
\set k random_zipfian(1, 205, 1.5)
\set head random(0, 1)
\set off random(0, 5)
\set part random(1, 3)
DO $$
DECLARE
    target bigint;
BEGIN
    IF :head = 1 THEN
        SELECT l.line_id INTO target FROM backorder.order_line l
         WHERE l.sku = soak_sku(:k) AND l.backordered_qty > 0
         ORDER BY l.line_id LIMIT 1;
    ELSE
        SELECT l.line_id INTO target FROM backorder.order_line l
         WHERE l.sku = soak_sku(:k)
           AND l.line_id >= (SELECT f.line_id FROM soak_floor f WHERE f.sku = soak_sku(:k))
           AND (l.allocated_qty > 0 OR l.backordered_qty > 0)
         ORDER BY l.line_id DESC LIMIT 1 OFFSET :off;
    END IF;
    IF target IS NOT NULL THEN
        INSERT INTO backorder.cancellation (line_id, qty, reason)
        VALUES (target, CASE WHEN :part = 1 THEN 1 END, 'soak');
    END IF;
EXCEPTION WHEN SQLSTATE 'BO004' THEN
    INSERT INTO soak_caught (script, sqlstate) VALUES ('cancel', SQLSTATE);
END $$;
