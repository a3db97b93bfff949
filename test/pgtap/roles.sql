-- roles.sql: the recommended privilege setup, and the engine under a hostile search_path.
--
-- Recommended setup (for the README). The owner is the superuser that ran CREATE EXTENSION;
-- the engine's triggers act as that owner while they work, so the application role needs
-- only INSERT on the columns it writes of the ledger tables and never any privilege on
-- counters, statuses, purchase orders, events or sequences (line_id and the identity columns
-- need no USAGE grant; without INSERT on them, OVERRIDING SYSTEM VALUE cannot pick an id):
--
--   CREATE ROLE bo_app LOGIN;      -- the shop application
--   CREATE ROLE bo_report LOGIN;   -- dashboards, reports
--   GRANT USAGE ON SCHEMA backorder TO bo_app, bo_report;
--   GRANT SELECT ON ALL TABLES IN SCHEMA backorder TO bo_app, bo_report;
--   GRANT INSERT (order_ref, sku, qty) ON backorder.order_line TO bo_app;
--   GRANT INSERT (sku, qty, po_id) ON backorder.receipt TO bo_app;
--   GRANT INSERT (line_id, qty) ON backorder.shipment TO bo_app;
--   GRANT INSERT (line_id, qty, reason) ON backorder.cancellation TO bo_app;
--   GRANT INSERT (sku, delta, reason) ON backorder.adjustment TO bo_app;
--   GRANT INSERT (order_ref, ship_complete) ON backorder.customer_order TO bo_app;
--   GRANT INSERT, UPDATE (supplier_id, policy, backorder_limit, pack_size) ON backorder.item TO bo_app;
--   GRANT INSERT, UPDATE ON backorder.supplier TO bo_app;
--   GRANT EXECUTE ON FUNCTION backorder.issue_due_purchase_orders(timestamptz),
--                             backorder.cancel_purchase_order(bigint) TO bo_app;
--
-- What each role then can and cannot do is asserted below: bo_app's orders, receipts,
-- shipments, cancellations and adjustments are processed exactly as the owner's; bo_app cannot
-- write counters (42501), order-line statuses (42501), purchase orders (42501), events (42501),
-- pick a ledger row's id with OVERRIDING SYSTEM VALUE (42501), issue purchase orders as of a
-- time of its choosing unless given SET on backorder.clock (42501), or call purge_events
-- (42501); bo_report can read everything and write nothing (42501).
--
-- The hostile search_path part runs FIRST, in a session where the engine has not prepared any
-- plan yet: a role "mallory" owns a schema "evil" whose functions, aggregates and operators
-- would shadow pg_catalog's (now(), unnest(), length(), sum(), count(*), min(), max(), and
-- =, <>, <, >, <=, >=, +, - on text, bigint, bigint/integer, timestamptz and the engine's enums;
-- plus tables named like the engine's in evil and pg_temp, and a collation evil."C" that sorts
-- letters before digits). Each of them records its call in
-- public.evil_log. With search_path = evil, public, pg_catalog (pg_catalog explicitly last) the
-- application and the owner run every kind of ledger insert, the purchase-order functions,
-- verify() and the report views: results are exact and evil_log stays empty. A positive
-- control at the end shows the traps do fire for unqualified calls.
-- psql settings, BEGIN (this file ends with ROLLBACK), SET CONSTRAINTS ALL IMMEDIATE, pg_temp.ln/it/lid
\ir helpers.psql
SELECT plan(101);
SET backorder.clock = '2026-03-01 08:00+00';

-- roles (CREATE ROLE is transactional: nothing survives the ROLLBACK) --------------------
CREATE ROLE bo_app;
CREATE ROLE bo_report;
CREATE ROLE mallory;
GRANT USAGE ON SCHEMA backorder TO bo_app, bo_report;
GRANT SELECT ON ALL TABLES IN SCHEMA backorder TO bo_app, bo_report;
GRANT INSERT (order_ref, sku, qty) ON backorder.order_line TO bo_app;
GRANT INSERT (sku, qty, po_id) ON backorder.receipt TO bo_app;
GRANT INSERT (line_id, qty) ON backorder.shipment TO bo_app;
GRANT INSERT (line_id, qty, reason) ON backorder.cancellation TO bo_app;
GRANT INSERT (sku, delta, reason) ON backorder.adjustment TO bo_app;
GRANT INSERT (order_ref, ship_complete) ON backorder.customer_order TO bo_app;
GRANT INSERT, UPDATE (supplier_id, policy, backorder_limit, pack_size) ON backorder.item TO bo_app;
GRANT INSERT, UPDATE ON backorder.supplier TO bo_app;
GRANT EXECUTE ON FUNCTION backorder.issue_due_purchase_orders(timestamptz),
                          backorder.cancel_purchase_order(bigint) TO bo_app;

