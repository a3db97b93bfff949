-- backorder install script, part 2: the C engine's triggers and functions.

CREATE FUNCTION backorder.order_line_commit_stock() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_order_line_insert';
CREATE FUNCTION backorder.receipt_fill_queue() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_receipt_insert';
CREATE FUNCTION backorder.shipment_release() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_shipment_insert';
CREATE FUNCTION backorder.cancellation_release() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_cancellation_insert';
CREATE FUNCTION backorder.adjustment_apply() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_adjustment_insert';
CREATE FUNCTION backorder.ledger_flush() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_flush';
CREATE FUNCTION backorder.purchase_sync() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_po_sync';
CREATE FUNCTION backorder.supplier_issue_due() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_supplier_issue';
CREATE FUNCTION backorder.ledger_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_ledger_guard';
CREATE FUNCTION backorder.item_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_item_guard';

-- Row triggers do the work and store each ledger row once with its final state; the
-- statement trigger writes item counters and events once per statement. Triggers of one
-- kind fire in name order: the row triggers' names start with "zz_" so that they fire
-- after any BEFORE trigger a shop adds (the engine must see the row exactly as it will be
-- stored), and the statement trigger's with "0_" so that it fires before any AFTER
-- STATEMENT trigger of the shop's (which then reads the statement's counters and events).
-- A shop trigger on the wrong side of the engine's fails the statement (55000).
CREATE TRIGGER zz_commit_stock BEFORE INSERT ON backorder.order_line
    FOR EACH ROW EXECUTE FUNCTION backorder.order_line_commit_stock();
CREATE TRIGGER zz_fill_queue BEFORE INSERT ON backorder.receipt
    FOR EACH ROW EXECUTE FUNCTION backorder.receipt_fill_queue();
CREATE TRIGGER zz_release BEFORE INSERT ON backorder.shipment
    FOR EACH ROW EXECUTE FUNCTION backorder.shipment_release();
CREATE TRIGGER zz_release BEFORE INSERT ON backorder.cancellation
    FOR EACH ROW EXECUTE FUNCTION backorder.cancellation_release();
CREATE TRIGGER zz_apply BEFORE INSERT ON backorder.adjustment
    FOR EACH ROW EXECUTE FUNCTION backorder.adjustment_apply();

CREATE TRIGGER "0_flush" AFTER INSERT ON backorder.order_line
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_flush();
CREATE TRIGGER "0_flush" AFTER INSERT ON backorder.receipt
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_flush();
CREATE TRIGGER "0_flush" AFTER INSERT ON backorder.shipment
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_flush();
CREATE TRIGGER "0_flush" AFTER INSERT ON backorder.cancellation
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_flush();
CREATE TRIGGER "0_flush" AFTER INSERT ON backorder.adjustment
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_flush();

-- Purchase-order buffering runs at commit (see src/purchase.c for why). The first firing
-- does the work of the transaction and the others return at once. No WHEN clause: the
-- executor would parse and compile it again at every INSERT statement, while the statement
-- holds its item's lock (about 6 us of a single-line order); an event for each line costs
-- a bulk insert far less (about 0.3 us a line).
CREATE CONSTRAINT TRIGGER purchase_sync AFTER INSERT ON backorder.order_line
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION backorder.purchase_sync();
CREATE CONSTRAINT TRIGGER purchase_sync AFTER INSERT ON backorder.receipt
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION backorder.purchase_sync();
CREATE CONSTRAINT TRIGGER purchase_sync AFTER INSERT ON backorder.cancellation
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION backorder.purchase_sync();
CREATE CONSTRAINT TRIGGER purchase_sync AFTER INSERT ON backorder.adjustment
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION backorder.purchase_sync();
-- an item that changes supplier or pack size: its purchase-order lines follow at commit
CREATE CONSTRAINT TRIGGER purchase_sync AFTER UPDATE ON backorder.item
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.supplier_id IS DISTINCT FROM NEW.supplier_id
          OR OLD.pack_size OPERATOR(pg_catalog.<>) NEW.pack_size)
    EXECUTE FUNCTION backorder.purchase_sync();
