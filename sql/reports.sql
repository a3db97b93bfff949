--
-- Promise dates and report views on a known history.
--
-- The example runs in a database of its own, so that line_id and po_id values are the same
-- whatever other worked examples ran before it. Every step moves the engine's clock
-- (backorder.clock); the report views read that clock through backorder.engine_now(), and
-- the functions get it as as_of, so every figure below is fixed.
--
SELECT current_database() AS origdb \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS backorder_reports;
RESET client_min_messages;
CREATE DATABASE backorder_reports;
\c backorder_reports
CREATE EXTENSION backorder;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

-- what must not change when only reports run: every line, item, purchase-order line,
-- receipt, and the number of events
CREATE TEMP VIEW state AS
SELECT 'order_line' AS what,
       md5(string_agg(format('%s', l), ',' ORDER BY l.line_id)) AS fingerprint
  FROM backorder.order_line l
UNION ALL
SELECT 'item', md5(string_agg(format('%s', i), ',' ORDER BY i.sku)) FROM backorder.item i
UNION ALL
SELECT 'purchase_order', md5(string_agg(format('%s', p), ',' ORDER BY p.po_id))
  FROM backorder.purchase_order p
UNION ALL
SELECT 'purchase_order_line', md5(string_agg(format('%s', pl), ',' ORDER BY pl.po_id, pl.sku))
  FROM backorder.purchase_order_line pl
UNION ALL
SELECT 'receipt', md5(coalesce(string_agg(format('%s', r), ',' ORDER BY r.receipt_id), ''))
  FROM backorder.receipt r
UNION ALL
SELECT 'events', count(*)::text FROM backorder.event;

-- ---------------------------------------------------------------- 2026-01-05 09:00: set-up
SET backorder.clock = '2026-01-05 09:00+00';
-- acme: 7 days lead time, issues at 20 units or when the oldest demand waited 2 days
-- slowco: issues at 100 units only (no po_max_wait): its draft has no known issue date
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty, po_max_wait) VALUES
    ('acme', 'Acme Corp', '7 days', 20, '2 days'),
    ('slowco', 'Slow Co', '10 days', 100, NULL);
INSERT INTO backorder.item (sku, supplier_id, policy, backorder_limit) VALUES
    ('WIDGET', 'acme', 'backorder', NULL),
    ('CAPPED', 'acme', 'backorder', 2),      -- at most 2 units may wait
    ('NEWBOOK', 'acme', 'preorder', NULL),   -- not released yet
    ('SPARE', 'acme', 'backorder', NULL),    -- never ordered
    ('RARE', 'slowco', 'backorder', NULL),
    ('TEE', NULL, 'backorder', NULL),        -- no supplier
    ('GADGET', NULL, 'backorder', NULL),     -- no supplier
    ('GIZMO', NULL, 'deny', NULL);           -- never oversold
INSERT INTO backorder.customer_order (order_ref, ship_complete) VALUES ('SO-4', true);
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES
    ('TEE', 10, 'count'), ('GIZMO', 2, 'count'), ('WIDGET', 4, 'count');

-- ---------------------------------------------------------------- 2026-01-05 10:00: orders
SET backorder.clock = '2026-01-05 10:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES
    ('SO-1', 'WIDGET', 3),    -- line 1: 3 of the 4 in stock
    ('SO-2', 'WIDGET', 5),    -- line 2: the last unit, 4 wait
    ('SO-3', 'WIDGET', 6),    -- line 3: 6 wait
    ('SO-4', 'TEE', 2),       -- line 4: allocated, but SO-4 ships complete
    ('SO-4', 'WIDGET', 2),    -- line 5: 2 wait
    ('SO-5', 'TEE', 1),       -- line 6
    ('SO-6', 'CAPPED', 2),    -- line 7: 2 wait, CAPPED is at its limit
    ('SO-7', 'NEWBOOK', 1),   -- line 8: a preorder
    ('SO-8', 'GIZMO', 2),     -- line 9: all GIZMO stock
    ('SO-9', 'GADGET', 1),    -- line 10: waits, and nothing will bring GADGET
    ('SO-11', 'RARE', 1);     -- line 11: waits in slowco's draft