-- the hostile schema ---------------------------------------------------------------------
CREATE TABLE public.evil_log (n serial, what text, who text);
GRANT ALL ON public.evil_log, public.evil_log_n_seq TO PUBLIC;
GRANT USAGE ON SCHEMA backorder TO mallory;
CREATE SCHEMA evil AUTHORIZATION mallory;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
SET ROLE mallory;
CREATE FUNCTION evil.trap(what text) RETURNS void LANGUAGE sql SECURITY INVOKER
    SET search_path = pg_catalog
    AS $$ INSERT INTO public.evil_log (what, who) VALUES (what, current_user) $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('now()'); RETURN '1999-12-31 23:59:59+00'; END $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('clock_timestamp()'); RETURN '1999-12-31 23:59:59+00'; END $$;
CREATE FUNCTION evil.transaction_timestamp() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('transaction_timestamp()'); RETURN '1999-12-31 23:59:59+00'; END $$;
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('unnest()'); RETURN QUERY SELECT pg_catalog.unnest($1); END $$;
CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('length()'); RETURN pg_catalog.length($1); END $$;
CREATE FUNCTION evil.nextval(regclass) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('nextval()'); RETURN pg_catalog.nextval($1); END $$;
CREATE FUNCTION evil.sum_sf(numeric, bigint) RETURNS numeric LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('sum()'); RETURN pg_catalog.numeric_add(COALESCE($1, 0), $2::numeric); END $$;
CREATE AGGREGATE evil.sum(bigint) (SFUNC = evil.sum_sf, STYPE = numeric);
CREATE FUNCTION evil.count_sf(bigint) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('count(*)'); RETURN pg_catalog.int8inc($1); END $$;
CREATE AGGREGATE evil.count(*) (SFUNC = evil.count_sf, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION evil.min_sf(bigint, bigint) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('min/max(bigint)'); RETURN COALESCE($2, $1); END $$;
CREATE AGGREGATE evil.min(bigint) (SFUNC = evil.min_sf, STYPE = bigint);
CREATE AGGREGATE evil.max(bigint) (SFUNC = evil.min_sf, STYPE = bigint);
CREATE FUNCTION evil.min_ts(timestamptz, timestamptz) RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$ BEGIN PERFORM evil.trap('min/max(timestamptz)'); RETURN COALESCE($2, $1); END $$;
CREATE AGGREGATE evil.min(timestamptz) (SFUNC = evil.min_ts, STYPE = timestamptz);
CREATE AGGREGATE evil.max(timestamptz) (SFUNC = evil.min_ts, STYPE = timestamptz);
-- operators: each records its call, then does what pg_catalog's would
DO $$
DECLARE
    o record;
    fname text;
    k int := 0;
BEGIN
    FOR o IN SELECT * FROM (VALUES
        ('=', 'text', 'text', 'texteq'), ('<>', 'text', 'text', 'textne'),
        ('<', 'text', 'text', 'text_lt'), ('>', 'text', 'text', 'text_gt'),
        ('<=', 'text', 'text', 'text_le'), ('>=', 'text', 'text', 'text_ge'),
        ('=', 'bigint', 'bigint', 'int8eq'), ('<>', 'bigint', 'bigint', 'int8ne'),
        ('<', 'bigint', 'bigint', 'int8lt'), ('>', 'bigint', 'bigint', 'int8gt'),
        ('<=', 'bigint', 'bigint', 'int8le'), ('>=', 'bigint', 'bigint', 'int8ge'),
        ('+', 'bigint', 'bigint', 'int8pl'), ('-', 'bigint', 'bigint', 'int8mi'),
        ('=', 'bigint', 'integer', 'int84eq'), ('<>', 'bigint', 'integer', 'int84ne'),
        ('<', 'bigint', 'integer', 'int84lt'), ('>', 'bigint', 'integer', 'int84gt'),
        ('<=', 'bigint', 'integer', 'int84le'), ('>=', 'bigint', 'integer', 'int84ge'),
        ('+', 'bigint', 'integer', 'int84pl'), ('-', 'bigint', 'integer', 'int84mi'),
        ('=', 'timestamptz', 'timestamptz', 'timestamptz_eq'), ('<', 'timestamptz', 'timestamptz', 'timestamptz_lt'),
        ('<=', 'timestamptz', 'timestamptz', 'timestamptz_le'), ('>', 'timestamptz', 'timestamptz', 'timestamptz_gt'),
        ('>=', 'timestamptz', 'timestamptz', 'timestamptz_ge'),
        ('+', 'timestamptz', 'interval', 'timestamptz_pl_interval'),
        ('=', 'backorder.po_status', 'backorder.po_status', 'enum_eq'),
        ('<>', 'backorder.po_status', 'backorder.po_status', 'enum_ne'),
        ('=', 'backorder.line_status', 'backorder.line_status', 'enum_eq'),
        ('=', 'backorder.stock_policy', 'backorder.stock_policy', 'enum_eq')
    ) AS v(op, l, r, fn)
    LOOP
        k := k + 1;
        fname := 'evil.op' || k;
        EXECUTE format('CREATE FUNCTION %s(%s, %s) RETURNS %s LANGUAGE plpgsql SET search_path = pg_catalog '
                       'AS $f$ BEGIN PERFORM evil.trap(%L); RETURN pg_catalog.%I($1, $2); END $f$',
                       fname, o.l, o.r,
                       CASE WHEN o.op IN ('+', '-') THEN CASE WHEN o.l = 'timestamptz' THEN 'timestamptz' ELSE 'bigint' END
                            ELSE 'boolean' END,
                       format('%s (%s, %s)', o.op, o.l, o.r), o.fn);
        EXECUTE format('CREATE OPERATOR evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = %s)', o.op, o.l, o.r, fname);
    END LOOP;
END $$;
-- tables named like the engine's: an unqualified reference would hit these and fail
CREATE TABLE evil.item (trap int);
CREATE TABLE evil.order_line (trap int);
CREATE TABLE evil.receipt (trap int);
CREATE TABLE evil.supplier (trap int);
CREATE TABLE evil.purchase_order (trap int);
CREATE TABLE evil.purchase_order_line (trap int);
CREATE TABLE evil.event (trap int);
-- a collation named "C": an unqualified COLLATE "C" would sort by it (ICU: letters before digits)
CREATE COLLATION evil."C" (provider = icu, locale = 'und-u-kr-latn-digit');
RESET ROLE;
CREATE TEMP TABLE item (trap int);
CREATE TEMP TABLE order_line (trap int);
CREATE TEMP TABLE purchase_order (trap int);
GRANT ALL ON item, order_line, purchase_order TO PUBLIC;
-- (the helpers of helpers.psql, pg_temp.ln, it and lid, are called only under the normal search_path)

-- 1. the engine under a hostile search_path, as bo_app and as the owner ------------------
-- (the first use of the engine in this session: every plan is prepared under this path)
SET ROLE bo_app;
SET search_path = evil, public, pg_catalog;
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty, po_max_wait)
VALUES ('hsup', 'Hostile Supplies', '2 days', 1, NULL), ('hsup2', 'Slow Supplies', '4 days', 100, '1 day');
INSERT INTO backorder.item (sku, supplier_id) VALUES ('H1', NULL), ('H2', 'hsup'), ('H3', 'hsup2');
INSERT INTO backorder.customer_order (order_ref, ship_complete) VALUES ('h1', false);
INSERT INTO backorder.receipt (sku, qty) VALUES ('H1', 5);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('h1', 'H1', 3), ('h2', 'H1', 4), ('h3', 'H2', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) SELECT 'h4', 'H3', 5;
RESET search_path;
SELECT pg_temp.lid('h1') AS h1, pg_temp.lid('h2') AS h2, pg_temp.lid('h3') AS h3, pg_temp.lid('h4') AS h4,
       (SELECT po_id FROM backorder.purchase_order WHERE supplier_id = 'hsup') AS hpo \gset
