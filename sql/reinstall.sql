-- DROP and CREATE EXTENSION in the middle of a session that used the engine: the backend
-- caches the OIDs of the engine's tables, enum labels and whether it may write a table
-- directly; all of them must be looked up again for the new objects.
SET client_min_messages = warning;
DROP EXTENSION backorder CASCADE;
CREATE EXTENSION backorder;
RESET client_min_messages;
INSERT INTO backorder.item (sku, policy) VALUES ('MUG', 'backorder');
INSERT INTO backorder.receipt (sku, qty) VALUES ('MUG', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('R-1', 'MUG', 3);
INSERT INTO backorder.receipt (sku, qty) VALUES ('MUG', 1);
SELECT order_ref, allocated_qty, backordered_qty, status FROM backorder.order_line ORDER BY line_id;

-- again, with the caches full of the old objects' OIDs
SET client_min_messages = warning;
DROP EXTENSION backorder CASCADE;
CREATE EXTENSION backorder;
RESET client_min_messages;
INSERT INTO backorder.item (sku, policy) VALUES ('MUG', 'preorder');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('R-2', 'MUG', 2);
INSERT INTO backorder.receipt (sku, qty) VALUES ('MUG', 1);
SELECT order_ref, allocated_qty, backordered_qty, status FROM backorder.order_line ORDER BY line_id;
SELECT kind, qty FROM backorder.event ORDER BY event_id;
SELECT on_hand, allocated, backordered FROM backorder.item;

-- a shop trigger added in this session: the engine stops writing order lines directly
-- (bo_direct_ok's cached answer is dropped with the table's relcache entry) and the
-- receipt's fill goes through the executor, where the trigger sees it
CREATE TABLE fills (line_id bigint, allocated_qty bigint);
-- (it runs as the tables' owner for whoever inserted the receipt, so it is written like a
-- SECURITY DEFINER function: its own search_path, pg_temp last)
CREATE FUNCTION note_fill() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN INSERT INTO fills VALUES (NEW.line_id, NEW.allocated_qty); RETURN NEW; END $$;
CREATE TRIGGER note_fill AFTER UPDATE ON backorder.order_line
    FOR EACH ROW EXECUTE FUNCTION note_fill();
INSERT INTO backorder.receipt (sku, qty) VALUES ('MUG', 1);
SELECT f.allocated_qty, l.order_ref FROM fills f JOIN backorder.order_line l USING (line_id);
DROP TRIGGER note_fill ON backorder.order_line;
SELECT count(*) AS broken_invariants FROM backorder.verify();