SELECT line_id, order_ref, sku, qty, allocated_qty, backordered_qty, status
  FROM backorder.order_line ORDER BY line_id;
-- the acme draft holds 12 WIDGET + 2 CAPPED + 1 NEWBOOK = 15 < 20: not issued
SELECT p.po_id, p.supplier_id, p.status, pl.sku, pl.qty, pl.first_demand_at
  FROM backorder.purchase_order p JOIN backorder.purchase_order_line pl USING (po_id)
 ORDER BY p.po_id, pl.sku;

-- ---------------------------------------------------------------- 2026-01-05 12:00: draft ETAs
SET backorder.clock = '2026-01-05 12:00+00';
-- acme's draft is due when its oldest demand has waited po_max_wait (01-07 10:00) and
-- arrives lead_time later (01-14 10:00); TEE's 7 free units are here now; slowco's draft
-- has no known issue date
SELECT * FROM backorder.supply_schedule('2026-01-05 12:00+00') ORDER BY sku, units_upto;
-- units_ahead counts units of the same sku waiting ahead; every WIDGET unit waits for the
-- draft; GADGET (no supplier) and RARE (draft of unknown date) have no ETA
SELECT * FROM backorder.open_backorders ORDER BY line_id;
SELECT line_id, backorder.eta(line_id, '2026-01-05 12:00+00') AS eta
  FROM backorder.order_line ORDER BY line_id;