SET search_path = evil, public, pg_catalog;
INSERT INTO backorder.shipment (line_id, qty) VALUES (:h1, 2);
INSERT INTO backorder.cancellation (line_id, qty, reason) VALUES (:h2, 1, 'changed mind');
INSERT INTO backorder.cancellation (line_id, qty) VALUES (:h1, NULL);
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('H1', -1, 'broken');
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('H1', 3, 'found');
INSERT INTO backorder.receipt (sku, qty, po_id) VALUES ('H2', 2, :hpo);
-- (a superuser moves the engine's clock: bo_app may issue as of that time, not choose one)
RESET ROLE;
SET backorder.clock = '2030-01-01 00:00+00';
SET ROLE bo_app;
SELECT backorder.issue_due_purchase_orders('2030-01-01 00:00+00') AS issued_po \gset
RESET ROLE;
SET backorder.clock = '2026-03-01 08:00+00';
SET ROLE bo_app;
SELECT backorder.cancel_purchase_order(:issued_po);
UPDATE backorder.item SET backorder_limit = 100 WHERE sku OPERATOR(pg_catalog.=) 'H3';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('h5', 'H3', 1);
CREATE TEMP TABLE hostile_verify_app AS SELECT * FROM backorder.verify();
CREATE TEMP TABLE hostile_stock AS SELECT * FROM backorder.stock_status;
CREATE TEMP TABLE hostile_open AS SELECT * FROM backorder.open_backorders;
CREATE TEMP TABLE hostile_eta AS SELECT backorder.eta(:h4) AS eta;
CREATE TEMP TABLE hostile_atp AS SELECT * FROM backorder.available_to_promise('H1', 2);
CREATE TEMP TABLE hostile_sim AS SELECT * FROM backorder.simulate_receipt('H3', 3);
RESET ROLE;
-- the owner too
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('h6', 'H1', 1);
CREATE TEMP TABLE hostile_verify_owner AS SELECT * FROM backorder.verify();
CREATE TEMP TABLE hostile_purge AS SELECT backorder.purge_events('2000-01-01 00:00+00') AS purged;
-- four drafts due at 10:00, of suppliers that evil."C" would sort c-a, c-B, c-1, c-9
INSERT INTO backorder.supplier (supplier_id, po_min_qty, po_max_wait)
VALUES ('c-a', 100, '1 hour'), ('c-9', 100, '1 hour'), ('c-B', 100, '1 hour'), ('c-1', 100, '1 hour');
INSERT INTO backorder.item (sku, supplier_id) VALUES ('Ka', 'c-a'), ('K9', 'c-9'), ('KB', 'c-B'), ('K1', 'c-1');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('k1', 'Ka', 1), ('k2', 'K9', 1), ('k3', 'KB', 1), ('k4', 'K1', 1);
CREATE TEMP TABLE hostile_collate AS
    SELECT t.po_id, t.n FROM backorder.issue_due_purchase_orders('2026-03-01 10:00+00') WITH ORDINALITY AS t(po_id, n);
RESET search_path;

SELECT is_empty('SELECT * FROM public.evil_log', 'hostile search_path: no hostile function, aggregate or operator was ever called');
SELECT is(pg_temp.ln('h1'), 'qty=3 alloc=0 back=0 ship=2 canc=1 shipped', 'hostile: h1 shipped 2, its last allocated unit cancelled (NULL -> 1)');
SELECT is(pg_temp.ln('h2'), 'qty=4 alloc=3 back=0 ship=0 canc=1 allocated',
          'hostile: h2 got the cancelled unit, lost one to the loss, got it back from the gain');
SELECT is(pg_temp.ln('h6'), 'qty=1 alloc=1 back=0 ship=0 canc=0 allocated', 'hostile: the owner''s order h6 got a free unit');
SELECT is(pg_temp.it('H1'), 'on_hand=5 alloc=4 back=0 incoming=0 avail=1', 'hostile: H1 counters exact');
SELECT is((SELECT qty FROM backorder.cancellation WHERE line_id = :h1), 1::bigint, 'hostile: the NULL cancellation stored its resolved qty 1');
SELECT is(pg_temp.ln('h3'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'hostile: h3 filled by the receipt against its purchase order');
SELECT is(pg_temp.it('H2'), 'on_hand=2 alloc=2 back=0 incoming=0 avail=0', 'hostile: H2 counters exact, nothing incoming');
SELECT is((SELECT status::text FROM backorder.purchase_order WHERE po_id = :hpo), 'received', 'hostile: H2''s purchase order is received');
SELECT is((SELECT status::text FROM backorder.purchase_order WHERE po_id = :issued_po), 'cancelled',
          'hostile: the draft issued by issue_due_purchase_orders was then cancelled');
SELECT is(pg_temp.it('H3'), 'on_hand=0 alloc=0 back=6 incoming=6 avail=-6', 'hostile: H3 waits 6 units, all in the new draft');
SELECT is((SELECT array_agg(status::text || ':' || coalesce((SELECT sum(qty) FROM backorder.purchase_order_line l WHERE l.po_id = p.po_id), 0) ORDER BY po_id)
             FROM backorder.purchase_order p WHERE supplier_id = 'hsup2'),
          ARRAY['cancelled:5', 'draft:6'], 'hostile: hsup2 has the cancelled order (5) and a new draft (6)');
SELECT is((SELECT placed_at FROM backorder.order_line WHERE line_id = :h1), '2026-03-01 08:00+00'::timestamptz,
          'hostile: placed_at from backorder.clock, not from evil.now()');
SELECT is((SELECT created_at FROM backorder.customer_order WHERE order_ref = 'h1'), now(),
          'hostile: customer_order.created_at from pg_catalog.now()');
SELECT is((SELECT count(*) FROM backorder.event WHERE sku IN ('H1', 'H2', 'H3')), 18::bigint,
          'hostile: the engine wrote the 18 events of these operations');
SELECT is_empty('SELECT * FROM hostile_verify_app', 'hostile: verify() run by bo_app under the hostile path found nothing');
SELECT is_empty('SELECT * FROM hostile_verify_owner', 'hostile: verify() run by the owner under the hostile path found nothing');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the hostile search_path scenario');
SELECT results_eq($$SELECT sku, on_hand, allocated, backordered, incoming FROM hostile_stock WHERE sku LIKE 'H%' ORDER BY sku$$,
                  $$VALUES ('H1', 5::bigint, 3::bigint, 0::bigint, 0::bigint), ('H2', 2, 2, 0, 0), ('H3', 0, 0, 6, 6)$$,
                  'hostile: stock_status read under the hostile path (before h6) shows the exact counters');
SELECT results_eq($$SELECT line_id, waiting FROM hostile_open WHERE sku LIKE 'H%' ORDER BY line_id$$,
                  format('VALUES (%s::bigint, 5::bigint), (%s::bigint, 1::bigint)', :h4, pg_temp.lid('h5')),
                  'hostile: open_backorders read under the hostile path lists h4 (5) and h5 (1)');
SELECT results_eq('SELECT available_now, promise_at FROM hostile_atp',
                  $$VALUES (2::bigint, '2026-03-01 08:00+00'::timestamptz)$$,
                  'hostile: available_to_promise(H1, 2) read under the hostile path: 2 now, at the clock');
SELECT results_eq('SELECT line_id, fill, waiting_after FROM hostile_sim',
                  format('VALUES (%s::bigint, 3::bigint, 2::bigint)', :h4),
                  'hostile: simulate_receipt(H3, 3) read under the hostile path: h4 would get 3, 2 left waiting');
SELECT ok((SELECT eta IS NULL OR eta > '2026-03-01 08:00+00' FROM hostile_eta), 'hostile: eta(h4) is not a time from evil.now()');
SELECT is((SELECT purged FROM hostile_purge), 0::bigint, 'hostile: purge_events under the hostile path deleted nothing older than 2000');
SELECT is((SELECT array_agg(p.supplier_id ORDER BY h.n) FROM hostile_collate h JOIN backorder.purchase_order p USING (po_id)),
          ARRAY['c-1', 'c-9', 'c-B', 'c-a'],
          'hostile: issue_due_purchase_orders issues drafts in byte order of supplier_id, not by a collation "C" on the path');
-- positive control: the traps are live for unqualified calls under that search_path
SET search_path = evil, public, pg_catalog;
CREATE TEMP TABLE control AS SELECT now() AS t, 'a'::text = 'a'::text AS eq, 1::bigint + 1::bigint AS plus;
RESET search_path;
SELECT results_eq('SELECT what FROM public.evil_log ORDER BY n',
                  $$VALUES ('now()'), ('= (text, text)'), ('+ (bigint, bigint)')$$,
                  'positive control: unqualified now(), = and + do reach the hostile objects');
SELECT is((SELECT t FROM control), '1999-12-31 23:59:59+00'::timestamptz, 'positive control: evil.now() shadowed pg_catalog.now()');
DELETE FROM public.evil_log;

-- 2. bo_app: everything an application does is processed correctly -----------------------
SET ROLE bo_app;
SELECT is(current_user::text, 'bo_app', 'now acting as bo_app');
SELECT throws_ok('SET backorder.notify = off', '42501', NULL,
                 'bo_app cannot turn notifications off (backorder.notify is for superusers: ALTER DATABASE/ROLE ... SET)');
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty) VALUES ('asup', 'App Supplier', '3 days', 1);
INSERT INTO backorder.item (sku, supplier_id, pack_size) VALUES ('R1', NULL, 1), ('R2', 'asup', 4);
INSERT INTO backorder.receipt (sku, qty) VALUES ('R1', 6);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('r1', 'R1', 4), ('r2', 'R1', 5), ('r3', 'R2', 3);
SELECT is(current_user::text, 'bo_app', 'after the engine ran, current_user is bo_app again');
SELECT is(pg_temp.ln('r1'), 'qty=4 alloc=4 back=0 ship=0 canc=0 allocated', 'bo_app: r1 allocated');
SELECT is(pg_temp.ln('r2'), 'qty=5 alloc=2 back=3 ship=0 canc=0 partially_allocated', 'bo_app: r2 2 allocated, 3 waiting');
SELECT is(pg_temp.it('R1'), 'on_hand=6 alloc=6 back=3 incoming=0 avail=-3', 'bo_app: R1 counters written by the engine');
SELECT is(pg_temp.it('R2'), 'on_hand=0 alloc=0 back=3 incoming=4 avail=-3', 'bo_app: R2 waits 3, a purchase order of one pack (4) incoming');
SELECT is((SELECT status::text || ':' || l.qty FROM backorder.purchase_order p
             JOIN backorder.purchase_order_line l ON l.po_id = p.po_id WHERE l.sku = 'R2'),
          'issued:4', 'bo_app: the engine created and issued the purchase order bo_app may not write');
SELECT is((SELECT count(*) FROM backorder.event WHERE sku IN ('R1', 'R2')), 5::bigint,
          'bo_app: the engine wrote events bo_app may not write (stock_received, 2 + 1 + 1 line events)');
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('r1'), 4);
INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('r2'), 2);
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('R1', 1, 'recount');
SELECT is(pg_temp.ln('r1'), 'qty=4 alloc=0 back=0 ship=4 canc=0 shipped', 'bo_app: r1 shipped');
SELECT is(pg_temp.ln('r2'), 'qty=5 alloc=3 back=0 ship=0 canc=2 allocated', 'bo_app: r2 cancelled 2 waiting, the gain completed it');
SELECT is(pg_temp.it('R1'), 'on_hand=3 alloc=3 back=0 incoming=0 avail=0', 'bo_app: R1 counters after ship, cancel, adjust');
INSERT INTO backorder.receipt (sku, qty) SELECT 'R2', 4;
SELECT is(pg_temp.ln('r3'), 'qty=3 alloc=3 back=0 ship=0 canc=0 allocated', 'bo_app: r3 filled by a receipt booked against the purchase order');
SELECT is((SELECT string_agg(status::text, ',') FROM backorder.purchase_order WHERE supplier_id = 'asup'), 'received',
          'bo_app: the purchase order is received');
