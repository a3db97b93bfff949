-- core_rules.sql: the order-line and receipt engine, rule by rule.
-- Allocation from free stock, partial allocation, backorder queueing, FIFO head-first fills
-- across several receipts, multi-row INSERT and INSERT ... SELECT, counters equal to the sums
-- over the ledger, the deny policy, backorder_limit exactly at its boundary, preorder, line_id
-- order, statuses, and placed_at / allocated_at under backorder.clock.
-- Every scenario ends with backorder.verify() being empty.
-- psql settings, BEGIN (this file ends with ROLLBACK), SET CONSTRAINTS ALL IMMEDIATE, pg_temp.ln/it/lid
\ir helpers.psql
SELECT plan(166);
SET backorder.clock = '2026-01-05 10:00+00';

-- helpers of this file (ln, it and lid come from helpers.psql) -------------------------
-- counters of an item as stored, and as the sums over its ledger rows
CREATE FUNCTION pg_temp.counters(s text) RETURNS text LANGUAGE sql AS $$
    SELECT format('on_hand=%s alloc=%s back=%s', on_hand, allocated, backordered)
      FROM backorder.item WHERE sku = s $$;
CREATE FUNCTION pg_temp.sums(s text) RETURNS text LANGUAGE sql AS $$
    SELECT format('on_hand=%s alloc=%s back=%s',
        (SELECT coalesce(sum(qty), 0) FROM backorder.receipt WHERE sku = s)
        + (SELECT coalesce(sum(delta), 0) FROM backorder.adjustment WHERE sku = s)
        - (SELECT coalesce(sum(sh.qty), 0) FROM backorder.shipment sh
             JOIN backorder.order_line l ON l.line_id = sh.line_id WHERE l.sku = s),
        (SELECT coalesce(sum(allocated_qty), 0) FROM backorder.order_line WHERE sku = s),
        (SELECT coalesce(sum(backordered_qty), 0) FROM backorder.order_line WHERE sku = s)) $$;

-- 1. allocation from free stock ---------------------------------------------------------
INSERT INTO backorder.item (sku) VALUES ('A');
SELECT is(pg_temp.it('A'), 'on_hand=0 alloc=0 back=0 incoming=0 avail=0', 'A: a new item starts with zero counters');

INSERT INTO backorder.receipt (sku, qty) VALUES ('A', 10);
SELECT is((SELECT allocated_qty FROM backorder.receipt WHERE sku = 'A'), 0::bigint,
          'A: a receipt with nobody waiting allocates 0 units');
SELECT is(pg_temp.it('A'), 'on_hand=10 alloc=0 back=0 incoming=0 avail=10', 'A: receipt of 10 -> on_hand 10, available 10');

INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('a1', 'A', 4);
SELECT is(pg_temp.ln('a1'), 'qty=4 alloc=4 back=0 ship=0 canc=0 allocated', 'a1: 4 of 10 free -> fully allocated');
SELECT is(pg_temp.it('A'), 'on_hand=10 alloc=4 back=0 incoming=0 avail=6', 'A: allocated 4, available 6');
SELECT is(pg_temp.counters('A'), pg_temp.sums('A'), 'A: counters equal sums over the ledger');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after allocation from free stock');

