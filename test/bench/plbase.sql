-- plbase: the baseline to beat, a straightforward PL/pgSQL version of the engine's rules for
-- order lines, receipts and shipments (row triggers; one SELECT ... FOR UPDATE of the item per
-- row).
-- Like the engine it writes an event row and a NOTIFY per event. Its queue is the obvious
-- partial index on waiting lines (the engine keeps item.queue_head instead, which plbase
-- leaves unused); schema_diff.sql expects exactly that difference.
CREATE INDEX order_line_queue_idx ON plbase.order_line (sku, line_id) WHERE backordered_qty > 0;

CREATE FUNCTION plbase.order_line_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    it  plbase.item;
    eid bigint;
BEGIN
    IF NEW.qty IS NULL OR NEW.qty <= 0 THEN
        RAISE EXCEPTION 'order line quantity must be positive' USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO it FROM plbase.item WHERE sku = NEW.sku FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown sku %', NEW.sku USING ERRCODE = 'foreign_key_violation';
    END IF;

    NEW.allocated_qty   := least(NEW.qty, greatest(it.on_hand - it.allocated, 0));
    NEW.backordered_qty := NEW.qty - NEW.allocated_qty;
    IF NEW.backordered_qty > 0 AND it.policy = 'deny' THEN
        RAISE EXCEPTION 'not enough stock for sku %', NEW.sku USING ERRCODE = 'check_violation';
    END IF;
    IF it.backordered + NEW.backordered_qty > it.backorder_limit THEN
        RAISE EXCEPTION 'backorder limit of sku % exceeded', NEW.sku USING ERRCODE = 'check_violation';
    END IF;

    NEW.line_id       := nextval('plbase.order_line_line_id_seq');  -- under the item lock: queue order
    NEW.shipped_qty   := 0;
    NEW.cancelled_qty := 0;
    NEW.status := CASE WHEN NEW.backordered_qty = 0 THEN 'allocated'
                       WHEN NEW.allocated_qty = 0 THEN 'backordered'
                       ELSE 'partially_allocated' END;
    NEW.placed_at    := now();
    NEW.allocated_at := CASE WHEN NEW.backordered_qty = 0 THEN now() END;

    UPDATE plbase.item
       SET allocated = allocated + NEW.allocated_qty,
           backordered = backordered + NEW.backordered_qty
     WHERE sku = NEW.sku;

    IF NEW.allocated_qty > 0 THEN
        INSERT INTO plbase.event (at, kind, sku, order_ref, line_id, qty)
        VALUES (now(), 'line_allocated', NEW.sku, NEW.order_ref, NEW.line_id, NEW.allocated_qty)
        RETURNING event_id INTO eid;
        PERFORM pg_notify('backorder_events', eid::text);
    END IF;
    IF NEW.backordered_qty > 0 THEN
        INSERT INTO plbase.event (at, kind, sku, order_ref, line_id, qty)
        VALUES (now(), 'line_backordered', NEW.sku, NEW.order_ref, NEW.line_id, NEW.backordered_qty)
        RETURNING event_id INTO eid;
        PERFORM pg_notify('backorder_events', eid::text);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER order_line_insert BEFORE INSERT ON plbase.order_line
    FOR EACH ROW EXECUTE FUNCTION plbase.order_line_insert();

CREATE FUNCTION plbase.receipt_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    it   plbase.item;
    free bigint;
    take bigint;
    l    record;
    eid  bigint;
BEGIN
    IF NEW.qty IS NULL OR NEW.qty <= 0 THEN
        RAISE EXCEPTION 'receipt quantity must be positive' USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO it FROM plbase.item WHERE sku = NEW.sku FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown sku %', NEW.sku USING ERRCODE = 'foreign_key_violation';
    END IF;

    NEW.received_at   := now();
    NEW.allocated_qty := 0;
    free := it.on_hand + NEW.qty - it.allocated;

    -- fill the queue oldest line first; the last one filled may be filled partially
    IF free > 0 AND it.backordered > 0 THEN
        FOR l IN SELECT line_id, order_ref, backordered_qty FROM plbase.order_line
                  WHERE sku = NEW.sku AND backordered_qty > 0
                  ORDER BY line_id
        LOOP
            take := least(l.backordered_qty, free);
            UPDATE plbase.order_line
               SET allocated_qty = allocated_qty + take,
                   backordered_qty = backordered_qty - take,
                   status = CASE WHEN backordered_qty = take THEN 'allocated'
                                 ELSE 'partially_allocated' END::plbase.line_status,
                   allocated_at = CASE WHEN backordered_qty = take THEN now() END
             WHERE line_id = l.line_id;
            INSERT INTO plbase.event (at, kind, sku, order_ref, line_id, qty)
            VALUES (now(), 'line_allocated', NEW.sku, l.order_ref, l.line_id, take)
            RETURNING event_id INTO eid;
            PERFORM pg_notify('backorder_events', eid::text);
            NEW.allocated_qty := NEW.allocated_qty + take;
            free := free - take;
            EXIT WHEN free = 0;
        END LOOP;
    END IF;

    UPDATE plbase.item
       SET on_hand = on_hand + NEW.qty,
           allocated = allocated + NEW.allocated_qty,
           backordered = backordered - NEW.allocated_qty
     WHERE sku = NEW.sku;
    RETURN NEW;
END
$$;

CREATE TRIGGER receipt_insert BEFORE INSERT ON plbase.receipt
    FOR EACH ROW EXECUTE FUNCTION plbase.receipt_insert();

CREATE FUNCTION plbase.shipment_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    l   plbase.order_line;
    eid bigint;
BEGIN
    IF NEW.qty IS NULL OR NEW.qty <= 0 THEN
        RAISE EXCEPTION 'shipment quantity must be positive' USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO l FROM plbase.order_line WHERE line_id = NEW.line_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown order line %', NEW.line_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    PERFORM 1 FROM plbase.item WHERE sku = l.sku FOR UPDATE;
    SELECT * INTO l FROM plbase.order_line WHERE line_id = NEW.line_id;   -- as of the lock
    IF NEW.qty > l.allocated_qty THEN
        RAISE EXCEPTION 'cannot ship % units of order line %', NEW.qty, NEW.line_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM plbase.customer_order o WHERE o.order_ref = l.order_ref AND o.ship_complete)
       AND EXISTS (SELECT 1 FROM plbase.order_line w
                    WHERE w.order_ref = l.order_ref AND w.backordered_qty > 0) THEN
        RAISE EXCEPTION 'order % ships complete and still has waiting lines', l.order_ref
            USING ERRCODE = 'check_violation';
    END IF;

    UPDATE plbase.order_line
       SET allocated_qty = allocated_qty - NEW.qty,
           shipped_qty = shipped_qty + NEW.qty,
           status = CASE WHEN backordered_qty > 0 THEN 'partially_allocated'
                         WHEN allocated_qty - NEW.qty > 0 THEN 'allocated'
                         ELSE 'shipped' END::plbase.line_status
     WHERE line_id = NEW.line_id;
    UPDATE plbase.item
       SET on_hand = on_hand - NEW.qty, allocated = allocated - NEW.qty
     WHERE sku = l.sku;
    INSERT INTO plbase.event (at, kind, sku, order_ref, line_id, qty)
    VALUES (now(), 'line_shipped', l.sku, l.order_ref, NEW.line_id, NEW.qty)
    RETURNING event_id INTO eid;
    PERFORM pg_notify('backorder_events', eid::text);
    NEW.shipped_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER shipment_insert BEFORE INSERT ON plbase.shipment
    FOR EACH ROW EXECUTE FUNCTION plbase.shipment_insert();