SELECT lives_ok($$UPDATE backorder.item SET policy = 'deny', backorder_limit = 5, pack_size = 2 WHERE sku = 'R1'$$,
                'bo_app: may update policy, backorder_limit and pack_size');
SELECT lives_ok($$UPDATE backorder.supplier SET po_min_qty = 10, po_max_wait = '1 hour' WHERE supplier_id = 'asup'$$,
                'bo_app: may update a supplier');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('r5', 'R1', 1)$$,
                 'BO001', 'not enough stock of item "R1"', 'bo_app: its policy change took effect at once (deny, no free stock)');
INSERT INTO backorder.customer_order (order_ref, ship_complete) VALUES ('r4', true);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('r4', 'R2', 1), ('r4', 'R2', 2);
SELECT is(pg_temp.ln('r4'), 'qty=1 alloc=1 back=0 ship=0 canc=0 allocated; qty=2 alloc=0 back=2 ship=0 canc=0 backordered',
          'bo_app: r4 gets the last free R2 unit on its first line, its second line waits');
SELECT throws_ok(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 1)',
                        (SELECT min(line_id) FROM backorder.order_line WHERE order_ref = 'r4')),
                 'BO007', 'order "r4" ships complete and still has waiting lines', 'bo_app: ship_complete enforced -> BO007');