-- exact fit: an order for exactly the free stock is fully allocated, nothing waits
INSERT INTO backorder.item (sku) VALUES ('E');
INSERT INTO backorder.receipt (sku, qty) VALUES ('E', 5);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('e1', 'E', 5);
SELECT is(pg_temp.ln('e1'), 'qty=5 alloc=5 back=0 ship=0 canc=0 allocated', 'e1: order of exactly the 5 free units -> allocated');
SELECT is(pg_temp.it('E'), 'on_hand=5 alloc=5 back=0 incoming=0 avail=0', 'E: no free stock left, nothing waits');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('e2', 'E', 1);
SELECT is(pg_temp.ln('e2'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'e2: one more unit with no free stock -> backordered');
SELECT is(pg_temp.it('E'), 'on_hand=5 alloc=5 back=1 incoming=0 avail=-1', 'E: available goes negative (-1)');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the exact fit');

-- 2. partial allocation -----------------------------------------------------------------
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('a2', 'A', 9);
SELECT is(pg_temp.ln('a2'), 'qty=9 alloc=6 back=3 ship=0 canc=0 partially_allocated',
          'a2: 9 ordered with 6 free -> 6 allocated, 3 backordered');
SELECT is(pg_temp.it('A'), 'on_hand=10 alloc=10 back=3 incoming=0 avail=-3', 'A: on_hand 10 = allocated 10, 3 waiting');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after a partial allocation');

-- 3. backorder queueing -----------------------------------------------------------------
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('a3', 'A', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('a4', 'A', 5);
SELECT is(pg_temp.ln('a3'), 'qty=2 alloc=0 back=2 ship=0 canc=0 backordered', 'a3: no free stock -> 2 backordered');
SELECT is(pg_temp.ln('a4'), 'qty=5 alloc=0 back=5 ship=0 canc=0 backordered', 'a4: no free stock -> 5 backordered');
SELECT is(pg_temp.it('A'), 'on_hand=10 alloc=10 back=10 incoming=0 avail=-10', 'A: 10 units waiting (3 + 2 + 5)');
SELECT ok(pg_temp.lid('a2') < pg_temp.lid('a3') AND pg_temp.lid('a3') < pg_temp.lid('a4'),
          'A: queue order a2 < a3 < a4 by line_id');
SELECT is(pg_temp.counters('A'), pg_temp.sums('A'), 'A: counters equal sums after queueing');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after backorder queueing');

-- 4. FIFO: head first, partially, across several receipts -------------------------------
INSERT INTO backorder.receipt (sku, qty) VALUES ('A', 2);
SELECT is((SELECT allocated_qty FROM backorder.receipt WHERE sku = 'A' ORDER BY receipt_id DESC LIMIT 1), 2::bigint,
          'A: receipt of 2 allocates 2');
SELECT is(pg_temp.ln('a2'), 'qty=9 alloc=8 back=1 ship=0 canc=0 partially_allocated', 'a2 (head) gets both units, still waits 1');
SELECT is(pg_temp.ln('a3'), 'qty=2 alloc=0 back=2 ship=0 canc=0 backordered', 'a3 untouched while the head waits');
SELECT is(pg_temp.ln('a4'), 'qty=5 alloc=0 back=5 ship=0 canc=0 backordered', 'a4 untouched while the head waits');
SELECT is(pg_temp.it('A'), 'on_hand=12 alloc=12 back=8 incoming=0 avail=-8', 'A: 12 on hand, all allocated, 8 waiting');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the first FIFO receipt');

INSERT INTO backorder.receipt (sku, qty) VALUES ('A', 4);
SELECT is((SELECT allocated_qty FROM backorder.receipt WHERE sku = 'A' ORDER BY receipt_id DESC LIMIT 1), 4::bigint,
          'A: receipt of 4 allocates 4');
SELECT is(pg_temp.ln('a2'), 'qty=9 alloc=9 back=0 ship=0 canc=0 allocated', 'a2 completed with 1 unit');
SELECT is(pg_temp.ln('a3'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'a3 completed with 2 units');
SELECT is(pg_temp.ln('a4'), 'qty=5 alloc=1 back=4 ship=0 canc=0 partially_allocated', 'a4 gets the last unit, partially');
SELECT is(pg_temp.it('A'), 'on_hand=16 alloc=16 back=4 incoming=0 avail=-4', 'A: 16 on hand, all allocated, 4 waiting');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the second FIFO receipt');

INSERT INTO backorder.receipt (sku, qty) VALUES ('A', 10);
SELECT is((SELECT allocated_qty FROM backorder.receipt WHERE sku = 'A' ORDER BY receipt_id DESC LIMIT 1), 4::bigint,
          'A: receipt of 10 allocates only the 4 waiting units');
SELECT is(pg_temp.ln('a4'), 'qty=5 alloc=5 back=0 ship=0 canc=0 allocated', 'a4 completed');
SELECT is(pg_temp.it('A'), 'on_hand=26 alloc=20 back=0 incoming=0 avail=6', 'A: queue empty, 6 free');
SELECT is((SELECT sum(allocated_qty) FROM backorder.receipt WHERE sku = 'A'), 10::numeric,
          'A: receipts allocated 0 + 2 + 4 + 4 = 10 units to the queue');
SELECT is(pg_temp.counters('A'), pg_temp.sums('A'), 'A: counters equal sums after FIFO fills');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after FIFO fills');

-- 5. multi-row INSERT -------------------------------------------------------------------
INSERT INTO backorder.item (sku) VALUES ('M'), ('N');
INSERT INTO backorder.receipt (sku, qty) VALUES ('M', 5), ('N', 2);
SELECT is(pg_temp.it('M'), 'on_hand=5 alloc=0 back=0 incoming=0 avail=5', 'M: multi-row receipt booked 5');
SELECT is(pg_temp.it('N'), 'on_hand=2 alloc=0 back=0 incoming=0 avail=2', 'N: multi-row receipt booked 2');

INSERT INTO backorder.order_line (order_ref, sku, qty)
VALUES ('m1', 'M', 2), ('m2', 'M', 2), ('m3', 'M', 2), ('m4', 'M', 1);
SELECT is(pg_temp.ln('m1'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'm1: first row allocated');
SELECT is(pg_temp.ln('m2'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'm2: second row allocated');
SELECT is(pg_temp.ln('m3'), 'qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated', 'm3: third row gets the last free unit');
SELECT is(pg_temp.ln('m4'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'm4: fourth row waits');
SELECT is(pg_temp.it('M'), 'on_hand=5 alloc=5 back=2 incoming=0 avail=-2', 'M: counters after one 4-row statement');
SELECT is((SELECT array_agg(order_ref ORDER BY line_id) FROM backorder.order_line WHERE sku = 'M'),
          ARRAY['m1', 'm2', 'm3', 'm4'], 'M: line_ids follow the VALUES order');

-- one statement over two items, interleaved
INSERT INTO backorder.order_line (order_ref, sku, qty)
VALUES ('x1', 'M', 1), ('x1', 'N', 3), ('x2', 'M', 1);
SELECT is(pg_temp.ln('x1'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered; qty=3 alloc=2 back=1 ship=0 canc=0 partially_allocated',
          'x1: M line waits, N line gets the 2 free units');
SELECT is(pg_temp.ln('x2'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'x2: M line waits');
SELECT is(pg_temp.it('M'), 'on_hand=5 alloc=5 back=4 incoming=0 avail=-4', 'M: 4 waiting after the mixed statement');
SELECT is(pg_temp.it('N'), 'on_hand=2 alloc=2 back=1 incoming=0 avail=-1', 'N: 1 waiting after the mixed statement');
SELECT is(pg_temp.counters('M'), pg_temp.sums('M'), 'M: counters equal sums after multi-row inserts');
SELECT is(pg_temp.counters('N'), pg_temp.sums('N'), 'N: counters equal sums after multi-row inserts');

-- a multi-row receipt fills the queue row by row
INSERT INTO backorder.receipt (sku, qty) VALUES ('M', 1), ('M', 2);
SELECT is((SELECT array_agg(allocated_qty ORDER BY receipt_id DESC) FROM
           (SELECT * FROM backorder.receipt WHERE sku = 'M' ORDER BY receipt_id DESC LIMIT 2) r),
          ARRAY[2, 1]::bigint[], 'M: two-row receipt: allocated_qty 1 then 2');
SELECT is(pg_temp.ln('m3'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'm3 (head) completed by the first receipt row');
SELECT is(pg_temp.ln('m4'), 'qty=1 alloc=1 back=0 ship=0 canc=0 allocated', 'm4 completed by the second receipt row');
SELECT is(pg_temp.ln('x2'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'x2 still waits (1 unit short)');
SELECT is(pg_temp.it('M'), 'on_hand=8 alloc=8 back=1 incoming=0 avail=-1', 'M: counters after the two-row receipt');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after multi-row inserts');

-- 6. INSERT ... SELECT (and RETURNING shows what the engine stored) ---------------------
INSERT INTO backorder.item (sku) VALUES ('S');
INSERT INTO backorder.receipt (sku, qty) VALUES ('S', 10);
CREATE TEMP TABLE s_returned AS
WITH ins AS (
    INSERT INTO backorder.order_line (order_ref, sku, qty)
    SELECT 's' || g, 'S', g FROM generate_series(1, 5) g ORDER BY g
    RETURNING line_id, order_ref, allocated_qty, backordered_qty, status)
SELECT * FROM ins;
SELECT results_eq(
    $$SELECT order_ref, qty, allocated_qty, backordered_qty, status::text
        FROM backorder.order_line WHERE sku = 'S' ORDER BY line_id$$,
    $$VALUES ('s1', 1::bigint, 1::bigint, 0::bigint, 'allocated'),
             ('s2', 2, 2, 0, 'allocated'),
             ('s3', 3, 3, 0, 'allocated'),
             ('s4', 4, 4, 0, 'allocated'),
             ('s5', 5, 0, 5, 'backordered')$$,
    'S: INSERT ... SELECT of 1..5 units with 10 free: four allocated, the fifth waits');
SELECT results_eq(
    $$SELECT line_id, order_ref, allocated_qty, backordered_qty, status::text FROM s_returned ORDER BY line_id$$,
    $$SELECT line_id, order_ref, allocated_qty, backordered_qty, status::text
        FROM backorder.order_line WHERE sku = 'S' ORDER BY line_id$$,
    'S: RETURNING shows the line_id, quantities and status the engine stored');
SELECT is(pg_temp.it('S'), 'on_hand=10 alloc=10 back=5 incoming=0 avail=-5', 'S: counters after INSERT ... SELECT');
SELECT is(pg_temp.counters('S'), pg_temp.sums('S'), 'S: counters equal sums after INSERT ... SELECT');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after INSERT ... SELECT');

-- 7. counters equal sums, every item at once --------------------------------------------
SELECT is_empty(
    $$SELECT i.sku FROM backorder.item i
       WHERE i.allocated <> (SELECT coalesce(sum(l.allocated_qty), 0) FROM backorder.order_line l WHERE l.sku = i.sku)
          OR i.backordered <> (SELECT coalesce(sum(l.backordered_qty), 0) FROM backorder.order_line l WHERE l.sku = i.sku)
          OR i.on_hand <> (SELECT coalesce(sum(r.qty), 0) FROM backorder.receipt r WHERE r.sku = i.sku)
          OR i.available <> i.on_hand - i.allocated - i.backordered$$,
    'every item: allocated, backordered, on_hand equal the sums, available = on_hand - allocated - backordered');

-- 8. deny policy ------------------------------------------------------------------------
INSERT INTO backorder.item (sku, policy) VALUES ('D', 'deny'), ('D0', 'deny');
INSERT INTO backorder.receipt (sku, qty) VALUES ('D', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d1', 'D', 2);
SELECT is(pg_temp.ln('d1'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'd1: deny item, 2 of 3 free -> allocated');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d2', 'D', 2)$$,
                 'BO001', 'not enough stock of item "D"', 'd2: 2 ordered with 1 free on a deny item -> BO001');
SELECT is(pg_temp.it('D'), 'on_hand=3 alloc=2 back=0 incoming=0 avail=1', 'D: unchanged by the refused order');
SELECT is((SELECT count(*) FROM backorder.order_line WHERE order_ref = 'd2'), 0::bigint, 'd2: no line stored');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d3', 'D', 1);
SELECT is(pg_temp.ln('d3'), 'qty=1 alloc=1 back=0 ship=0 canc=0 allocated', 'd3: the last free unit of a deny item is allocated');
SELECT is(pg_temp.it('D'), 'on_hand=3 alloc=3 back=0 incoming=0 avail=0', 'D: sold out exactly');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d4', 'D', 1)$$,
                 'BO001', 'not enough stock of item "D"', 'd4: one unit beyond stock of a deny item -> BO001');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d5', 'D0', 1)$$,
                 'BO001', 'not enough stock of item "D0"', 'd5: deny item with no stock at all -> BO001');
-- a multi-row statement whose second row is refused stores nothing
INSERT INTO backorder.receipt (sku, qty) VALUES ('D', 2);
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d6', 'D', 1), ('d7', 'D', 2)$$,
                 'BO001', 'not enough stock of item "D"', 'd6+d7: second row beyond stock -> the whole statement fails');
SELECT is((SELECT count(*) FROM backorder.order_line WHERE order_ref IN ('d6', 'd7')), 0::bigint, 'd6, d7: no line stored');
SELECT is(pg_temp.it('D'), 'on_hand=5 alloc=3 back=0 incoming=0 avail=2', 'D: the first row''s allocation was undone too');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d8', 'D', 2);
SELECT is(pg_temp.ln('d8'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'd8: after the failed statement both free units are still there');
SELECT is(pg_temp.it('D'), 'on_hand=5 alloc=5 back=0 incoming=0 avail=0', 'D: sold out again');
SELECT is(pg_temp.counters('D'), pg_temp.sums('D'), 'D: counters equal sums');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the deny policy');

-- 9. backorder_limit: reaching it exactly is fine, one more unit is not -----------------
INSERT INTO backorder.item (sku, backorder_limit) VALUES ('L', 5), ('L2', 2), ('L0', 0), ('L3', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l1', 'L', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l2', 'L', 2);
SELECT is(pg_temp.ln('l2'), 'qty=2 alloc=0 back=2 ship=0 canc=0 backordered', 'l2: brings L to exactly its limit of 5 -> accepted');
SELECT is(pg_temp.it('L'), 'on_hand=0 alloc=0 back=5 incoming=0 avail=-5', 'L: 5 waiting = backorder_limit');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l3', 'L', 1)$$,
                 'BO002', 'backorder limit of item "L" reached', 'l3: one unit beyond the limit -> BO002');
SELECT is(pg_temp.it('L'), 'on_hand=0 alloc=0 back=5 incoming=0 avail=-5', 'L: unchanged by the refused order');
-- the limit counts units waiting now: a receipt makes room for exactly as many units
INSERT INTO backorder.receipt (sku, qty) VALUES ('L', 1);
SELECT is(pg_temp.ln('l1'), 'qty=3 alloc=1 back=2 ship=0 canc=0 partially_allocated', 'l1: receipt of 1 goes to the head');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l4', 'L', 1);
SELECT is(pg_temp.it('L'), 'on_hand=1 alloc=1 back=5 incoming=0 avail=-5', 'l4: the freed place is taken, L at its limit again');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l5', 'L', 1)$$,
                 'BO002', 'backorder limit of item "L" reached', 'l5: beyond the limit again -> BO002');
-- only backordered units count: allocated units are free of the cap
INSERT INTO backorder.receipt (sku, qty) VALUES ('L2', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l6', 'L2', 5);
SELECT is(pg_temp.ln('l6'), 'qty=5 alloc=3 back=2 ship=0 canc=0 partially_allocated', 'l6: 3 allocated + 2 waiting = limit 2 -> accepted');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l7', 'L2', 1)$$,
                 'BO002', 'backorder limit of item "L2" reached', 'l7: third waiting unit with limit 2 -> BO002');
-- limit 0: sells stock, never queues
INSERT INTO backorder.receipt (sku, qty) VALUES ('L0', 1);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l8', 'L0', 1);
SELECT is(pg_temp.ln('l8'), 'qty=1 alloc=1 back=0 ship=0 canc=0 allocated', 'l8: limit 0, in stock -> allocated');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l9', 'L0', 1)$$,
                 'BO002', 'backorder limit of item "L0" reached', 'l9: limit 0, no stock -> BO002');
-- a multi-row statement crossing the limit on its second row stores nothing
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l10', 'L3', 2), ('l11', 'L3', 2)$$,
                 'BO002', 'backorder limit of item "L3" reached', 'l10+l11: 4 waiting units with limit 3 -> BO002');
SELECT is(pg_temp.it('L3'), 'on_hand=0 alloc=0 back=0 incoming=0 avail=0', 'L3: nothing of the failed statement remains');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('l12', 'L3', 3);
SELECT is(pg_temp.it('L3'), 'on_hand=0 alloc=0 back=3 incoming=0 avail=-3', 'l12: exactly 3 waiting units after the failure -> accepted');
SELECT is(pg_temp.counters('L'), pg_temp.sums('L'), 'L: counters equal sums');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after backorder_limit');

-- 10. preorder queues like backorder ----------------------------------------------------
INSERT INTO backorder.item (sku, policy) VALUES ('PRE', 'preorder');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('p1', 'PRE', 4);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('p2', 'PRE', 2);
SELECT is(pg_temp.ln('p1'), 'qty=4 alloc=0 back=4 ship=0 canc=0 backordered', 'p1: preorder line queues');
SELECT is(pg_temp.ln('p2'), 'qty=2 alloc=0 back=2 ship=0 canc=0 backordered', 'p2: preorder line queues');
SELECT is(pg_temp.it('PRE'), 'on_hand=0 alloc=0 back=6 incoming=0 avail=-6', 'PRE: 6 waiting');
INSERT INTO backorder.receipt (sku, qty) VALUES ('PRE', 5);
SELECT is(pg_temp.ln('p1'), 'qty=4 alloc=4 back=0 ship=0 canc=0 allocated', 'p1: release fills the head');
SELECT is(pg_temp.ln('p2'), 'qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated', 'p2: partially filled');
SELECT is(pg_temp.it('PRE'), 'on_hand=5 alloc=5 back=1 incoming=0 avail=-1', 'PRE: counters after the release');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('p3', 'PRE', 1);
SELECT is(pg_temp.ln('p3'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'p3: queues behind p2');
SELECT is(pg_temp.counters('PRE'), pg_temp.sums('PRE'), 'PRE: counters equal sums');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after preorder');

-- 11. line_id increases in commit order, across statements and items --------------------
SELECT is((SELECT array_agg(order_ref ORDER BY line_id) FROM backorder.order_line
            WHERE sku IN ('A', 'M', 'N')),
          ARRAY['a1', 'a2', 'a3', 'a4', 'm1', 'm2', 'm3', 'm4', 'x1', 'x1', 'x2'],
          'line_ids follow the order in which lines were inserted');
SELECT is((SELECT array_agg(sku ORDER BY line_id) FROM backorder.order_line WHERE order_ref = 'x1'),
          ARRAY['M', 'N'], 'x1: its M line got a smaller line_id than its N line (VALUES order)');
SELECT ok((SELECT bool_and(line_id > 0) AND count(DISTINCT line_id) = count(*) FROM backorder.order_line),
          'line_ids are positive and unique');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('late', 'E', 1);
SELECT is(pg_temp.lid('late'), (SELECT max(line_id) FROM backorder.order_line), 'the newest line has the largest line_id');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the line_id checks');

-- 12. status values ---------------------------------------------------------------------
SELECT enum_has_labels('backorder', 'line_status',
                       ARRAY['backordered', 'partially_allocated', 'allocated', 'shipped', 'cancelled'],
                       'line_status has exactly the five documented labels in order');
INSERT INTO backorder.item (sku) VALUES ('ST');
INSERT INTO backorder.receipt (sku, qty) VALUES ('ST', 4);
INSERT INTO backorder.order_line (order_ref, sku, qty)
VALUES ('st-alloc', 'ST', 2), ('st-part', 'ST', 3), ('st-back', 'ST', 1), ('st-ship', 'ST', 1), ('st-canc', 'ST', 1);
INSERT INTO backorder.receipt (sku, qty) VALUES ('ST', 3);    -- st-part, st-back, st-ship complete
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('st-ship'), 1);
INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('st-canc'), NULL);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('st-part2', 'ST', 2);
INSERT INTO backorder.receipt (sku, qty) VALUES ('ST', 1);
SELECT results_eq(
    $$SELECT order_ref, status::text FROM backorder.order_line WHERE sku = 'ST' ORDER BY line_id$$,
    $$VALUES ('st-alloc', 'allocated'), ('st-part', 'allocated'), ('st-back', 'allocated'),
             ('st-ship', 'shipped'), ('st-canc', 'cancelled'), ('st-part2', 'partially_allocated')$$,
    'ST: statuses follow the quantities');
SELECT is(pg_temp.ln('st-canc'), 'qty=1 alloc=0 back=0 ship=0 canc=1 cancelled', 'st-canc: cancelled while waiting');
SELECT is(pg_temp.ln('st-ship'), 'qty=1 alloc=0 back=0 ship=1 canc=0 shipped', 'st-ship: shipped');
SELECT is(pg_temp.ln('st-part2'), 'qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated', 'st-part2: partially allocated');
SELECT is(pg_temp.it('ST'), 'on_hand=7 alloc=7 back=1 incoming=0 avail=-1', 'ST: counters');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the status checks');

-- 13. placed_at / allocated_at and backorder.clock --------------------------------------
INSERT INTO backorder.item (sku) VALUES ('C');
SET backorder.clock = '2026-01-05 10:00+00';
INSERT INTO backorder.receipt (sku, qty) VALUES ('C', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('c1', 'C', 2), ('c2', 'C', 3);
SELECT is((SELECT placed_at FROM backorder.order_line WHERE order_ref = 'c1'), '2026-01-05 10:00+00'::timestamptz,
          'c1: placed_at = backorder.clock');
SELECT is((SELECT allocated_at FROM backorder.order_line WHERE order_ref = 'c1'), '2026-01-05 10:00+00'::timestamptz,
          'c1: fully allocated on placement -> allocated_at = placed_at');
SELECT is((SELECT placed_at FROM backorder.order_line WHERE order_ref = 'c2'), '2026-01-05 10:00+00'::timestamptz,
          'c2: placed_at = backorder.clock');
SELECT ok((SELECT allocated_at IS NULL FROM backorder.order_line WHERE order_ref = 'c2'),
          'c2: waiting line has allocated_at NULL');

SET backorder.clock = '2026-01-06 09:30+00';
INSERT INTO backorder.receipt (sku, qty) VALUES ('C', 1);
SELECT is((SELECT received_at FROM backorder.receipt WHERE sku = 'C' ORDER BY receipt_id DESC LIMIT 1),
          '2026-01-06 09:30+00'::timestamptz, 'C: received_at = backorder.clock');
SELECT ok((SELECT allocated_at IS NULL FROM backorder.order_line WHERE order_ref = 'c2'),
          'c2: partially filled line keeps allocated_at NULL');

SET backorder.clock = '2026-01-07 08:00+00';
INSERT INTO backorder.receipt (sku, qty) VALUES ('C', 5);
SELECT is((SELECT allocated_at FROM backorder.order_line WHERE order_ref = 'c2'), '2026-01-07 08:00+00'::timestamptz,
          'c2: allocated_at = the clock when its last unit arrived');
SELECT is((SELECT placed_at FROM backorder.order_line WHERE order_ref = 'c2'), '2026-01-05 10:00+00'::timestamptz,
          'c2: placed_at unchanged by the fill');
SELECT is((SELECT array_agg(DISTINCT at) FROM backorder.event
            WHERE sku = 'C' AND kind IN ('stock_received', 'line_allocated')
              AND at > '2026-01-07 00:00+00'),
          ARRAY['2026-01-07 08:00+00'::timestamptz], 'C: events of that receipt carry the clock');

SET backorder.clock = '';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('c3', 'C', 1);
SELECT is((SELECT placed_at FROM backorder.order_line WHERE order_ref = 'c3'), now(),
          'c3: empty clock -> placed_at = transaction start');
SELECT is((SELECT allocated_at FROM backorder.order_line WHERE order_ref = 'c3'), now(),
          'c3: allocated from free stock -> allocated_at = transaction start');
RESET backorder.clock;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('c4', 'C', 9);
SELECT is((SELECT placed_at FROM backorder.order_line WHERE order_ref = 'c4'), now(),
          'c4: reset clock -> placed_at = transaction start');
SELECT is(pg_temp.ln('c4'), 'qty=9 alloc=2 back=7 ship=0 canc=0 partially_allocated', 'c4: the 2 free units allocated, 7 wait');
SELECT is(pg_temp.counters('C'), pg_temp.sums('C'), 'C: counters equal sums');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the clock checks');

-- 14. shop objects on the engine's tables -------------------------------------------------
-- a shop trigger on item updates sees every counter change, once per statement
CREATE TABLE public.item_audit (n serial, sku text, on_hand bigint, allocated bigint, backordered bigint);
CREATE FUNCTION public.item_audit() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO public.item_audit (sku, on_hand, allocated, backordered)
    VALUES (NEW.sku, NEW.on_hand, NEW.allocated, NEW.backordered);
    RETURN NEW;
END $$;
INSERT INTO backorder.item (sku) VALUES ('TR');
CREATE TRIGGER shop_audit AFTER UPDATE ON backorder.item FOR EACH ROW EXECUTE FUNCTION public.item_audit();
INSERT INTO backorder.receipt (sku, qty) VALUES ('TR', 5);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('tr1', 'TR', 2), ('tr2', 'TR', 2), ('tr3', 'TR', 3);
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('tr1'), 2);
SELECT results_eq($$SELECT on_hand, allocated, backordered FROM public.item_audit WHERE sku = 'TR' ORDER BY n$$,
                  $$VALUES (5::bigint, 0::bigint, 0::bigint), (5, 5, 2), (3, 3, 2)$$,
                  'TR: a shop AFTER UPDATE trigger on item sees each statement''s counters, one update per statement');
SELECT is(pg_temp.it('TR'), 'on_hand=3 alloc=3 back=2 incoming=0 avail=-2', 'TR: counters written through the trigger-visible path');
DROP TRIGGER shop_audit ON backorder.item;
-- an index with an expression on item
CREATE INDEX item_lower_sku_idx ON backorder.item (lower(sku));
INSERT INTO backorder.receipt (sku, qty) VALUES ('TR', 2);
SELECT is(pg_temp.it('TR'), 'on_hand=5 alloc=5 back=0 incoming=0 avail=0', 'TR: counters correct with an expression index on item');
SET LOCAL enable_seqscan = off;
SELECT is((SELECT on_hand FROM backorder.item WHERE lower(sku) = 'tr'), 5::bigint, 'TR: the expression index finds the current row');
RESET enable_seqscan;
DROP INDEX backorder.item_lower_sku_idx;
-- a shop BEFORE INSERT trigger on order_line fires before the engine, which sees the row as stored
CREATE FUNCTION public.round_to_pairs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.qty := (NEW.qty + 1) / 2 * 2;
    RETURN NEW;
END $$;
CREATE TRIGGER aa_pairs BEFORE INSERT ON backorder.order_line FOR EACH ROW EXECUTE FUNCTION public.round_to_pairs();
INSERT INTO backorder.receipt (sku, qty) VALUES ('TR', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('tr4', 'TR', 3);
SELECT is(pg_temp.ln('tr4'), 'qty=4 alloc=3 back=1 ship=0 canc=0 partially_allocated',
          'tr4: the shop trigger rounded 3 up to 4, the engine allocated 3 and queued 1 of the 4');
DROP TRIGGER aa_pairs ON backorder.order_line;
SELECT is(pg_temp.it('TR'), 'on_hand=8 alloc=8 back=1 incoming=0 avail=-1', 'TR: counters after the shop triggers');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the shop objects');

-- 15. the queue head --------------------------------------------------------------------
-- item.queue_head is the oldest waiting line; receipts start their walk there. It moves on
-- fills, on cancellations of the head line, and back when an adjustment takes units back.
CREATE FUNCTION pg_temp.head(s text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce((SELECT order_ref FROM backorder.order_line WHERE line_id = i.queue_head), 'none')
      FROM backorder.item i WHERE i.sku = s $$;
INSERT INTO backorder.item (sku) VALUES ('QH');
SELECT is(pg_temp.head('QH'), 'none', 'QH: a new item has no queue head');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('qh1', 'QH', 2), ('qh2', 'QH', 3), ('qh3', 'QH', 1), ('qh4', 'QH', 2);
SELECT is(pg_temp.head('QH'), 'qh1', 'QH: the first waiting line heads the queue');
INSERT INTO backorder.cancellation (line_id) VALUES (pg_temp.lid('qh1'));
SELECT is(pg_temp.head('QH'), 'qh2', 'QH: cancelling the head line moves the head to the next waiting line');
INSERT INTO backorder.cancellation (line_id) VALUES (pg_temp.lid('qh3'));
SELECT is(pg_temp.head('QH'), 'qh2', 'QH: cancelling a line behind the head leaves the head');
INSERT INTO backorder.receipt (sku, qty) VALUES ('QH', 4);
SELECT is(pg_temp.ln('qh2') || ' | ' || pg_temp.ln('qh4'),
          'qty=3 alloc=3 back=0 ship=0 canc=0 allocated | qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated',
          'QH: a receipt of 4 fills qh2, skips the cancelled qh3, fills qh4 partially');
SELECT is(pg_temp.head('QH'), 'qh4', 'QH: the partially filled line is the new head');
INSERT INTO backorder.adjustment (sku, delta) VALUES ('QH', -3);
SELECT is(pg_temp.ln('qh2') || ' | ' || pg_temp.ln('qh4'),
          'qty=3 alloc=1 back=2 ship=0 canc=0 partially_allocated | qty=2 alloc=0 back=2 ship=0 canc=0 backordered',
          'QH: a loss of 3 takes 1 back from qh4 and 2 from qh2, newest first');
SELECT is(pg_temp.head('QH'), 'qh2', 'QH: a line that waits again heads the queue from its own place');
INSERT INTO backorder.receipt (sku, qty) VALUES ('QH', 2);
SELECT is(pg_temp.head('QH'), 'qh4', 'QH: qh2 filled, qh4 heads');
INSERT INTO backorder.receipt (sku, qty) VALUES ('QH', 3);
SELECT is(pg_temp.head('QH') || ' ' || pg_temp.it('QH'), 'none on_hand=6 alloc=5 back=0 incoming=0 avail=1',
          'QH: the queue is empty after the last waiting line is filled; 1 unit stays free');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('qh5', 'QH', 1), ('qh6', 'QH', 2);
SELECT is(pg_temp.head('QH'), 'qh6', 'QH: the first line that waits after free stock ran out heads the queue');
SELECT throws_ok($$UPDATE backorder.item SET queue_head = 1 WHERE sku = 'QH'$$, '428C9',
                 'column "queue_head" of table "item" is maintained by backorder',
                 'QH: clients cannot move the queue head');
SELECT throws_ok($$INSERT INTO backorder.item (sku, queue_head) VALUES ('QH2', 0)$$, '428C9',
                 'column "queue_head" of table "item" is maintained by backorder',
                 'QH: a new item cannot come with a queue head');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the queue-head moves');

-- the same walk through the executor: a shop trigger on order_line updates must see every
-- filled line, and a shop partial index must get its entries
CREATE TABLE public.line_audit (line_id bigint, status text);
CREATE FUNCTION public.line_audit() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO public.line_audit VALUES (NEW.line_id, NEW.status);
    RETURN NEW;
END $$;
CREATE TRIGGER shop_line_audit AFTER UPDATE ON backorder.order_line FOR EACH ROW EXECUTE FUNCTION public.line_audit();
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('qh7', 'QH', 1), ('qh8', 'QH', 3);
INSERT INTO backorder.receipt (sku, qty) VALUES ('QH', 4);
SELECT results_eq($$SELECT status FROM public.line_audit ORDER BY line_id$$,
                  $$VALUES ('allocated'), ('allocated'), ('partially_allocated')$$,
                  'QH: a shop AFTER UPDATE trigger sees each line the receipt filled (qh6, qh7, qh8)');
SELECT is(pg_temp.head('QH'), 'qh8', 'QH: the executor walk leaves the head at the partially filled line');
DROP TRIGGER shop_line_audit ON backorder.order_line;
CREATE INDEX line_waiting_idx ON backorder.order_line (line_id) WHERE backordered_qty > 0;
INSERT INTO backorder.receipt (sku, qty) VALUES ('QH', 2);
SET LOCAL enable_seqscan = off;
SELECT is((SELECT count(*) FROM backorder.order_line WHERE backordered_qty > 0 AND sku = 'QH'), 0::bigint,
          'QH: a shop partial index on waiting lines is kept right by the fill');
RESET enable_seqscan;
DROP INDEX backorder.line_waiting_idx;
SELECT is(pg_temp.head('QH'), 'none', 'QH: the last waiting line filled, no head');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the executor walks');

-- verify() notices a queue head and a purchase-order total that the engine did not write
-- (rows changed behind its back, as only a superuser with the triggers off can)
INSERT INTO backorder.supplier (supplier_id, lead_time, po_min_qty) VALUES ('VQ', '3 days', 1000);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('VQ1', 'VQ');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('vq1', 'VQ1', 2), ('vq2', 'VQ1', 3);
SELECT is((SELECT total_qty FROM backorder.purchase_order WHERE supplier_id = 'VQ' AND status = 'draft'),
          5::bigint, 'VQ: the draft keeps the units of its lines as total_qty');
SET LOCAL session_replication_role = replica;
UPDATE backorder.item SET queue_head = pg_temp.lid('vq2') WHERE sku = 'VQ1';
UPDATE backorder.purchase_order SET total_qty = total_qty + 1 WHERE supplier_id = 'VQ';
RESET session_replication_role;
SELECT results_eq($$SELECT invariant, sku FROM backorder.verify() ORDER BY 1$$,
                  $$VALUES ('purchase order total', NULL::text), ('queue head', 'VQ1')$$,
                  'verify() reports a wrong queue head and a wrong purchase-order total');
SET LOCAL session_replication_role = replica;
UPDATE backorder.item SET queue_head = pg_temp.lid('vq1') WHERE sku = 'VQ1';
UPDATE backorder.purchase_order SET total_qty = total_qty - 1 WHERE supplier_id = 'VQ';
RESET session_replication_role;
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty once both are put back');

-- COPY into the ledger: the same triggers as INSERT, row by row in the data's order
INSERT INTO backorder.item (sku) VALUES ('CP1');
INSERT INTO backorder.receipt (sku, qty) VALUES ('CP1', 5);
COPY backorder.order_line (order_ref, sku, qty) FROM STDIN;
cp	CP1	2
cp	CP1	2
cp	CP1	2
cp	CP1	2
\.
SELECT is(pg_temp.ln('cp'),
          'qty=2 alloc=2 back=0 ship=0 canc=0 allocated; qty=2 alloc=2 back=0 ship=0 canc=0 allocated; '
          'qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated; qty=2 alloc=0 back=2 ship=0 canc=0 backordered',
          'COPY into order_line: lines take stock in the order of the data, the rest waits (FIFO)');
SELECT is(pg_temp.it('CP1'), 'on_hand=5 alloc=5 back=3 incoming=0 avail=-3', 'COPY: the item counters');
SELECT is((SELECT string_agg(kind || ':' || qty, ', ' ORDER BY event_id) FROM backorder.event
            WHERE sku = 'CP1' AND kind::text LIKE 'line%'),
          'line_allocated:2, line_allocated:2, line_allocated:1, line_backordered:1, line_backordered:2',
          'COPY: the placement events of every line, in its order');
COPY backorder.receipt (sku, qty) FROM STDIN;
CP1	2
\.
SELECT is(pg_temp.ln('cp'),
          'qty=2 alloc=2 back=0 ship=0 canc=0 allocated; qty=2 alloc=2 back=0 ship=0 canc=0 allocated; '
          'qty=2 alloc=2 back=0 ship=0 canc=0 allocated; qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated',
          'COPY into receipt: the units fill the head of the queue first, partially at the next line');
SELECT is_empty($$SELECT * FROM backorder.verify() WHERE sku = 'CP1'$$, 'verify() empty after the COPYs');

SELECT * FROM finish();
ROLLBACK;
