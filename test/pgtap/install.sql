-- install.sql: CREATE EXTENSION and the schema it is given. The install script runs with
-- search_path = backorder, so objects someone put in a schema "backorder" beforehand would
-- take part in resolving every name the script binds (an operator on mixed types, say). The
-- script refuses a schema that holds any object (42P06), and an empty one that a role other
-- than a superuser controls (42501): owned by it, or where it (or PUBLIC) may CREATE. An empty
-- one that only superusers control (as DROP EXTENSION leaves it, or a restore makes it, with
-- its owner) is fine. The engine's functions then act as the owner of its tables, even if the
-- schema is given to another role later. The fresh install then serves a check of the
-- engine's item notes that needs a transaction where nothing was noted yet.
-- psql settings, BEGIN (this file ends with ROLLBACK), SET CONSTRAINTS ALL IMMEDIATE, pg_temp.ln/it/lid
\ir helpers.psql
SELECT plan(19);

DROP EXTENSION backorder CASCADE;
CREATE SCHEMA IF NOT EXISTS backorder;
SELECT is((SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = 'backorder'::regnamespace), 0::bigint,
          'after DROP EXTENSION the schema backorder is empty');

CREATE ROLE planter;
ALTER SCHEMA backorder OWNER TO planter;
SET ROLE planter;
CREATE FUNCTION backorder.planted(numeric, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR backorder.>= (LEFTARG = numeric, RIGHTARG = bigint, FUNCTION = backorder.planted);
RESET ROLE;
SELECT throws_ok('CREATE EXTENSION backorder', '42P06', 'schema "backorder" already exists and holds objects',
                 'a schema holding an operator (and its function) is refused');
DROP OPERATOR backorder.>= (numeric, bigint);
DROP FUNCTION backorder.planted(numeric, bigint);
CREATE TABLE backorder.leftover (x int);
SELECT throws_ok('CREATE EXTENSION backorder', '42P06', NULL, 'a schema holding a table is refused');
DROP TABLE backorder.leftover;

-- empty, but controlled by a role that is not a superuser
SELECT throws_ok('CREATE EXTENSION backorder', '42501',
                 'schema "backorder" is owned by role "planter", which is not a superuser',
                 'an empty schema owned by a role that is not a superuser is refused');
ALTER SCHEMA backorder OWNER TO CURRENT_USER;
GRANT CREATE ON SCHEMA backorder TO planter;
SELECT throws_ok('CREATE EXTENSION backorder', '42501',
                 'role planter may create objects in schema "backorder" and is not a superuser',
                 'an empty schema where a role that is not a superuser may CREATE is refused');
REVOKE CREATE ON SCHEMA backorder FROM planter;
GRANT CREATE ON SCHEMA backorder TO PUBLIC;
SELECT throws_ok('CREATE EXTENSION backorder', '42501',
                 'role PUBLIC may create objects in schema "backorder" and is not a superuser',
                 'an empty schema where PUBLIC may CREATE is refused');
REVOKE CREATE ON SCHEMA backorder FROM PUBLIC;

CREATE ROLE other_super SUPERUSER;
ALTER SCHEMA backorder OWNER TO other_super;
GRANT USAGE ON SCHEMA backorder TO planter;
GRANT CREATE ON SCHEMA backorder TO CURRENT_USER;
SELECT lives_ok('CREATE EXTENSION backorder',
                'an empty schema that only superusers control is fine, whichever superuser owns it '
                '(a restore creates the schema with its owner first)');
INSERT INTO backorder.item (sku) VALUES ('I1');
INSERT INTO backorder.receipt (sku, qty) VALUES ('I1', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('i1', 'I1', 3);
SELECT is(pg_temp.ln('i1'), 'qty=3 alloc=2 back=1 ship=0 canc=0 partially_allocated', 'and the engine works in it');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty');

-- the purchase-order functions act as the owner of the tables (as the triggers do), not as
-- the schema's owner: here a role that may not even read them
INSERT INTO backorder.supplier (supplier_id, po_min_qty, po_max_wait) VALUES ('isup', 100, '1 hour');
INSERT INTO backorder.item (sku, supplier_id) VALUES ('I2', 'isup');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('i2', 'I2', 3);
ALTER SCHEMA backorder OWNER TO planter;
SELECT lives_ok($$SELECT backorder.issue_due_purchase_orders(now() + interval '2 hours')$$,
                'issue_due_purchase_orders acts as the tables'' owner when the schema belongs to another role');
SELECT is((SELECT string_agg(status::text, ',' ORDER BY po_id) FROM backorder.purchase_order WHERE supplier_id = 'isup'),
          'issued', 'it issued the draft that waited past po_max_wait');
SELECT lives_ok($$SELECT backorder.cancel_purchase_order(po_id) FROM backorder.purchase_order WHERE supplier_id = 'isup'$$,
                'cancel_purchase_order too');
SELECT is((SELECT string_agg(status::text, ',' ORDER BY po_id) FROM backorder.purchase_order WHERE supplier_id = 'isup'),
          'cancelled,draft', 'the issued order is cancelled, its units back in a new draft');
ALTER SCHEMA backorder OWNER TO other_super;

-- In the fresh install (no shop objects, no notes yet in this transaction): a bulk insert the
-- planner expects to reach an eighth of the items notes where every item is after 1,000 index
-- look-ups, not after an eighth of the table
INSERT INTO backorder.item (sku) SELECT 'NT' || g FROM generate_series(1, 20000) g;
ANALYZE backorder.item;
SELECT pg_stat_get_xact_numscans('backorder.item_pkey'::regclass) AS nt_idx0 \gset
SELECT seq_scan AS nt_seq0 FROM pg_stat_xact_user_tables WHERE relid = 'backorder.item'::regclass \gset
INSERT INTO backorder.order_line (order_ref, sku, qty) SELECT 'nt', 'NT' || g, 1 FROM generate_series(1, 3000) g;
SELECT is((SELECT seq_scan - :nt_seq0 FROM pg_stat_xact_user_tables WHERE relid = 'backorder.item'::regclass)
          || ' scan, ' || (SELECT CASE WHEN n - :nt_idx0 <= 1000 THEN 'at most 1000' ELSE (n - :nt_idx0)::text END
                             FROM pg_stat_get_xact_numscans('backorder.item_pkey'::regclass) n)
          || ' look-ups', '1 scan, at most 1000 look-ups',
          '3,000 lines over 20,000 items: one scan of item after at most 1,000 look-ups through its key');
SELECT is((SELECT count(*) FROM backorder.order_line WHERE order_ref = 'nt' AND backordered_qty = 1), 3000::bigint,
          'and every line is there, waiting');

-- A database whose default privileges keep EXECUTE from PUBLIC (a common hardening): the
-- helpers that a supplier's CHECK and the promise functions call are granted to PUBLIC by
-- the install script, so a role with the grants it needs for its own work gets on
DROP EXTENSION backorder CASCADE;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
CREATE EXTENSION backorder;
CREATE ROLE hardened_app;
GRANT USAGE ON SCHEMA backorder TO hardened_app;
GRANT SELECT ON ALL TABLES IN SCHEMA backorder TO hardened_app;
GRANT SELECT, INSERT (supplier_id, name, lead_time, po_min_qty, po_max_wait),
      UPDATE (lead_time, po_max_wait) ON backorder.supplier TO hardened_app;
INSERT INTO backorder.item (sku) VALUES ('H1');
SET ROLE hardened_app;
SELECT lives_ok($$INSERT INTO backorder.supplier (supplier_id, lead_time, po_max_wait) VALUES ('hs', '3 days', '1 day')$$,
                'hardened defaults: the app inserts a supplier (its CHECK calls interval_nonnegative)');
SELECT lives_ok($$UPDATE backorder.supplier SET lead_time = '4 days' WHERE supplier_id = 'hs'$$,
                'and updates its lead_time');
SELECT is((SELECT available_now FROM backorder.available_to_promise('H1', 1)), 0::bigint,
          'and asks available_to_promise (which calls engine_now, check_sku_qty, supply_schedule)');
SELECT lives_ok($$SELECT * FROM backorder.verify()$$, 'and runs verify()');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