SELECT throws_ok(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 9)', pg_temp.lid('r2')),
                 'BO003', format('cannot ship 9 units of order line %s', pg_temp.lid('r2')), 'bo_app: shipping too much -> BO003');
SELECT is(current_user::text, 'bo_app', 'after an engine error, current_user is bo_app again');
SELECT is((SELECT status::text || ':' || l.qty FROM backorder.purchase_order p
             JOIN backorder.purchase_order_line l ON l.po_id = p.po_id
            WHERE p.supplier_id = 'asup' AND p.status = 'draft'),
          'draft:4', 'bo_app: 2 waiting units buffered as one pack of 4 in a draft (minimum now 10)');
-- as_of becomes issued_at: a time other than now() or the engine's clock is for roles that may set backorder.clock
SELECT throws_ok($$SELECT backorder.issue_due_purchase_orders('2999-12-31 00:00+00')$$, '42501',
                 'permission denied to issue purchase orders as of 2999-12-31 00:00:00+00',
                 'bo_app: issue_due_purchase_orders as of a future time of its choosing -> 42501');
SELECT throws_ok($$SELECT backorder.issue_due_purchase_orders('2020-01-01 00:00+00')$$, '42501',
                 'permission denied to issue purchase orders as of 2020-01-01 00:00:00+00',
                 'bo_app: issue_due_purchase_orders as of a past time of its choosing -> 42501');
