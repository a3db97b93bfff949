-- backorder install script, part 1: types and tables.
-- The parts under src/sql/ are concatenated in name order into backorder--<version>.sql.
\echo Use "CREATE EXTENSION backorder" to load this file. \quit

-- The schema must be new, or empty (as after DROP EXTENSION, or in a restore, which creates
-- it first). This script runs with search_path = backorder: functions or operators someone
-- had put there would take part in resolving the names of every body and view created
-- below, and run later as whoever calls them (PostgreSQL's rules for extension scripts).
-- An empty schema must also be controlled by superusers alone: its owner keeps the rights of
-- an owner over everything created in it (drop the extension's indexes, rename the schema),
-- and a role that may CREATE in it could plant objects while this script runs.
DO $guard$
DECLARE
    nsp oid := 'backorder'::pg_catalog.regnamespace;
    who text;
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_proc WHERE pronamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_type WHERE typnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_operator WHERE oprnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_collation WHERE collnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_conversion WHERE connamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_opclass WHERE opcnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_opfamily WHERE opfnamespace OPERATOR(pg_catalog.=) nsp)
    THEN
        RAISE EXCEPTION 'schema "backorder" already exists and holds objects'
            USING ERRCODE = 'duplicate_schema',
                  HINT = 'CREATE EXTENSION backorder needs a new or empty schema "backorder": drop or rename the existing one first.';
    END IF;
    SELECT r.rolname INTO who
      FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
     WHERE n.oid OPERATOR(pg_catalog.=) nsp AND NOT r.rolsuper
       AND r.rolname OPERATOR(pg_catalog.<>) CURRENT_USER;
    IF FOUND THEN
        RAISE EXCEPTION 'schema "backorder" is owned by role "%", which is not a superuser', who
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The owner of the schema could drop or replace the extension''s objects in it.',
                  HINT = 'Drop the schema "backorder" first, or ALTER SCHEMA backorder OWNER TO a superuser.';
    END IF;
    SELECT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(r.rolname) END INTO who
      FROM pg_catalog.pg_namespace n
     CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
      LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
     WHERE n.oid OPERATOR(pg_catalog.=) nsp
       AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
       AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
       AND (a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid OR NOT r.rolsuper)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'role % may create objects in schema "backorder" and is not a superuser', who
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'It could put objects in the schema while the extension is being created.',
                  HINT = pg_catalog.format('REVOKE CREATE ON SCHEMA backorder FROM %s, or drop the schema "backorder" first.', who);
    END IF;
END
$guard$;

CREATE TYPE backorder.stock_policy AS ENUM ('deny', 'backorder', 'preorder');
CREATE TYPE backorder.line_status AS ENUM
    ('backordered', 'partially_allocated', 'allocated', 'shipped', 'cancelled');
CREATE TYPE backorder.po_status AS ENUM ('draft', 'issued', 'received', 'cancelled');

-- Is every part of an interval (months, days, time) non-negative? '1 mon -30 days' compares
-- equal to zero, yet added to 31 January it goes back two days.
CREATE FUNCTION backorder.interval_nonnegative(i interval) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN LEAST(pg_catalog.date_part('year', i), pg_catalog.date_part('month', i),
                 pg_catalog.date_part('day', i), pg_catalog.date_part('hour', i),
                 pg_catalog.date_part('minute', i), pg_catalog.date_part('second', i))
           OPERATOR(pg_catalog.>=) 0;
-- every role that writes suppliers runs it, also where default privileges keep EXECUTE from
-- PUBLIC: it reads nothing
GRANT EXECUTE ON FUNCTION backorder.interval_nonnegative(interval) TO PUBLIC;

-- Suppliers and how purchase orders to them are buffered.
CREATE TABLE backorder.supplier (
    supplier_id text PRIMARY KEY
        CHECK (pg_catalog.length(supplier_id) OPERATOR(pg_catalog.<=) 200),
    name        text NOT NULL DEFAULT '',
    -- no negative part, and at most 100 years: the engine adds them to times (expected_at,
    -- the draft's due time), which must not go back and must stay in timestamptz's range
    lead_time   interval CHECK (backorder.interval_nonnegative(lead_time)
                                AND lead_time OPERATOR(pg_catalog.<=) '100 years'::interval),
    po_min_qty  bigint NOT NULL DEFAULT 1 CHECK (po_min_qty OPERATOR(pg_catalog.>) 0),
    po_max_wait interval CHECK (backorder.interval_nonnegative(po_max_wait)
                                AND po_max_wait OPERATOR(pg_catalog.<=) '100 years'::interval)
);

-- Stock-keeping units. The counters are maintained by the engine; fillfactor leaves
-- room on each page so that counter updates stay HOT (no index covers a counter).
CREATE TABLE backorder.item (
    sku             text PRIMARY KEY
        CHECK (pg_catalog.length(sku) OPERATOR(pg_catalog.<=) 200),
    supplier_id     text REFERENCES backorder.supplier,
    policy          backorder.stock_policy NOT NULL DEFAULT 'backorder',
    backorder_limit bigint CHECK (backorder_limit OPERATOR(pg_catalog.>=) 0),
    pack_size       bigint NOT NULL DEFAULT 1 CHECK (pack_size OPERATOR(pg_catalog.>) 0),
    on_hand         bigint NOT NULL DEFAULT 0,
    allocated       bigint NOT NULL DEFAULT 0,
    backordered     bigint NOT NULL DEFAULT 0,
    incoming        bigint NOT NULL DEFAULT 0,
    -- line_id of the oldest line with waiting units (NULL: nothing waits). Receipts start
    -- their walk of order_line_sku_idx here instead of reading a partial index: a partial
    -- index on waiting lines would make every fill of a line a non-HOT update.
    queue_head      bigint,
    available       bigint GENERATED ALWAYS AS
        (on_hand OPERATOR(pg_catalog.-) allocated OPERATOR(pg_catalog.-) backordered) STORED
) WITH (fillfactor = 50);

-- Optional order header.
CREATE TABLE backorder.customer_order (
    order_ref     text PRIMARY KEY
        CHECK (pg_catalog.length(order_ref) OPERATOR(pg_catalog.<=) 200),
    ship_complete boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Order lines. line_id is assigned by the engine while it holds the item's lock (or just
-- before the write that takes it, which fails and draws again if anyone came first), so it
-- is the order in which lines committed stock: the queue order; it may have gaps. There is deliberately no
-- foreign key to item: the trigger checks and locks the item itself (one probe, not two),
-- and items with ledger rows cannot be deleted.
CREATE TABLE backorder.order_line (
    line_id         bigint PRIMARY KEY,
    order_ref       text NOT NULL,
    sku             text NOT NULL,
    qty             bigint NOT NULL,
    allocated_qty   bigint NOT NULL,
    backordered_qty bigint NOT NULL,
    shipped_qty     bigint NOT NULL,
    cancelled_qty   bigint NOT NULL,
    status          backorder.line_status NOT NULL,
    placed_at       timestamptz NOT NULL,
    allocated_at    timestamptz
-- no CHECK constraints: the engine rejects qty <= 0 itself (SQLSTATE 23514, as a CHECK
-- would), it alone writes the quantities, and verify() checks that they add up to qty. A
-- CHECK here would be parsed and compiled again by every INSERT statement, while the
-- statement holds its item's lock (measured: one hot item, 8 sessions, 13% more orders
-- per second without the two it had)
-- every line is updated at least once more (filled, shipped, cancelled), and a receipt
-- fills consecutive lines in one transaction: room for a second version of each row
-- keeps those updates HOT (no index covers a quantity or the status)
) WITH (fillfactor = 50);
CREATE SEQUENCE backorder.order_line_line_id_seq OWNED BY backorder.order_line.line_id;
-- every line of an item, oldest first: history, newest-allocated walks, and the queue (the
-- waiting lines of an item are the lines from item.queue_head on with backordered_qty > 0)
CREATE INDEX order_line_sku_idx ON backorder.order_line (sku, line_id);
CREATE INDEX order_line_order_ref_idx ON backorder.order_line (order_ref);

CREATE TABLE backorder.purchase_order (
    po_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id text NOT NULL REFERENCES backorder.supplier,
    status      backorder.po_status NOT NULL DEFAULT 'draft',
    created_at  timestamptz NOT NULL,
    issued_at   timestamptz,
    expected_at timestamptz,
    received_at timestamptz,
    cancelled_at timestamptz,
    -- units of its lines (sum of purchase_order_line.qty), kept by the engine: whether a
    -- draft reached po_min_qty is known without adding up its lines at every commit
    total_qty   bigint NOT NULL DEFAULT 0
);
-- one draft per supplier
CREATE UNIQUE INDEX purchase_order_one_draft_idx ON backorder.purchase_order (supplier_id)
    WHERE status OPERATOR(pg_catalog.=) 'draft'::backorder.po_status;

CREATE TABLE backorder.purchase_order_line (
    po_id        bigint NOT NULL REFERENCES backorder.purchase_order,
    sku          text NOT NULL REFERENCES backorder.item,
    qty          bigint NOT NULL CHECK (qty OPERATOR(pg_catalog.>=) 0),
    received_qty bigint NOT NULL DEFAULT 0 CHECK (received_qty OPERATOR(pg_catalog.>=) 0),
    first_demand_at timestamptz NOT NULL,
    PRIMARY KEY (po_id, sku)
);
CREATE INDEX purchase_order_line_sku_idx ON backorder.purchase_order_line (sku, po_id);
-- the oldest demand of a draft (po_max_wait), found without reading all its lines
CREATE INDEX purchase_order_line_demand_idx ON backorder.purchase_order_line (po_id, first_demand_at);
-- lines still expecting units: what commit-time buffering and receipts look at, so their
-- work does not grow with an item's purchase-order history
CREATE INDEX purchase_order_line_open_idx ON backorder.purchase_order_line (sku, po_id)
    WHERE received_qty OPERATOR(pg_catalog.<) qty;

-- Receipts and adjustments, like order lines, have no foreign key to item: their triggers
-- look the item up and lock it anyway, and the foreign key's check was one more query per
-- row while the item is locked (one hot item, 8 clients ordering while one receives: 3-7%
-- more orders and 5-10% more receipts without it). Items with ledger rows cannot be
-- deleted (item_guard), and their sku cannot change.
CREATE TABLE backorder.receipt (
    receipt_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku           text NOT NULL,
    qty           bigint NOT NULL,
    po_id         bigint REFERENCES backorder.purchase_order,
    received_at   timestamptz NOT NULL,
    allocated_qty bigint NOT NULL,
    CONSTRAINT receipt_qty_check CHECK (qty OPERATOR(pg_catalog.>) 0)
);
CREATE INDEX receipt_sku_idx ON backorder.receipt (sku);

-- Shipments and cancellations have no foreign key to order_line: the trigger reads and
-- locks the line (through its item) anyway, and a foreign key's check would be one more
-- query per row while the item is locked (measured: 8 sessions shipping, 10-25% more
-- shipments per second without it). Order lines cannot be deleted and their line_id never
-- changes; verify() reports a shipment or cancellation of a line that does not exist.
CREATE TABLE backorder.shipment (
    shipment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id     bigint NOT NULL,
    qty         bigint NOT NULL,
    shipped_at  timestamptz NOT NULL,
    CONSTRAINT shipment_qty_check CHECK (qty OPERATOR(pg_catalog.>) 0)
);
CREATE INDEX shipment_line_idx ON backorder.shipment (line_id);

CREATE TABLE backorder.cancellation (
    cancellation_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id         bigint NOT NULL,
    qty             bigint NOT NULL,  -- NULL on insert means "all that is still open"
    reason          text,
    cancelled_at    timestamptz NOT NULL,
    CONSTRAINT cancellation_qty_check CHECK (qty OPERATOR(pg_catalog.>) 0)
);
CREATE INDEX cancellation_line_idx ON backorder.cancellation (line_id);

CREATE TABLE backorder.adjustment (
    adjustment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku           text NOT NULL,
    delta         bigint NOT NULL,
    reason        text NOT NULL DEFAULT '',
    adjusted_at   timestamptz NOT NULL,
    CONSTRAINT adjustment_delta_check CHECK (delta OPERATOR(pg_catalog.<>) 0)
);
CREATE INDEX adjustment_sku_idx ON backorder.adjustment (sku);

-- What customers and buyers care about; a NOTIFY on channel backorder_events carries event_id.
CREATE TABLE backorder.event (
    event_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    kind      text NOT NULL,
    sku       text,
    order_ref text,
    line_id   bigint,
    po_id     bigint,
    qty       bigint
);
-- for purge_events(older_than): events arrive in time order, so a BRIN summary of each
-- range of pages is enough, and it costs an event insert little (the engine gives it one
-- entry per range of pages a statement's events fill: they share `at`)
CREATE INDEX event_at_idx ON backorder.event USING brin (at);

-- pg_dump keeps the data of every table (the extension owns the tables, not their rows).
SELECT pg_catalog.pg_extension_config_dump('backorder.supplier', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.item', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.customer_order', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.order_line', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.order_line_line_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.purchase_order', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.purchase_order_line', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.receipt', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.shipment', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.cancellation', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.adjustment', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.event', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.purchase_order_po_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.receipt_receipt_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.shipment_shipment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.cancellation_cancellation_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.adjustment_adjustment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('backorder.event_event_id_seq', '');
