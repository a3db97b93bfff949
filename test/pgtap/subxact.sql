-- subxact.sql: the item cache across rolled-back subtransactions (savepoints, PL/pgSQL
-- exception blocks). A rolled-back subtransaction takes back its row locks and writes, so the
-- engine forgets every item it touched and reads it again at the next touch; the items it did
-- not touch stay cached. Covered: nested savepoints (a released child's touches go with its
-- parent's rollback), an item dropped by a child's rollback and another one cached afterwards
-- in the same parent, a PL/pgSQL loop with an exception block per order once the item notes
-- of a bulk load are in the cache, and the one change that cannot be taken back alone (an
-- unwritten change of the statement, touched in a subtransaction that rolls back: BO009),
-- and purchase-order work done in a savepoint that rolls back (done again at commit).
-- Every scenario ends with backorder.verify() being empty.
\ir helpers.psql
SELECT plan(35);
SET backorder.clock = '2026-02-01 10:00+00';

-- items with stock and their receipts, written as a restore writes them (no trigger fires), so
-- that no item is in this transaction's cache before the scenarios
SET session_replication_role = replica;
INSERT INTO backorder.item (sku, on_hand) VALUES ('SA', 10), ('SB', 10), ('SC', 10), ('SD', 10);
INSERT INTO backorder.item (sku, on_hand) SELECT 'L' || g, 2 FROM generate_series(1, 8000) g;
INSERT INTO backorder.item (sku, on_hand, policy) VALUES ('SX', 3, 'deny');
INSERT INTO backorder.receipt (sku, qty, received_at, allocated_qty)
    SELECT sku, on_hand, '2026-02-01 09:00+00', 0 FROM backorder.item;
RESET session_replication_role;

-- nested savepoints: the child is released, then the parent rolls back
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('n0', 'SA', 1);
SAVEPOINT p;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('n1', 'SA', 2);
SAVEPOINT c;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('n2', 'SA', 3), ('n2', 'SB', 4);
RELEASE SAVEPOINT c;
ROLLBACK TO SAVEPOINT p;
SELECT is(pg_temp.it('SA'), 'on_hand=10 alloc=1 back=0 incoming=0 avail=9',
          'parent rolled back after its child was released: SA as before the parent');
SELECT is(pg_temp.it('SB'), 'on_hand=10 alloc=0 back=0 incoming=0 avail=10',
          'and SB, touched only by the released child, too');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('n3', 'SA', 2), ('n3', 'SB', 1);
SELECT is(pg_temp.it('SA'), 'on_hand=10 alloc=3 back=0 incoming=0 avail=7',
          'the next order reads SA again: counted from the row, not the rolled-back cache');
SELECT is(pg_temp.it('SB'), 'on_hand=10 alloc=1 back=0 incoming=0 avail=9', 'and SB');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the nested savepoints');

-- a child rolls back (SB goes), the parent caches SC, then the parent rolls back: SA (touched
-- by the parent before the child), SC (after it) go; SD, untouched, keeps its cached state
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('m0', 'SD', 1);
SAVEPOINT p2;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('m1', 'SA', 1);
SAVEPOINT c2;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('m2', 'SB', 1);
ROLLBACK TO SAVEPOINT c2;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('m3', 'SC', 5);
SELECT is(pg_temp.it('SC'), 'on_hand=10 alloc=5 back=0 incoming=0 avail=5', 'SC ordered after the child rolled back');
ROLLBACK TO SAVEPOINT p2;
SELECT is(pg_temp.it('SA') || ' | ' || pg_temp.it('SC'),
          'on_hand=10 alloc=3 back=0 incoming=0 avail=7 | on_hand=10 alloc=0 back=0 incoming=0 avail=10',
          'parent rolled back: SA and SC as before it');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('m4', 'SC', 10), ('m4', 'SA', 7), ('m4', 'SD', 9);
SELECT is(pg_temp.ln('m4'),
          'qty=10 alloc=10 back=0 ship=0 canc=0 allocated; qty=7 alloc=7 back=0 ship=0 canc=0 allocated; '
          || 'qty=9 alloc=9 back=0 ship=0 canc=0 allocated',
          'then orders of the last units of SC, SA and SD are allocated in full');
SELECT is(pg_temp.it('SD'), 'on_hand=10 alloc=10 back=0 incoming=0 avail=0', 'SD counted on from its cached state');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the child and parent rollbacks');

-- a PL/pgSQL loop, one exception block per two-line order, after a bulk insert that looked
-- up more than an eighth of the items (so that their notes are in the cache: 8,000 items,
-- 1,500 of them ordered first). Every 10th order's second line names an unknown sku, so its
-- first line, which has already written its item's row, is rolled back with it: that item
-- must be read again at its next order.
ANALYZE backorder.item;
SELECT seq_scan AS scans0 FROM pg_stat_xact_user_tables WHERE relid = 'backorder.item'::regclass \gset
INSERT INTO backorder.order_line (order_ref, sku, qty) SELECT 'b' || g, 'L' || g, 1 FROM generate_series(1, 1500) g;
SELECT is(seq_scan - :scans0, 1::bigint, 'the bulk insert noted where every item is (one scan of item)')
  FROM pg_stat_xact_user_tables WHERE relid = 'backorder.item'::regclass;
CREATE FUNCTION pg_temp.loop_orders() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    failed int := 0;
BEGIN
    FOR i IN 1 .. 3000 LOOP
        BEGIN
            INSERT INTO backorder.order_line (order_ref, sku, qty)
            VALUES ('x' || i, 'L' || (1 + i % 2000), 1),
                   ('x' || i, CASE WHEN i % 10 = 0 THEN 'NO-SUCH' ELSE 'L' || (1 + i * 7 % 2000) END, 1);
        EXCEPTION WHEN foreign_key_violation THEN
            failed := failed + 1;
        END;
    END LOOP;
    RETURN failed;
END $$;
SELECT is(pg_temp.loop_orders(), 300, 'the loop: 300 of 3,000 orders failed, each in its own subtransaction');
SELECT is((SELECT count(*) FROM backorder.order_line WHERE order_ref LIKE 'x%'), 5400::bigint,
          'the 5,400 lines of the other 2,700 are there');
SELECT is((SELECT sum(allocated) || '/' || sum(backordered) FROM backorder.item WHERE sku LIKE 'L%'),
          (SELECT sum(allocated_qty) || '/' || sum(backordered_qty) FROM backorder.order_line
            WHERE sku LIKE 'L%'),
          'the L items count exactly what their lines hold');
SELECT is(pg_temp.it('L11') || ' | ' || pg_temp.it('L7'),
          'on_hand=2 alloc=1 back=0 incoming=0 avail=1 | on_hand=2 alloc=2 back=3 incoming=0 avail=-3',
          'L11: its bulk line only (x10, x1430 and x2010 rolled back); L7: a bulk line and four loop lines');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the loop');

-- a failed order caught by its subtransaction leaves nothing open behind it: the item table
-- can be altered next (ALTER TABLE refuses a table this session still has open)
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('f1', 'SA', 1), ('f1', 'NO-SUCH', 1)$$,
                 '23503', 'item "NO-SUCH" does not exist', 'a two-line order whose second sku is unknown -> 23503');