RESET ROLE;
GRANT SET ON PARAMETER backorder.clock TO bo_app;
SET ROLE bo_app;
SELECT results_eq($$SELECT * FROM backorder.issue_due_purchase_orders('2026-03-01 10:00+00')$$,
                  format('VALUES (%s::bigint)', (SELECT po_id FROM backorder.purchase_order WHERE supplier_id = 'asup' AND status = 'draft')),
                  'bo_app, given SET on backorder.clock, may issue as of another time: asup''s draft (waited past 1 hour), not hsup2''s (1 day)');
SELECT is((SELECT issued_at FROM backorder.purchase_order WHERE supplier_id = 'asup' AND status = 'issued'),
          '2026-03-01 10:00+00'::timestamptz, 'bo_app: issued_at is that as_of');
RESET ROLE;
REVOKE SET ON PARAMETER backorder.clock FROM bo_app;
SET ROLE bo_app;
SELECT is((SELECT string_agg(status::text, ',' ORDER BY po_id) FROM backorder.purchase_order WHERE supplier_id = 'asup'),
          'received,issued', 'bo_app: asup has its received order and the newly issued one');
SELECT lives_ok(format('SELECT backorder.cancel_purchase_order(%s)',
                       (SELECT max(po_id) FROM backorder.purchase_order WHERE supplier_id = 'asup')),
                'bo_app: may call cancel_purchase_order');
SELECT is((SELECT string_agg(status::text, ',' ORDER BY po_id) FROM backorder.purchase_order WHERE supplier_id = 'asup'),
          'received,cancelled,draft', 'bo_app: the cancelled order''s units went back to a new draft');
SELECT is(pg_temp.it('R2'), 'on_hand=4 alloc=4 back=2 incoming=4 avail=-2', 'bo_app: R2 counters, the draft''s 4 units incoming');
-- what bo_app may not do
SELECT throws_ok($$UPDATE backorder.item SET on_hand = 100 WHERE sku = 'R1'$$, '42501', 'permission denied for table item',
                 'bo_app: UPDATE item.on_hand -> 42501');