-- the view computes the same ETAs as eta() (as_of defaults to the engine's clock)
SELECT count(*) AS eta_mismatches FROM backorder.open_backorders o
 WHERE o.eta IS DISTINCT FROM backorder.eta(o.line_id);

-- available to promise for a new order:
--  WIDGET 1: joins the draft (16 < 20), which is due 01-07 10:00: 01-14 10:00
--  WIDGET 5: brings the draft to 20: issued at once, here 7 days later: 01-12 12:00
--  NEWBOOK 1 (preorder): like WIDGET 1; SPARE 1 too: the draft's oldest demand counts
--  SPARE 30: 45 >= 20: issued at once
--  TEE 5: in stock; TEE 9: 7 now, nothing brings the other 2 (no supplier)
--  GIZMO 1: deny item without stock; CAPPED 1: beyond its backorder_limit;
--  GADGET 1: no supplier; RARE 1: slowco's draft has no issue date
SELECT a.sku, a.qty, p.available_now, p.promise_at
  FROM (VALUES ('WIDGET', 1), ('WIDGET', 5), ('NEWBOOK', 1), ('SPARE', 1), ('SPARE', 30),
               ('TEE', 5), ('TEE', 9), ('GIZMO', 1), ('CAPPED', 1), ('GADGET', 1),
               ('RARE', 1)) a(sku, qty)
  CROSS JOIN LATERAL backorder.available_to_promise(a.sku, a.qty, '2026-01-05 12:00+00') p
 ORDER BY a.sku, a.qty;
-- an unknown sku, or no units, fails as an order line for them would
\set VERBOSITY terse
SELECT * FROM backorder.available_to_promise('NOPE', 1);
SELECT * FROM backorder.available_to_promise('WIDGET', 0);
\set VERBOSITY default

-- ---------------------------------------------------------------- 2026-01-06 09:00: SO-1 ships
SET backorder.clock = '2026-01-06 09:00+00';
INSERT INTO backorder.shipment (line_id, qty) VALUES (1, 3);

-- ---------------------------------------------------------------- 2026-01-07 11:00: issue
SET backorder.clock = '2026-01-07 11:00+00';
-- the draft is an hour overdue (the scheduler has not run yet): it cannot be issued
-- before now, so it is expected 7 days from now: 01-14 11:00
SELECT line_id, backorder.eta(line_id, '2026-01-07 11:00+00') AS eta
  FROM backorder.order_line WHERE sku = 'WIDGET' ORDER BY line_id;
SELECT * FROM backorder.issue_due_purchase_orders('2026-01-07 11:00+00');
SELECT po_id, supplier_id, status, issued_at, expected_at FROM backorder.purchase_order
 ORDER BY po_id;
-- issued: the ETAs are the purchase order's expected_at
SELECT line_id, order_ref, sku, waiting, units_ahead, eta FROM backorder.open_backorders
 ORDER BY line_id;

-- ---------------------------------------------------------------- 2026-01-08 09:00: SO-10
SET backorder.clock = '2026-01-08 09:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('SO-10', 'WIDGET', 4);  -- line 12
-- issued order 1 covers the first 12 waiting units; SO-10's 4 are in a new acme draft,
-- due 01-10 09:00, expected 01-17 09:00
SELECT p.po_id, p.status, pl.sku, pl.qty, pl.first_demand_at
  FROM backorder.purchase_order p JOIN backorder.purchase_order_line pl USING (po_id)
 WHERE p.supplier_id = 'acme' ORDER BY p.po_id, pl.sku;
SELECT * FROM backorder.open_backorders WHERE sku = 'WIDGET' ORDER BY line_id;

-- ---------------------------------------------------------------- 2026-01-10 09:00: issue
SET backorder.clock = '2026-01-10 09:00+00';
SELECT * FROM backorder.issue_due_purchase_orders('2026-01-10 09:00+00');
SELECT po_id, supplier_id, status, issued_at, expected_at FROM backorder.purchase_order
 ORDER BY po_id;

-- ---------------------------------------------------------------- 2026-01-12 15:00: receipt
SET backorder.clock = '2026-01-12 15:00+00';
-- what would 7 WIDGET fill? SO-2's 4, then 3 of SO-3's 6. 100 would fill all 16 waiting
-- units; TEE has nobody waiting
SELECT * FROM backorder.simulate_receipt('WIDGET', 7);
CREATE TEMP TABLE state_before AS SELECT * FROM state;
SELECT * FROM backorder.simulate_receipt('WIDGET', 100);
SELECT * FROM backorder.simulate_receipt('TEE', 5);
\set VERBOSITY terse
SELECT * FROM backorder.simulate_receipt('WIDGET', 0);
SELECT * FROM backorder.simulate_receipt('NOPE', 5);
\set VERBOSITY default
-- the simulations changed nothing
SELECT b.what, b.fingerprint = a.fingerprint AS unchanged
  FROM state_before b JOIN state a USING (what) ORDER BY b.what;
-- the real receipt, against order 1, does what the simulation said
INSERT INTO backorder.receipt (sku, qty, po_id) VALUES ('WIDGET', 7, 1) RETURNING allocated_qty;
SELECT line_id, order_ref, allocated_qty, backordered_qty, status, allocated_at
  FROM backorder.order_line WHERE sku = 'WIDGET' ORDER BY line_id;
-- after the partial receipt order 1 still brings 5 (01-14 11:00), order 3 brings 4
-- (01-17 09:00): SO-3's 3 and SO-4's 2 come with order 1, SO-10's 4 with order 3
SELECT * FROM backorder.open_backorders WHERE sku = 'WIDGET' ORDER BY line_id;
SELECT count(*) AS eta_mismatches FROM backorder.open_backorders o
 WHERE o.eta IS DISTINCT FROM backorder.eta(o.line_id);
-- SO-2 is allocated now: its ETA is when that happened; SO-1 shipped: none
SELECT line_id, backorder.eta(line_id, '2026-01-12 15:00+00') AS eta
  FROM backorder.order_line WHERE line_id IN (1, 2) ORDER BY line_id;
-- a new order for 2 WIDGET: 9 units wait, the issued orders bring exactly 9, so the 2 go
-- to a new draft (due 2 days from now, then 7 days): 01-21 15:00
SELECT * FROM backorder.available_to_promise('WIDGET', 2, '2026-01-12 15:00+00');
-- every status: CAPPED is at its limit though a restock is coming; GADGET waits for
-- nothing; GIZMO is a deny item without free stock; RARE waits for slowco's draft; SPARE
-- has no stock but acme has a lead time; TEE has free stock
SELECT * FROM backorder.stock_status ORDER BY sku;
-- SO-4 ships complete and its WIDGET line still waits: its TEE line is not ready, and the
-- engine refuses to ship it
SELECT * FROM backorder.ready_to_ship ORDER BY line_id;
INSERT INTO backorder.shipment (line_id, qty) VALUES (4, 2);

-- ---------------------------------------------------------------- 2026-01-15 10:00: receipts
SET backorder.clock = '2026-01-15 10:00+00';
INSERT INTO backorder.receipt (sku, qty, po_id) VALUES
    ('CAPPED', 2, 1), ('NEWBOOK', 1, 1), ('WIDGET', 3, 1)
RETURNING sku, qty, allocated_qty;

-- ---------------------------------------------------------------- 2026-01-16 10:00: the rest
SET backorder.clock = '2026-01-16 10:00+00';
INSERT INTO backorder.receipt (sku, qty, po_id) VALUES ('WIDGET', 2, 1) RETURNING allocated_qty;
-- order 1 is complete, received two days after it was expected
SELECT po_id, supplier_id, status, issued_at, expected_at, received_at
  FROM backorder.purchase_order ORDER BY po_id;
-- SO-4 is complete now: both of its lines can ship, and do
SELECT * FROM backorder.ready_to_ship ORDER BY line_id;
INSERT INTO backorder.shipment (line_id, qty) VALUES (4, 2), (5, 2);
SELECT * FROM backorder.ready_to_ship ORDER BY line_id;

-- ---------------------------------------------------------------- 2026-01-20 12:00: reports
SET backorder.clock = '2026-01-20 12:00+00';
-- SO-10's order 3 was expected 01-17 09:00 and has not come: its ETA stays in the past
SELECT * FROM backorder.open_backorders ORDER BY line_id;
SELECT * FROM backorder.stock_status ORDER BY sku;
-- acme: orders 1 and 3 issued, 1 received; promised 7 days both times; order 1 took
-- 8 days 23 hours and came late, order 3 is open past its date; 4 units outstanding
SELECT * FROM backorder.supplier_performance('2026-01-20 12:00+00') ORDER BY supplier_id;
SELECT * FROM backorder.supplier_performance ORDER BY supplier_id;
-- WIDGET: 5 lines, 20 units; SO-2 (4 units), SO-3 (6), SO-4 (2) and SO-10 (4) had to wait;
-- SO-2 waited 7 days 5 hours, SO-3 10 days, SO-4 11 days (SO-10 still waits):
-- average 9 days 09:40, 90th percentile 10 days + 0.8 * 1 day = 10 days 19:12
SELECT * FROM backorder.backorder_rate ORDER BY sku;
-- only what was placed from 2026-01-06 on: SO-10
SELECT * FROM backorder.backorder_rate('2026-01-06', '2026-02-01') ORDER BY sku;
-- a cancelled line has no ETA; neither has a shipped one; an allocated one has allocated_at
INSERT INTO backorder.cancellation (line_id, qty) VALUES (10, NULL);
SELECT line_id, order_ref, status, backorder.eta(line_id) AS eta
  FROM backorder.order_line WHERE line_id IN (2, 4, 7, 10, 12) ORDER BY line_id;
-- the functions and views were parsed when the extension was created: a search_path that
-- puts look-alike tables and operators first changes nothing
CREATE SCHEMA evil;
CREATE TABLE evil.order_line (LIKE backorder.order_line);
CREATE TABLE evil.item (LIKE backorder.item);
CREATE FUNCTION evil.int8gt(bigint, integer) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = evil.int8gt);
SET search_path = evil, pg_catalog;
SELECT line_id, units_ahead, eta FROM backorder.open_backorders ORDER BY line_id;
SELECT backorder.eta(12) AS eta, * FROM backorder.available_to_promise('WIDGET', 1);
SELECT * FROM backorder.simulate_receipt('WIDGET', 3);
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
RESET client_min_messages;
SELECT * FROM backorder.verify();

\c :origdb
DROP DATABASE backorder_reports;