SELECT lives_ok('ALTER TABLE backorder.item SET (fillfactor = 50)', 'then ALTER TABLE item works');

-- a subtransaction that rolls back in the middle of an order's claim of its item: an index
-- on item whose (immutable, by its word) function catches an error of its own. The claim
-- goes on with the item table it opened, which the rollback must not close under it; the
-- statement's end closes it, so that ALTER TABLE works again.
CREATE FUNCTION pg_temp.caught(n bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    BEGIN
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN
        NULL;
    END;
    RETURN n;
END $$;
CREATE INDEX item_caught_idx ON backorder.item (pg_temp.caught(allocated));
SELECT lives_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ix1', 'SB', 1), ('ix1', 'SC', 1), ('ix1', 'SB', 1)$$,
                'orders claiming items through an index whose function rolls back a subtransaction');
SELECT is(pg_temp.it('SB') || ' | ' || pg_temp.it('SC'),
          'on_hand=10 alloc=3 back=0 incoming=0 avail=7 | on_hand=10 alloc=10 back=1 incoming=0 avail=-1',
          'their counters are right (SC had no free unit left: its line waits)');
DROP INDEX backorder.item_caught_idx;
SELECT lives_ok('ALTER TABLE backorder.item SET (fillfactor = 50)', 'and ALTER TABLE item works after that statement');