-- a supplier whose po_min_qty or po_max_wait changed: its draft is issued at commit if due
CREATE CONSTRAINT TRIGGER issue_due AFTER UPDATE ON backorder.supplier
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.po_min_qty OPERATOR(pg_catalog.<>) NEW.po_min_qty
          OR OLD.po_max_wait IS DISTINCT FROM NEW.po_max_wait)
    EXECUTE FUNCTION backorder.supplier_issue_due();

-- The ledger is append-only; purchase orders change only through the engine.
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON backorder.order_line
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_guard();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON backorder.receipt
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_guard();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON backorder.shipment
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_guard();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON backorder.cancellation
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_guard();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON backorder.adjustment
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_guard();
CREATE TRIGGER engine_only BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON backorder.purchase_order
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_guard();
CREATE TRIGGER engine_only BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON backorder.purchase_order_line
    FOR EACH STATEMENT EXECUTE FUNCTION backorder.ledger_guard();
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OR DELETE ON backorder.item
    FOR EACH ROW EXECUTE FUNCTION backorder.item_guard();

CREATE FUNCTION backorder.issue_due_purchase_orders(as_of timestamptz DEFAULT pg_catalog.now())
    RETURNS SETOF bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_issue_due_purchase_orders';
COMMENT ON FUNCTION backorder.issue_due_purchase_orders(timestamptz) IS
    'issue every draft purchase order that reached its supplier''s minimum or whose oldest demand waited po_max_wait; returns their ids';

CREATE FUNCTION backorder.cancel_purchase_order(po_id bigint) RETURNS void
    LANGUAGE c AS 'MODULE_PATHNAME', 'bo_cancel_purchase_order';
COMMENT ON FUNCTION backorder.cancel_purchase_order(bigint) IS
    'cancel a draft or issued purchase order; the units it still missed return to the supplier''s draft';

-- Delete events older than a point in time; returns how many were deleted.
CREATE FUNCTION backorder.purge_events(older_than timestamptz) RETURNS bigint
    LANGUAGE sql STRICT
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH gone AS (DELETE FROM backorder.event WHERE at OPERATOR(pg_catalog.<) older_than
                      RETURNING 1)
        SELECT pg_catalog.count(*) FROM gone;
    END;

-- The notifier's rings (one per database it serves; see README, Events): for monitoring.
CREATE FUNCTION backorder.notifier_rings(OUT ring integer, OUT datid oid, OUT worker_pid integer,
                                         OUT starting boolean, OUT waiting_runs bigint)
    RETURNS SETOF record
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'bo_notifier_rings';
COMMENT ON FUNCTION backorder.notifier_rings() IS
    'the notifier''s rings in use: database, worker pid (NULL: none), whether a worker is being started, runs of event ids waiting';
REVOKE ALL ON FUNCTION backorder.notifier_rings() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION backorder.notifier_rings() TO pg_monitor;

-- The trigger functions: nobody but the owner may create a trigger with them (PostgreSQL
-- checks EXECUTE when a trigger is created, not when it fires, so the engine's own triggers
-- fire for everyone). The engine also refuses to run on a table outside this schema.
REVOKE ALL ON FUNCTION backorder.order_line_commit_stock(), backorder.receipt_fill_queue(),
                       backorder.shipment_release(), backorder.cancellation_release(),
                       backorder.adjustment_apply(), backorder.ledger_flush(),
                       backorder.purchase_sync(), backorder.supplier_issue_due(),
                       backorder.ledger_guard(),
                       backorder.item_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION backorder.issue_due_purchase_orders(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION backorder.cancel_purchase_order(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION backorder.purge_events(timestamptz) FROM PUBLIC;