SELECT throws_ok($$UPDATE backorder.item SET allocated = 0, backordered = 0 WHERE sku = 'R1'$$, '42501', 'permission denied for table item',
                 'bo_app: UPDATE item.allocated, backordered -> 42501');
SELECT throws_ok($$UPDATE backorder.item SET incoming = 0 WHERE sku = 'R2'$$, '42501', 'permission denied for table item',
                 'bo_app: UPDATE item.incoming -> 42501');
SELECT throws_ok($$UPDATE backorder.order_line SET status = 'shipped' WHERE order_ref = 'r2'$$, '42501', 'permission denied for table order_line',
                 'bo_app: UPDATE order_line.status -> 42501');
SELECT throws_ok($$UPDATE backorder.order_line SET allocated_qty = 5 WHERE order_ref = 'r2'$$, '42501', 'permission denied for table order_line',
                 'bo_app: UPDATE order_line.allocated_qty -> 42501');
SELECT throws_ok($$DELETE FROM backorder.order_line WHERE order_ref = 'r2'$$, '42501', 'permission denied for table order_line',
                 'bo_app: DELETE order_line -> 42501');
SELECT throws_ok('TRUNCATE backorder.receipt', '42501', 'permission denied for table receipt', 'bo_app: TRUNCATE receipt -> 42501');
SELECT throws_ok($$UPDATE backorder.purchase_order SET status = 'cancelled'$$, '42501', 'permission denied for table purchase_order',
                 'bo_app: UPDATE purchase_order.status -> 42501');
SELECT throws_ok($$INSERT INTO backorder.purchase_order (supplier_id, created_at) VALUES ('asup', now())$$, '42501',
                 'permission denied for table purchase_order', 'bo_app: INSERT purchase_order -> 42501');
SELECT throws_ok($$INSERT INTO backorder.event (at, kind) VALUES (now(), 'fake')$$, '42501', 'permission denied for table event',
                 'bo_app: INSERT event -> 42501');
SELECT throws_ok($$SELECT backorder.purge_events(now())$$, '42501', 'permission denied for function purge_events',
                 'bo_app: purge_events -> 42501');
SELECT throws_ok($$SELECT * FROM backorder.notifier_rings()$$, '42501', 'permission denied for function notifier_rings',
                 'bo_app: notifier_rings (for pg_monitor) -> 42501');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty, status) VALUES ('r6', 'R2', 1, 'allocated')$$,
                 '42501', 'permission denied for table order_line',
                 'bo_app: INSERT with a client status -> 42501 (not among its columns; the owner would get 428C9)');
-- the identity keys are not among bo_app's columns: it cannot take ids ahead of the sequence
SELECT throws_ok($$INSERT INTO backorder.receipt (receipt_id, sku, qty) OVERRIDING SYSTEM VALUE VALUES (1000000, 'R1', 1)$$,
                 '42501', 'permission denied for table receipt', 'bo_app: receipt with OVERRIDING SYSTEM VALUE and a receipt_id -> 42501');
SELECT throws_ok(format($$INSERT INTO backorder.shipment (shipment_id, line_id, qty) OVERRIDING SYSTEM VALUE VALUES (1000000, %s, 1)$$,
                        pg_temp.lid('r2')),
                 '42501', 'permission denied for table shipment', 'bo_app: shipment with OVERRIDING SYSTEM VALUE and a shipment_id -> 42501');
SELECT throws_ok(format($$INSERT INTO backorder.cancellation (cancellation_id, line_id, qty) OVERRIDING SYSTEM VALUE VALUES (1000000, %s, 1)$$,
                        pg_temp.lid('r2')),
                 '42501', 'permission denied for table cancellation',
                 'bo_app: cancellation with OVERRIDING SYSTEM VALUE and a cancellation_id -> 42501');
SELECT throws_ok($$INSERT INTO backorder.adjustment (adjustment_id, sku, delta) OVERRIDING SYSTEM VALUE VALUES (1000000, 'R1', 1)$$,
                 '42501', 'permission denied for table adjustment',
                 'bo_app: adjustment with OVERRIDING SYSTEM VALUE and an adjustment_id -> 42501');
SELECT throws_ok($$INSERT INTO backorder.item (sku, on_hand) VALUES ('R9', 50)$$,
                 '428C9', 'column "on_hand" of table "item" is maintained by backorder',
                 'bo_app: INSERT item with stock -> 428C9');
SELECT throws_ok($$UPDATE backorder.item SET sku = 'R1x' WHERE sku = 'R1'$$, '42501', 'permission denied for table item',
                 'bo_app: renaming a sku -> 42501');
-- (last, since what now() finds due depends on the real date)
SELECT lives_ok($$SELECT backorder.issue_due_purchase_orders(backorder.engine_now())$$,
                'bo_app: may issue as of the engine''s clock (backorder.clock, which a superuser set)');