-- purchase-order work done inside a savepoint that rolls back. PostgreSQL fires the deferred
-- purchase-order sync again at commit when the savepoint that fired it rolled back; the skus
-- it resynchronised and the orders it completed must be pending again by then. (SET
-- CONSTRAINTS ALL IMMEDIATE fires pending deferred triggers here, as a commit would.)
CREATE FUNCTION pg_temp.po_lines() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(p.status || ' ' || l.sku || ' ' || l.qty, ', ' ORDER BY l.sku)
      FROM backorder.purchase_order p JOIN backorder.purchase_order_line l USING (po_id)
     WHERE p.supplier_id IN ('PX', 'PY') $$;
INSERT INTO backorder.supplier (supplier_id, po_min_qty) VALUES ('PX', 100), ('PY', 1);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('PXA', 'PX'), ('PYA', 'PY');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('py1', 'PYA', 3);   -- issued at once
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('px1', 'PXA', 5);
INSERT INTO backorder.receipt (sku, qty, po_id)
    SELECT 'PYA', 3, po_id FROM backorder.purchase_order WHERE supplier_id = 'PY';
SAVEPOINT po;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is(pg_temp.po_lines(),
          'draft PXA 5, received PYA 3', 'inside the savepoint: PXA''s draft line, PY''s order received');
ROLLBACK TO po;
SELECT is(pg_temp.po_lines(),
          'issued PYA 3', 'rolled back: no draft line for PXA, PY''s order issued again');
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is(pg_temp.po_lines(),
          'draft PXA 5, received PYA 3', 'fired again: the draft line and the received order are back');
SELECT is(pg_temp.it('PXA'), 'on_hand=0 alloc=0 back=5 incoming=5 avail=-5', 'PXA expects its 5 units');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the purchase-order work rolled back and redone');
-- an item created inside the rolled-back savepoint comes back as a pending sku with no row:
-- the next resync skips it
SAVEPOINT gone;
INSERT INTO backorder.item (sku, supplier_id) VALUES ('PGONE', 'PX');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('pg1', 'PGONE', 1);
ROLLBACK TO gone;
SELECT lives_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('px2', 'PXA', 1)$$,
                'the next order''s resync skips the item the savepoint took with it');
SELECT is(pg_temp.po_lines(), 'draft PXA 6, received PYA 3', 'and PXA''s draft line grew');
-- a loop of orders, each in an exception block: every resync runs in a subtransaction that
-- commits, and what it took is let go of then, not kept to the end of the transaction
DO $$
BEGIN
    FOR i IN 1..50 LOOP
        BEGIN
            INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('loop', 'PXA', 1);
        EXCEPTION WHEN division_by_zero THEN NULL;
        END;
    END LOOP;
END $$;
SELECT cmp_ok((SELECT count(*) FROM pg_backend_memory_contexts WHERE ident = 'backorder pending skus'), '<=', 1::bigint,
              'after 50 resyncs in committed subtransactions at most one table of pending skus is left');
SELECT is(pg_temp.it('PXA'), 'on_hand=0 alloc=0 back=56 incoming=56 avail=-56', 'PXA expects its 56 units');

-- the change that cannot be taken back alone. In a two-line statement for one item, the
-- second line changes the cached counters (written at statement end); a shop trigger on
-- order_line then orders the same item inside an exception block, and that order fails
-- (the item's policy is deny), rolling back a subtransaction that touched the item with
-- that change unwritten. The engine cannot tell the change from the rolled-back touch:
-- the statement fails with BO009 and nothing of it stays; the cache cannot be trusted for
-- the rest of the transaction, which must roll back (the error's hint).
CREATE FUNCTION pg_temp.reorder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.order_ref = 'lost2' THEN
        BEGIN
            INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('lost3', 'SX', 5);
        EXCEPTION WHEN SQLSTATE 'BO001' THEN
            NULL;
        END;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER reorder AFTER INSERT ON backorder.order_line FOR EACH ROW EXECUTE FUNCTION pg_temp.reorder();
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('lost1', 'SX', 1), ('lost2', 'SX', 1)$$,
                 'BO009', 'stock changes of this statement were lost by a rolled-back subtransaction',
                 'a rolled-back touch of an item with an unwritten change: BO009');
SELECT is(pg_temp.it('SX'), 'on_hand=3 alloc=0 back=0 incoming=0 avail=3', 'SX unchanged');
SELECT is((SELECT count(*) FROM backorder.order_line WHERE order_ref LIKE 'lost%'), 0::bigint, 'no line of it');
DROP TRIGGER reorder ON backorder.order_line;
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('after', 'SA', 1)$$,
                 'BO009', NULL, 'the next order in the transaction, of another item, fails the same way');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after BO009');

SELECT * FROM finish();
ROLLBACK;
