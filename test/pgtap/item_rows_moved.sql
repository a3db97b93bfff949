-- item_rows_moved.sql: a session that ordered an item before finds the item's live row
-- after the row moved to another page, after the item was deleted and created again, after
-- vacuum gave its line pointer to another item, after a rewrite of the table, and after
-- vacuum truncated the table below where the row was. Each scenario orders again in the
-- same session and checks that the order booked against the item's live row. (A cache of
-- row locations kept by a backend across transactions, tried in session 13 and dropped
-- for lack of a measurable gain, failed two of these: a line pointer reused by another
-- item, and a truncated table.)
-- Unlike the other files, this one commits as it goes (the session's state outlives its
-- transactions, and VACUUM cannot run in one); each file runs in a database of its own.
\ir settings.psql

SELECT plan(17);

CREATE FUNCTION pg_temp.it(s text) RETURNS text LANGUAGE sql AS $$
    SELECT format('on_hand=%s alloc=%s back=%s', on_hand, allocated, backordered)
      FROM backorder.item WHERE sku = s $$;
CREATE FUNCTION pg_temp.ctid(s text) RETURNS tid LANGUAGE sql AS $$
    SELECT ctid FROM backorder.item WHERE sku = s $$;

-- 1. A line pointer that vacuum gave to another item ----------------------------------
-- The session looks V1 up with an order that fails ('deny', no stock); V1 is deleted,
-- vacuum frees its line pointer, and V2 takes it: where V1 was, the session's snapshot now
-- sees a row of another sku.
INSERT INTO backorder.item (sku, policy) VALUES ('V1', 'deny');
CREATE TEMP TABLE v1_was AS SELECT pg_temp.ctid('V1') AS t;
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('v0', 'V1', 1)$$,
                 'BO001', NULL, 'V1: a deny item without stock refuses the order (the session looked it up)');
DELETE FROM backorder.item WHERE sku = 'V1';
VACUUM (INDEX_CLEANUP ON) backorder.item;
INSERT INTO backorder.item (sku) VALUES ('V2');
SELECT is(pg_temp.ctid('V2'), (SELECT t FROM v1_was), 'V2 took the line pointer V1 had');
INSERT INTO backorder.item (sku) VALUES ('V1');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('v1', 'V1', 3);
SELECT is(pg_temp.it('V1') || ' / ' || pg_temp.it('V2'), 'on_hand=0 alloc=0 back=3 / on_hand=0 alloc=0 back=0',
          'V1: the order booked against the new V1, not against V2 at V1''s old line pointer');

-- 2. An item deleted and created again ------------------------------------------------
INSERT INTO backorder.item (sku, policy) VALUES ('D', 'deny');
CREATE TEMP TABLE d_was AS SELECT pg_temp.ctid('D') AS t;
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d0', 'D', 1)$$,
                 'BO001', NULL, 'D: a deny item without stock refuses the order (the session looked it up)');
DELETE FROM backorder.item WHERE sku = 'D';
INSERT INTO backorder.item (sku) VALUES ('D');
SELECT isnt(pg_temp.ctid('D'), (SELECT t FROM d_was), 'D: the new row is elsewhere');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d1', 'D', 2);
SELECT is(pg_temp.it('D'), 'on_hand=0 alloc=0 back=2', 'D: the order booked against the new row');

-- 3. A row moved to another page by a non-HOT update -----------------------------------
-- One transaction updates M until its page has no room for another version: the next
-- version goes to another page: a non-HOT update, the end of the row's HOT chain.
INSERT INTO backorder.item (sku) VALUES ('M');
INSERT INTO backorder.receipt (sku, qty) VALUES ('M', 100);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('m1', 'M', 1);
CREATE TEMP TABLE m_was AS SELECT pg_temp.ctid('M') AS t;
DO $$
BEGIN
    FOR i IN 1 .. 200 LOOP
        UPDATE backorder.item SET backorder_limit = i WHERE sku = 'M';
    END LOOP;
    UPDATE backorder.item SET backorder_limit = NULL WHERE sku = 'M';
END $$;
SELECT isnt((pg_temp.ctid('M')::text::point)[0], ((SELECT t FROM m_was)::text::point)[0],
            'M: its row moved to another page');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('m2', 'M', 4);
SELECT is((SELECT allocated_qty FROM backorder.order_line WHERE order_ref = 'm2'), 4::bigint,
          'M: the order after the move is allocated');
SELECT is(pg_temp.it('M'), 'on_hand=100 alloc=5 back=0', 'M: the moved row has both orders');

-- 4. A rewrite of the table -----------------------------------------------------------
CREATE TEMP TABLE file_was AS SELECT pg_relation_filenode('backorder.item') AS f;
VACUUM FULL backorder.item;
SELECT isnt(pg_relation_filenode('backorder.item'), (SELECT f FROM file_was), 'item has a new file');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('m3', 'M', 2), ('d2', 'D', 1);
SELECT is(pg_temp.it('M') || ' / ' || pg_temp.it('D'), 'on_hand=100 alloc=7 back=0 / on_hand=0 alloc=0 back=3',
          'M and D: orders after the rewrite booked against the rewritten rows');

-- 5. Vacuum truncated the table below where the row was ------------------------------
-- The session looks T3000 up in the table's last page; the items after T2000 are deleted
-- and vacuum gives their pages back: the order finds no such item, as an order for an
-- unknown sku does (not "could not read block"), and finds T3000 once it exists again.
INSERT INTO backorder.item (sku, policy) SELECT 'T' || lpad(g::text, 4, '0'), 'deny' FROM generate_series(1, 3000) g;
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('t0', 'T3000', 1)$$,
                 'BO001', NULL, 'T3000: a deny item without stock refuses the order (the session looked it up)');
CREATE TEMP TABLE t_was AS SELECT pg_relation_size('backorder.item') AS size;
DELETE FROM backorder.item WHERE sku > 'T2000' AND sku LIKE 'T%';
VACUUM backorder.item;
SELECT cmp_ok(pg_relation_size('backorder.item'), '<', (SELECT size FROM t_was), 'vacuum truncated the item table');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('t1', 'T3000', 1)$$,
                 '23503', NULL, 'T3000: deleted, the table truncated below its old row: no such item');
INSERT INTO backorder.item (sku) VALUES ('T3000');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('t2', 'T3000', 2);
SELECT is(pg_temp.it('T3000'), 'on_hand=0 alloc=0 back=2', 'T3000 created again: the order booked against it');

SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() is empty at the end');
SELECT is((SELECT count(*) FROM backorder.order_line), 7::bigint, 'every order line is there');

SELECT * FROM finish();