SELECT lives_ok($$SELECT backorder.issue_due_purchase_orders(now())$$, 'bo_app: may issue as of now()');
SELECT lives_ok($$SELECT backorder.issue_due_purchase_orders()$$, 'bo_app: may issue as of the default, now()');
RESET ROLE;
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after bo_app''s work');

-- 3. bo_report reads, never writes ------------------------------------------------------
SET ROLE bo_report;
SELECT is((SELECT count(*) FROM backorder.order_line WHERE sku IN ('R1', 'R2')), 5::bigint, 'bo_report: may read order lines');
SELECT is(pg_temp.it('R1'), 'on_hand=3 alloc=3 back=0 incoming=0 avail=0', 'bo_report: may read item counters');
SELECT ok((SELECT count(*) FROM backorder.event) > 0, 'bo_report: may read events');
SELECT is_empty('SELECT * FROM backorder.verify()', 'bo_report: may run verify(), which finds nothing');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('x', 'R1', 1)$$, '42501',
                 'permission denied for table order_line', 'bo_report: INSERT order_line -> 42501');
SELECT throws_ok($$INSERT INTO backorder.receipt (sku, qty) VALUES ('R1', 1)$$, '42501',
                 'permission denied for table receipt', 'bo_report: INSERT receipt -> 42501');
SELECT throws_ok(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 1)', pg_temp.lid('r2')), '42501',
                 'permission denied for table shipment', 'bo_report: INSERT shipment -> 42501');
SELECT throws_ok(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, 1)', pg_temp.lid('r2')), '42501',
                 'permission denied for table cancellation', 'bo_report: INSERT cancellation -> 42501');
SELECT throws_ok($$INSERT INTO backorder.adjustment (sku, delta) VALUES ('R1', 1)$$, '42501',
                 'permission denied for table adjustment', 'bo_report: INSERT adjustment -> 42501');
SELECT throws_ok($$INSERT INTO backorder.customer_order (order_ref) VALUES ('x')$$, '42501',
                 'permission denied for table customer_order', 'bo_report: INSERT customer_order -> 42501');
SELECT throws_ok($$INSERT INTO backorder.item (sku) VALUES ('X')$$, '42501',
                 'permission denied for table item', 'bo_report: INSERT item -> 42501');
SELECT throws_ok($$UPDATE backorder.item SET policy = 'backorder' WHERE sku = 'R1'$$, '42501',
                 'permission denied for table item', 'bo_report: UPDATE item.policy -> 42501');
SELECT throws_ok($$SELECT backorder.issue_due_purchase_orders(now())$$, '42501',
                 'permission denied for function issue_due_purchase_orders', 'bo_report: issue_due_purchase_orders -> 42501');
SELECT throws_ok($$SELECT backorder.cancel_purchase_order(1)$$, '42501',
                 'permission denied for function cancel_purchase_order', 'bo_report: cancel_purchase_order -> 42501');
SELECT throws_ok($$SET backorder.clock = '2020-01-01 00:00+00'$$, '42501',
                 'permission denied to set parameter "backorder.clock"',
                 'bo_report: may not choose the times the engine writes (backorder.clock) -> 42501');
-- the engine's trigger functions on a table of one's own: they would write the real items
CREATE TEMP TABLE my_lines (LIKE backorder.order_line);
SELECT throws_ok($$CREATE TRIGGER t BEFORE INSERT ON my_lines FOR EACH ROW
                   EXECUTE FUNCTION backorder.order_line_commit_stock()$$, '42501',
                 'permission denied for function backorder.order_line_commit_stock',
                 'bo_report: a trigger with the engine''s order function on its own table -> 42501');
RESET ROLE;
SET ROLE bo_app;
CREATE TEMP TABLE my_receipts (LIKE backorder.receipt);
SELECT throws_ok($$CREATE TRIGGER t BEFORE INSERT ON my_receipts FOR EACH ROW
                   EXECUTE FUNCTION backorder.receipt_fill_queue()$$, '42501',
                 'permission denied for function backorder.receipt_fill_queue',
                 'bo_app: the same with the receipt function -> 42501');
RESET ROLE;
-- and the owner, who may create such a trigger, gets an error rather than a stray change
CREATE TEMP TABLE own_lines (LIKE backorder.order_line);
CREATE TRIGGER t BEFORE INSERT ON own_lines FOR EACH ROW EXECUTE FUNCTION backorder.order_line_commit_stock();
SELECT throws_ok($$INSERT INTO own_lines (order_ref, sku, qty) VALUES ('x', 'R1', 1)$$, '55000',
                 'trigger function bo_order_line_insert fires only on the tables of schema backorder',
                 'the engine''s trigger on a table outside its schema -> 55000');
SELECT is(pg_temp.it('R1'), 'on_hand=3 alloc=3 back=0 incoming=0 avail=0', 'R1 unchanged');
SELECT is_empty('SELECT * FROM public.evil_log', 'no hostile object was called during the role tests either');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty at the end');

SELECT * FROM finish();
ROLLBACK;
