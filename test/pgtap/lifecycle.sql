-- lifecycle.sql: what happens to lines after they are placed.
-- Shipments, cancellations (the Spree #7328 case among them), stock adjustments (gains, losses
-- within free stock, losses that take allocation back, losses below zero), ship_complete order
-- headers, events (and that a rolled-back savepoint leaves none), purge_events, and item settings
-- (supplier_id, policy, backorder_limit) changed by a client while lines wait, and draft
-- purchase-order lines written directly or, with a shop trigger, through the executor (amcheck
-- checks every btree index of the extension afterwards).
-- Every scenario ends with backorder.verify() being empty.
-- psql settings, BEGIN (this file ends with ROLLBACK), SET CONSTRAINTS ALL IMMEDIATE, pg_temp.ln/it/lid
\ir helpers.psql
SELECT plan(195);
SET backorder.clock = '2026-01-05 10:00+00';

-- helpers of this file (ln, it and lid come from helpers.psql) -------------------------
-- the events of an item since a given event_id, readable: kind:order_ref:qty
CREATE FUNCTION pg_temp.ev(s text, after bigint) RETURNS text[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(format('%s:%s:%s', kind, coalesce(order_ref, '-'), qty) ORDER BY event_id), '{}')
      FROM backorder.event WHERE sku = s AND event_id > after $$;
CREATE FUNCTION pg_temp.last_event() RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(max(event_id), 0) FROM backorder.event $$;
CREATE TEMP TABLE mark (name text PRIMARY KEY, v bigint);
CREATE FUNCTION pg_temp.mark(n text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO mark VALUES (n, pg_temp.last_event()) ON CONFLICT (name) DO UPDATE SET v = EXCLUDED.v $$;
CREATE FUNCTION pg_temp.since(n text) RETURNS bigint LANGUAGE sql AS $$
    SELECT v FROM mark WHERE name = n $$;

-- 1. shipments --------------------------------------------------------------------------
INSERT INTO backorder.item (sku) VALUES ('SH');
INSERT INTO backorder.receipt (sku, qty) VALUES ('SH', 10);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sh1', 'SH', 6), ('sh2', 'SH', 6);
SELECT is(pg_temp.ln('sh2'), 'qty=6 alloc=4 back=2 ship=0 canc=0 partially_allocated', 'sh2: 4 allocated, 2 waiting');

SET backorder.clock = '2026-01-05 11:00+00';
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('sh1'), 2);
SELECT is(pg_temp.ln('sh1'), 'qty=6 alloc=4 back=0 ship=2 canc=0 allocated', 'sh1: partial shipment of 2 -> 4 still allocated');
SELECT is(pg_temp.it('SH'), 'on_hand=8 alloc=8 back=2 incoming=0 avail=-2', 'SH: shipped units leave on_hand and allocated');
SELECT is((SELECT shipped_at FROM backorder.shipment WHERE line_id = pg_temp.lid('sh1')),
          '2026-01-05 11:00+00'::timestamptz, 'sh1: shipped_at = backorder.clock');

INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('sh1'), 4);
SELECT is(pg_temp.ln('sh1'), 'qty=6 alloc=0 back=0 ship=6 canc=0 shipped', 'sh1: the rest shipped -> status shipped');
SELECT is(pg_temp.it('SH'), 'on_hand=4 alloc=4 back=2 incoming=0 avail=-2', 'SH: counters after the full shipment');

SELECT throws_ok(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 5)', pg_temp.lid('sh2')),
                 'BO003', format('cannot ship 5 units of order line %s', pg_temp.lid('sh2')),
                 'sh2: shipping 5 with 4 allocated -> BO003');
SELECT throws_ok(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 1)', pg_temp.lid('sh1')),
                 'BO003', format('cannot ship 1 units of order line %s', pg_temp.lid('sh1')),
                 'sh1: shipping a shipped line again -> BO003');
SELECT is(pg_temp.it('SH'), 'on_hand=4 alloc=4 back=2 incoming=0 avail=-2', 'SH: refused shipments changed nothing');

INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('sh2'), 4);
SELECT is(pg_temp.ln('sh2'), 'qty=6 alloc=0 back=2 ship=4 canc=0 partially_allocated',
          'sh2: shipped what was allocated, 2 still waiting -> partially_allocated');
SELECT is(pg_temp.it('SH'), 'on_hand=0 alloc=0 back=2 incoming=0 avail=-2', 'SH: nothing on hand, 2 waiting');
SELECT throws_ok(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 1)', pg_temp.lid('sh2')),
                 'BO003', format('cannot ship 1 units of order line %s', pg_temp.lid('sh2')),
                 'sh2: shipping waiting units -> BO003');
INSERT INTO backorder.receipt (sku, qty) VALUES ('SH', 2);
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('sh2'), 1), (pg_temp.lid('sh2'), 1);
SELECT is(pg_temp.ln('sh2'), 'qty=6 alloc=0 back=0 ship=6 canc=0 shipped', 'sh2: two shipment rows in one statement -> shipped');
SELECT is(pg_temp.it('SH'), 'on_hand=0 alloc=0 back=0 incoming=0 avail=0', 'SH: all gone');
SELECT is((SELECT sum(s.qty) FROM backorder.shipment s JOIN backorder.order_line l USING (line_id) WHERE l.sku = 'SH'),
          12::numeric, 'SH: shipment rows sum to 12');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after shipments');

-- 2. cancellations ----------------------------------------------------------------------
SET backorder.clock = '2026-01-05 12:00+00';
INSERT INTO backorder.item (sku) VALUES ('CA');
INSERT INTO backorder.receipt (sku, qty) VALUES ('CA', 5);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ca1', 'CA', 3), ('ca2', 'CA', 4), ('ca3', 'CA', 2);
SELECT is(pg_temp.it('CA'), 'on_hand=5 alloc=5 back=4 incoming=0 avail=-4', 'CA: 5 allocated (3 + 2), 4 waiting (2 + 2)');

INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('ca2'), 1);
SELECT is(pg_temp.ln('ca2'), 'qty=4 alloc=2 back=1 ship=0 canc=1 partially_allocated', 'ca2: cancelling 1 releases a waiting unit first');
SELECT is(pg_temp.ln('ca3'), 'qty=2 alloc=0 back=2 ship=0 canc=0 backordered', 'ca3: nothing freed, still waits');
SELECT is(pg_temp.it('CA'), 'on_hand=5 alloc=5 back=3 incoming=0 avail=-3', 'CA: one waiting unit fewer');
SELECT is((SELECT cancelled_at FROM backorder.cancellation WHERE line_id = pg_temp.lid('ca2') LIMIT 1),
          '2026-01-05 12:00+00'::timestamptz, 'ca2: cancelled_at = backorder.clock');

INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('ca2'), 2);
SELECT is(pg_temp.ln('ca2'), 'qty=4 alloc=1 back=0 ship=0 canc=3 allocated', 'ca2: cancelling 2 = the last waiting unit, then 1 allocated');
SELECT is(pg_temp.ln('ca3'), 'qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated', 'ca3: the freed allocated unit goes to the queue head');
SELECT is(pg_temp.it('CA'), 'on_hand=5 alloc=5 back=1 incoming=0 avail=-1', 'CA: counters after the mixed cancellation');

INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('ca1'), NULL);
SELECT is(pg_temp.ln('ca1'), 'qty=3 alloc=0 back=0 ship=0 canc=3 cancelled', 'ca1: qty NULL cancels all 3 open units');
SELECT is((SELECT qty FROM backorder.cancellation WHERE line_id = pg_temp.lid('ca1')), 3::bigint,
          'ca1: the stored cancellation has the resolved qty 3, not NULL');
SELECT is(pg_temp.ln('ca3'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'ca3: completed by the released stock');
SELECT is(pg_temp.it('CA'), 'on_hand=5 alloc=3 back=0 incoming=0 avail=2', 'CA: 2 released units are free stock');

SELECT throws_ok(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, NULL)', pg_temp.lid('ca1')),
                 'BO004', format('order line %s has nothing left to cancel', pg_temp.lid('ca1')),
                 'ca1: cancelling a cancelled line again (NULL) -> BO004');
SELECT throws_ok(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, 1)', pg_temp.lid('ca1')),
                 'BO004', format('order line %s has nothing left to cancel', pg_temp.lid('ca1')),
                 'ca1: cancelling 1 unit of a cancelled line -> BO004');
SELECT throws_ok(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, 3)', pg_temp.lid('ca3')),
                 'BO004', format('cannot cancel 3 units of order line %s', pg_temp.lid('ca3')),
                 'ca3: cancelling 3 with 2 open -> BO004');
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('ca2'), 1);
SELECT throws_ok(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, NULL)', pg_temp.lid('ca2')),
                 'BO004', format('order line %s has nothing left to cancel', pg_temp.lid('ca2')),
                 'ca2: its only remaining unit was shipped -> cancelling it is BO004');
SELECT is(pg_temp.ln('ca2'), 'qty=4 alloc=0 back=0 ship=1 canc=3 shipped', 'ca2: shipped, unchanged by the refused cancellation');

-- NULL on a partly shipped line resolves to what is still open
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ca4', 'CA', 2);
INSERT INTO backorder.receipt (sku, qty) VALUES ('CA', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ca5', 'CA', 5);
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('ca5'), 1);
INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('ca5'), NULL);
SELECT is((SELECT qty FROM backorder.cancellation WHERE line_id = pg_temp.lid('ca5')), 4::bigint,
          'ca5: NULL on a line with 1 shipped, 2 allocated, 2 waiting is stored as the 4 open units');
SELECT is(pg_temp.ln('ca5'), 'qty=5 alloc=0 back=0 ship=1 canc=4 shipped', 'ca5: everything open cancelled, the shipped unit stays');
SELECT is(pg_temp.it('CA'), 'on_hand=6 alloc=4 back=0 incoming=0 avail=2', 'CA: counters after cancelling the partly shipped line');
SELECT is((SELECT sum(c.qty) FROM backorder.cancellation c JOIN backorder.order_line l USING (line_id) WHERE l.sku = 'CA'),
          (SELECT sum(cancelled_qty) FROM backorder.order_line WHERE sku = 'CA'),
          'CA: cancellation rows sum to the cancelled quantities of the lines');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after cancellations');

-- 3. Spree #7328: allocated units released by a cancellation go to the queue HEAD --------
-- Stock 3 for 6 units of demand. sp1 (order X) holds all 3; sp2 (order Y, 2 units) heads the
-- queue; sp3 (order X again, 1 unit) and sp4 (1 unit) wait behind it. A unit that sp1 releases
-- must go to sp2, the oldest waiting line, even though sp3 or sp4 could be completed with it
-- and sp3 belongs to the cancelling order.
INSERT INTO backorder.item (sku) VALUES ('SP');
INSERT INTO backorder.receipt (sku, qty) VALUES ('SP', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('X', 'SP', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('Y', 'SP', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('X', 'SP', 1);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('Z', 'SP', 1);
SELECT is(pg_temp.it('SP'), 'on_hand=3 alloc=3 back=4 incoming=0 avail=-4', 'SP: stock 3 below demand 7');
INSERT INTO backorder.cancellation (line_id, qty)
SELECT line_id, 1 FROM backorder.order_line WHERE order_ref = 'X' AND qty = 3;
SELECT is(pg_temp.ln('Y'), 'qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated',
          'SP: the released unit goes to the head line (Y), partially');
SELECT is(pg_temp.ln('X'), 'qty=3 alloc=2 back=0 ship=0 canc=1 allocated; qty=1 alloc=0 back=1 ship=0 canc=0 backordered',
          'SP: the cancelling order''s own waiting line does not get it');
SELECT is(pg_temp.ln('Z'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'SP: the later 1-unit line does not get it');
INSERT INTO backorder.cancellation (line_id, qty)
SELECT line_id, 1 FROM backorder.order_line WHERE order_ref = 'X' AND qty = 3;
SELECT is(pg_temp.ln('Y'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'SP: the second released unit completes the head (Y)');
SELECT is(pg_temp.ln('Z'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'SP: Z still waits');
INSERT INTO backorder.cancellation (line_id, qty)
SELECT line_id, NULL FROM backorder.order_line WHERE order_ref = 'X' AND qty = 3;
SELECT is(pg_temp.ln('X'), 'qty=3 alloc=0 back=0 ship=0 canc=3 cancelled; qty=1 alloc=1 back=0 ship=0 canc=0 allocated',
          'SP: the third released unit goes to the next in line, X''s second line');
SELECT is(pg_temp.ln('Z'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'SP: Z, last in line, still waits');
SELECT is(pg_temp.it('SP'), 'on_hand=3 alloc=3 back=1 incoming=0 avail=-1', 'SP: counters');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the Spree #7328 case');

-- 4. adjustments ------------------------------------------------------------------------
SET backorder.clock = '2026-01-05 13:00+00';
INSERT INTO backorder.item (sku) VALUES ('AD');
INSERT INTO backorder.receipt (sku, qty) VALUES ('AD', 4);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ad1', 'AD', 3), ('ad2', 'AD', 3), ('ad3', 'AD', 2);
SELECT is(pg_temp.it('AD'), 'on_hand=4 alloc=4 back=4 incoming=0 avail=-4', 'AD: 4 allocated, 4 waiting');
-- a gain fills the queue
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('AD', 3, 'found in aisle 4');
SELECT is(pg_temp.ln('ad2'), 'qty=3 alloc=3 back=0 ship=0 canc=0 allocated', 'ad2: the gain completes the head');
SELECT is(pg_temp.ln('ad3'), 'qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated', 'ad3: and half of the next line');
SELECT is(pg_temp.it('AD'), 'on_hand=7 alloc=7 back=1 incoming=0 avail=-1', 'AD: counters after a gain of 3');
SELECT is((SELECT adjusted_at FROM backorder.adjustment WHERE sku = 'AD' LIMIT 1), '2026-01-05 13:00+00'::timestamptz,
          'AD: adjusted_at = backorder.clock');
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('AD', 4, 'recount');
SELECT is(pg_temp.it('AD'), 'on_hand=11 alloc=8 back=0 incoming=0 avail=3', 'AD: a gain of 4 completes ad3, 3 free');
-- a loss within free stock touches no line
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('AD', -2, 'damaged');
SELECT is(pg_temp.it('AD'), 'on_hand=9 alloc=8 back=0 incoming=0 avail=1', 'AD: a loss of 2 with 3 free only lowers free stock');
SELECT is(pg_temp.ln('ad1') || ' | ' || pg_temp.ln('ad2') || ' | ' || pg_temp.ln('ad3'),
          'qty=3 alloc=3 back=0 ship=0 canc=0 allocated | qty=3 alloc=3 back=0 ship=0 canc=0 allocated | qty=2 alloc=2 back=0 ship=0 canc=0 allocated',
          'AD: every line keeps its allocation');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after gains and a small loss');

-- a loss beyond free stock takes allocation back from the NEWEST allocated lines
SET backorder.clock = '2026-01-05 14:00+00';
SELECT pg_temp.mark('loss');
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('AD', -4, 'theft');
SELECT is(pg_temp.it('AD'), 'on_hand=5 alloc=5 back=3 incoming=0 avail=-3', 'AD: loss of 4 with 1 free -> 3 units taken back');
SELECT is(pg_temp.ln('ad3'), 'qty=2 alloc=0 back=2 ship=0 canc=0 backordered', 'ad3 (newest) loses both units and waits again');
SELECT is(pg_temp.ln('ad2'), 'qty=3 alloc=2 back=1 ship=0 canc=0 partially_allocated', 'ad2 (next newest) loses 1 unit');
SELECT is(pg_temp.ln('ad1'), 'qty=3 alloc=3 back=0 ship=0 canc=0 allocated', 'ad1 (oldest) keeps its allocation');
SELECT ok((SELECT bool_and(allocated_at IS NULL) FROM backorder.order_line WHERE order_ref IN ('ad2', 'ad3')),
          'ad2, ad3: allocated_at cleared when units are taken back');
SELECT is(pg_temp.ev('AD', pg_temp.since('loss')),
          ARRAY['stock_adjusted:-:-4', 'line_backordered:ad3:2', 'line_backordered:ad2:1'],
          'AD: events of the loss: stock_adjusted -4, then line_backordered for ad3 (2) and ad2 (1)');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after a loss beyond free stock');
-- they keep their place in the queue: a newer line waits behind them
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ad4', 'AD', 1);
SELECT is(pg_temp.ln('ad4'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'ad4: new line queues behind');
INSERT INTO backorder.receipt (sku, qty) VALUES ('AD', 2);
SELECT is(pg_temp.ln('ad2'), 'qty=3 alloc=3 back=0 ship=0 canc=0 allocated', 'ad2: first refilled by the next receipt');
SELECT is(pg_temp.ln('ad3'), 'qty=2 alloc=1 back=1 ship=0 canc=0 partially_allocated', 'ad3: refilled next');
SELECT is(pg_temp.ln('ad4'), 'qty=1 alloc=0 back=1 ship=0 canc=0 backordered', 'ad4: still waits behind ad3');
SELECT is(pg_temp.it('AD'), 'on_hand=7 alloc=7 back=2 incoming=0 avail=-2', 'AD: counters after the refill');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the refill');
-- a loss beyond on_hand is refused
SELECT throws_ok($$INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('AD', -8, 'too much')$$,
                 'BO006', 'adjustment would leave item "AD" with negative stock', 'AD: loss of 8 with 7 on hand -> BO006');
SELECT is(pg_temp.it('AD'), 'on_hand=7 alloc=7 back=2 incoming=0 avail=-2', 'AD: unchanged by the refused loss');
-- a loss of exactly everything on hand takes every allocation back
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('AD', -7, 'fire');
SELECT is(pg_temp.it('AD'), 'on_hand=0 alloc=0 back=9 incoming=0 avail=-9', 'AD: loss of all 7 -> every unit waits');
SELECT is((SELECT array_agg(status::text ORDER BY line_id) FROM backorder.order_line WHERE sku = 'AD'),
          ARRAY['backordered', 'backordered', 'backordered', 'backordered'], 'AD: every line backordered');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after losing all stock');

-- 5. ship_complete order headers --------------------------------------------------------
INSERT INTO backorder.item (sku) VALUES ('K1'), ('K2');
INSERT INTO backorder.receipt (sku, qty) VALUES ('K1', 5);
INSERT INTO backorder.customer_order (order_ref, ship_complete) VALUES ('SC', true), ('PARTIAL', false);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('SC', 'K1', 2), ('SC', 'K2', 1);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('PARTIAL', 'K1', 1), ('PARTIAL', 'K2', 1);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('NOHDR', 'K1', 1), ('NOHDR', 'K2', 1);
SELECT throws_ok(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 2)',
                        (SELECT line_id FROM backorder.order_line WHERE order_ref = 'SC' AND sku = 'K1')),
                 'BO007', 'order "SC" ships complete and still has waiting lines',
                 'SC: an allocated line of a ship_complete order with a waiting line -> BO007');
SELECT is(pg_temp.it('K1'), 'on_hand=5 alloc=4 back=0 incoming=0 avail=1', 'K1: unchanged by the refused shipment');
INSERT INTO backorder.shipment (line_id, qty)
SELECT line_id, 1 FROM backorder.order_line WHERE order_ref = 'PARTIAL' AND sku = 'K1';
SELECT is(pg_temp.ln('PARTIAL'), 'qty=1 alloc=0 back=0 ship=1 canc=0 shipped; qty=1 alloc=0 back=1 ship=0 canc=0 backordered',
          'PARTIAL: ship_complete = false ships while another line waits');
INSERT INTO backorder.shipment (line_id, qty)
SELECT line_id, 1 FROM backorder.order_line WHERE order_ref = 'NOHDR' AND sku = 'K1';
SELECT is(pg_temp.ln('NOHDR'), 'qty=1 alloc=0 back=0 ship=1 canc=0 shipped; qty=1 alloc=0 back=1 ship=0 canc=0 backordered',
          'NOHDR: a line of an order without header ships as allocated');
SELECT CASE WHEN to_regclass('backorder.ready_to_ship') IS NULL
            THEN skip('backorder.ready_to_ship does not exist yet', 1)
            ELSE is_empty($$SELECT 1 FROM backorder.ready_to_ship WHERE order_ref = 'SC'$$,
                          'ready_to_ship lists no line of SC while one waits') END;
INSERT INTO backorder.receipt (sku, qty) VALUES ('K2', 1);
SELECT is(pg_temp.ln('SC'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated; qty=1 alloc=1 back=0 ship=0 canc=0 allocated',
          'SC: the receipt completes the order (SC is the head of K2''s queue)');
SELECT CASE WHEN to_regclass('backorder.ready_to_ship') IS NULL
            THEN skip('backorder.ready_to_ship does not exist yet', 1)
            ELSE is((SELECT count(*) FROM backorder.ready_to_ship WHERE order_ref = 'SC'), 2::bigint,
                    'ready_to_ship lists both lines of SC once nothing waits') END;
INSERT INTO backorder.shipment (line_id, qty)
SELECT line_id, allocated_qty FROM backorder.order_line WHERE order_ref = 'SC' ORDER BY line_id;
SELECT is(pg_temp.ln('SC'), 'qty=2 alloc=0 back=0 ship=2 canc=0 shipped; qty=1 alloc=0 back=0 ship=1 canc=0 shipped',
          'SC: ships once every line is allocated');
SELECT is(pg_temp.it('K1'), 'on_hand=1 alloc=0 back=0 incoming=0 avail=1', 'K1: counters after the shipments');
SELECT is(pg_temp.it('K2'), 'on_hand=0 alloc=0 back=2 incoming=0 avail=-2', 'K2: counters after the shipments');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after ship_complete');

-- 6. events -----------------------------------------------------------------------------
SET backorder.clock = '2026-01-06 10:00+00';
INSERT INTO backorder.item (sku) VALUES ('EV');
SELECT pg_temp.mark('ev');
INSERT INTO backorder.receipt (sku, qty) VALUES ('EV', 3);
SELECT is(pg_temp.ev('EV', pg_temp.since('ev')), ARRAY['stock_received:-:3'], 'receipt: one stock_received event of 3');
SELECT pg_temp.mark('ev');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ev1', 'EV', 5);
SELECT is(pg_temp.ev('EV', pg_temp.since('ev')), ARRAY['line_allocated:ev1:3', 'line_backordered:ev1:2'],
          'order line: line_allocated 3 and line_backordered 2');
SELECT is((SELECT array_agg(DISTINCT line_id) FROM backorder.event WHERE order_ref = 'ev1'), ARRAY[pg_temp.lid('ev1')],
          'order line events carry the line_id');
SELECT pg_temp.mark('ev');
INSERT INTO backorder.receipt (sku, qty) VALUES ('EV', 1);
SELECT is(pg_temp.ev('EV', pg_temp.since('ev')), ARRAY['stock_received:-:1', 'line_allocated:ev1:1'],
          'receipt that fills: stock_received 1, line_allocated 1');
SELECT pg_temp.mark('ev');
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('ev1'), 2);
SELECT is(pg_temp.ev('EV', pg_temp.since('ev')), ARRAY['line_shipped:ev1:2'], 'shipment: line_shipped 2');
SELECT pg_temp.mark('ev');
INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('ev1'), 1);
SELECT is(pg_temp.ev('EV', pg_temp.since('ev')), ARRAY['line_cancelled:ev1:1'], 'cancellation: line_cancelled 1');
SELECT pg_temp.mark('ev');
INSERT INTO backorder.adjustment (sku, delta) VALUES ('EV', -1);
SELECT is(pg_temp.ev('EV', pg_temp.since('ev')), ARRAY['stock_adjusted:-:-1', 'line_backordered:ev1:1'],
          'loss beyond free stock: stock_adjusted -1, line_backordered 1');
SELECT pg_temp.mark('ev');
INSERT INTO backorder.adjustment (sku, delta) VALUES ('EV', 2);
SELECT is(pg_temp.ev('EV', pg_temp.since('ev')), ARRAY['stock_adjusted:-:2', 'line_allocated:ev1:1'],
          'gain: stock_adjusted 2, line_allocated 1');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ev2', 'EV', 4);
SELECT pg_temp.mark('ev');
INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('ev1'), NULL);
SELECT is(pg_temp.ev('EV', pg_temp.since('ev')), ARRAY['line_cancelled:ev1:2', 'line_allocated:ev2:2'],
          'cancellation of allocated units: line_cancelled, then line_allocated to the head');
SELECT is((SELECT count(*) FROM backorder.event WHERE at <> '2026-01-06 10:00+00' AND sku = 'EV'), 0::bigint,
          'every EV event carries at = backorder.clock');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the event checks');

-- events of a statement rolled back to a savepoint do not exist
SELECT pg_temp.mark('sp');
SAVEPOINT before_ev3;
INSERT INTO backorder.receipt (sku, qty) VALUES ('EV', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ev3', 'EV', 1);
ROLLBACK TO SAVEPOINT before_ev3;
SELECT is(pg_temp.ev('EV', pg_temp.since('sp')), '{}'::text[], 'rolled-back savepoint: its events do not exist');
SELECT is(pg_temp.it('EV'), 'on_hand=3 alloc=3 back=1 incoming=0 avail=-1', 'rolled-back savepoint: counters as before');
-- a failed multi-row statement: the events of its first row are dropped, not written later
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ev4', 'EV', 1), ('ev4', 'NO-SUCH-SKU', 1)$$,
                 '23503', 'item "NO-SUCH-SKU" does not exist', 'failed two-row statement (second sku unknown) -> 23503');
INSERT INTO backorder.receipt (sku, qty) VALUES ('EV', 3);
SELECT is(pg_temp.ev('EV', pg_temp.since('sp')), ARRAY['stock_received:-:3', 'line_allocated:ev2:1'],
          'the next statement writes only its own events: nothing of ev3 or ev4');
SELECT is((SELECT count(*) FROM backorder.event WHERE order_ref IN ('ev3', 'ev4')), 0::bigint, 'no event for ev3 or ev4');
SELECT is(pg_temp.it('EV'), 'on_hand=6 alloc=4 back=0 incoming=0 avail=2', 'EV: counters correct after the rollbacks');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the savepoint rollbacks');

-- purchase-order events
SET backorder.clock = '2026-01-07 10:00+00';
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty) VALUES ('sup', 'Supplier', '5 days', 1);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('PO', 'sup');
SELECT pg_temp.mark('po');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('po1', 'PO', 3);
SELECT is((SELECT array_agg(format('%s:%s', kind, qty) ORDER BY event_id) FROM backorder.event
            WHERE event_id > pg_temp.since('po')),
          ARRAY['line_backordered:3', 'po_issued:3'], 'backordered units of a supplier item: po_issued 3');
SELECT is((SELECT status::text || ' ' || expected_at FROM backorder.purchase_order
            WHERE po_id = (SELECT po_id FROM backorder.event WHERE kind = 'po_issued' AND event_id > pg_temp.since('po'))),
          'issued ' || '2026-01-12 10:00+00'::timestamptz, 'the issued order is expected after the lead time');
SELECT pg_temp.mark('po');
INSERT INTO backorder.receipt (sku, qty, po_id)
SELECT 'PO', 4, po_id FROM backorder.purchase_order WHERE supplier_id = 'sup';
SELECT is((SELECT array_agg(format('%s:%s', kind, coalesce(order_ref, '-')) ORDER BY event_id) FROM backorder.event
            WHERE event_id > pg_temp.since('po')),
          ARRAY['po_over_received:-', 'stock_received:-', 'line_allocated:po1', 'po_received:-'],
          'over-receipt against the PO: po_over_received, stock_received, line_allocated, po_received');
SELECT is((SELECT qty FROM backorder.event WHERE kind = 'po_over_received' AND event_id > pg_temp.since('po')), 1::bigint,
          'po_over_received: 1 unit more than ordered');
SELECT ok((SELECT bool_and(po_id IS NOT NULL) FROM backorder.event
            WHERE event_id > pg_temp.since('po') AND kind IN ('po_over_received', 'stock_received', 'po_received')),
          'receipt and PO events carry the po_id');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the purchase-order events');

-- 7. purge_events -----------------------------------------------------------------------
INSERT INTO mark VALUES ('old events', (SELECT count(*) FROM backorder.event WHERE at < '2026-01-06 00:00+00')),
                        ('new events', (SELECT count(*) FROM backorder.event WHERE at >= '2026-01-06 00:00+00'));
SELECT cmp_ok(pg_temp.since('old events'), '>', 0::bigint, 'there are events older than the cutoff to purge');
SELECT is(backorder.purge_events('2026-01-06 00:00+00'), pg_temp.since('old events'),
          'purge_events returns how many events it deleted');
SELECT is((SELECT count(*) FROM backorder.event WHERE at < '2026-01-06 00:00+00'), 0::bigint,
          'purge_events: no event older than the cutoff remains');
SELECT is((SELECT count(*) FROM backorder.event WHERE at >= '2026-01-06 00:00+00'), pg_temp.since('new events'),
          'purge_events: every newer event is kept');
SELECT is(backorder.purge_events('2026-01-06 00:00+00'), 0::bigint, 'purge_events again: nothing left to delete');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after purge_events (events are not part of the invariants)');

-- 8. item settings changed by a client (bo_app may update supplier_id, policy, limit, pack_size)
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty) VALUES ('late', 'Late Supplier', '1 day', 1);
-- an item with waiting units gets a supplier: its waiting units must be bought
INSERT INTO backorder.item (sku) VALUES ('IS1');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('is1', 'IS1', 3);
UPDATE backorder.item SET supplier_id = 'late' WHERE sku = 'IS1';
SELECT is(pg_temp.it('IS1'), 'on_hand=0 alloc=0 back=3 incoming=3 avail=-3',
          'IS1: after getting a supplier, its 3 waiting units are covered by a purchase order');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty right after an item with waiting units gets a supplier');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('is2', 'IS1', 1);
SELECT is(pg_temp.it('IS1'), 'on_hand=0 alloc=0 back=4 incoming=4 avail=-4', 'IS1: the next order buffers all 4 waiting units');
-- an item with an open purchase order loses its supplier; the goods still arrive
INSERT INTO backorder.item (sku, supplier_id) VALUES ('IS2', 'late');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('is3', 'IS2', 4);
SELECT is(pg_temp.it('IS2'), 'on_hand=0 alloc=0 back=4 incoming=4 avail=-4', 'IS2: 4 waiting, 4 incoming on an issued order');
UPDATE backorder.item SET supplier_id = NULL WHERE sku = 'IS2';
INSERT INTO backorder.receipt (sku, qty) VALUES ('IS2', 4);
SELECT is(pg_temp.ln('is3'), 'qty=4 alloc=4 back=0 ship=0 canc=0 allocated', 'IS2: the receipt fills is3');
SELECT is((SELECT received_qty FROM backorder.purchase_order_line WHERE sku = 'IS2'), 4::bigint,
          'IS2: the receipt was booked against the open purchase order');
SELECT is(pg_temp.it('IS2'), 'on_hand=4 alloc=4 back=0 incoming=0 avail=0',
          'IS2: nothing is incoming any more once the purchase order is fully received');
-- policy and backorder_limit changes apply to the next order at once, in the same transaction
INSERT INTO backorder.item (sku) VALUES ('IS3');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('is4', 'IS3', 2);
UPDATE backorder.item SET backorder_limit = 2 WHERE sku = 'IS3';
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('is5', 'IS3', 1)$$,
                 'BO002', 'backorder limit of item "IS3" reached', 'IS3: a limit lowered to the waiting units refuses the next one');
UPDATE backorder.item SET backorder_limit = NULL, policy = 'deny' WHERE sku = 'IS3';
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('is6', 'IS3', 1)$$,
                 'BO001', 'not enough stock of item "IS3"', 'IS3: switched to deny, refuses an uncovered order');
INSERT INTO backorder.receipt (sku, qty) VALUES ('IS3', 3);
SELECT is(pg_temp.ln('is4'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'IS3: lines that already waited are still filled first');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('is7', 'IS3', 1);
SELECT is(pg_temp.ln('is7'), 'qty=1 alloc=1 back=0 ship=0 canc=0 allocated', 'IS3: a deny order within free stock is allocated');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after item settings changed');

-- 9. draft lines and totals: written straight into the heap, or through the executor when
-- a shop trigger watches purchase_order_line; every index whole afterwards (amcheck)
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty) VALUES ('big', 'Big Supplier', '3 days', 100);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('D1', 'big'), ('D2', 'big'), ('D3', 'big');
CREATE FUNCTION pg_temp.draft(s text) RETURNS text LANGUAGE sql AS $$
    SELECT p.total_qty || ' = ' || string_agg(l.sku || ':' || l.qty, ' + ' ORDER BY l.sku)
      FROM backorder.purchase_order p JOIN backorder.purchase_order_line l USING (po_id)
     WHERE p.supplier_id = s AND p.status = 'draft' GROUP BY p.total_qty $$;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d1', 'D1', 3);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d2', 'D1', 2), ('d3', 'D2', 4);
SELECT is(pg_temp.draft('big'), '9 = D1:5 + D2:4',
          'below po_min_qty the draft buffers one line per item, a line grows with its demand, the total follows');
CREATE TABLE public.po_line_log (sku text, qty bigint, op text);
CREATE FUNCTION public.log_po_line() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN INSERT INTO public.po_line_log VALUES (NEW.sku, NEW.qty, TG_OP); RETURN NEW; END $$;
CREATE TRIGGER shop_log AFTER INSERT OR UPDATE ON backorder.purchase_order_line
    FOR EACH ROW EXECUTE FUNCTION public.log_po_line();
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d4', 'D2', 1), ('d5', 'D3', 2);
SELECT is((SELECT string_agg(sku || ':' || qty || ' ' || op, ', ' ORDER BY sku) FROM public.po_line_log),
          'D2:5 UPDATE, D3:2 INSERT', 'with a shop trigger on purchase_order_line the draft lines go through the executor, and the trigger sees them');
SELECT is(pg_temp.draft('big'), '12 = D1:5 + D2:5 + D3:2', 'the same draft either way');
DROP TRIGGER shop_log ON backorder.purchase_order_line;
INSERT INTO backorder.receipt (sku, qty) VALUES ('D1', 2);
SELECT is(pg_temp.draft('big'), '10 = D1:3 + D2:5 + D3:2', 'a receipt shrinks the line of the units it covered');
CREATE EXTENSION IF NOT EXISTS amcheck;
SELECT lives_ok($$SELECT bt_index_check(i.indexrelid, true)
                     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
                    WHERE c.relnamespace = 'backorder'::regnamespace AND a.amname = 'btree'$$,
                'amcheck (heapallindexed): every btree index of the extension, partial ones included, holds every row it must');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the direct and executor draft writes');


-- 10. commit-time purchase-order reads go through the indexes, never through a plan ------
-- A plan kept for the session is chosen from the table sizes of the moment it was made (on
-- a fresh install, a few rows), and one that scans purchase_order would read the whole
-- table at every commit. From here on every plan made is a scan (index scans off, and
-- ANALYZE throws the kept plans away): an order that adds to a supplier's draft still
-- reads purchase_order only through its indexes.
INSERT INTO backorder.supplier (supplier_id, po_min_qty, po_max_wait) VALUES ('scan', 1000, '1 day');
INSERT INTO backorder.item (sku, supplier_id) VALUES ('SC1', 'scan');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc1', 'SC1', 1);
ANALYZE backorder.purchase_order, backorder.purchase_order_line, backorder.supplier;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = off;
SET LOCAL enable_indexonlyscan = off;
SELECT seq_scan AS po_scans FROM pg_stat_xact_user_tables
 WHERE relid = 'backorder.purchase_order'::regclass \gset
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc2', 'SC1', 2);
SELECT is((SELECT seq_scan FROM pg_stat_xact_user_tables
            WHERE relid = 'backorder.purchase_order'::regclass) - :po_scans, 0::bigint,
          'the order''s commit-time sync read purchase_order through its indexes only, whatever plans the session holds');
SELECT is(pg_temp.draft('scan'), '3 = SC1:3', 'and the draft grew by the order''s units');
RESET enable_indexscan;
RESET enable_bitmapscan;
RESET enable_indexonlyscan;


-- 11. order_line has no CHECK constraints (see 10_schema.sql): verify() is the safety net --
SET session_replication_role = replica;   -- a write behind the engine's back
UPDATE backorder.order_line SET shipped_qty = shipped_qty + 1 WHERE order_ref = 'sc2';
RESET session_replication_role;
SELECT is((SELECT string_agg(invariant || ' ' || sku, ', ' ORDER BY invariant) FROM backorder.verify()
            WHERE line_id = pg_temp.lid('sc2')),
          'line balance SC1, line ledger SC1, line status SC1',
          'verify() reports a line whose quantities no longer add up to qty (and no longer match its status and the shipments)');

-- 12. shipments and cancellations read and write lines through the indexes, without plans --
-- sequential scans of the given tables while sql runs with every plan made a scan
CREATE FUNCTION pg_temp.seq_scans(sql text, tables regclass[]) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    before numeric;
    after  numeric;
BEGIN
    PERFORM set_config(g, 'off', true)
       FROM unnest(ARRAY['enable_indexscan', 'enable_bitmapscan', 'enable_indexonlyscan']) g;
    SELECT sum(seq_scan) INTO before FROM pg_stat_xact_user_tables WHERE relid = ANY (tables);
    EXECUTE sql;
    SELECT sum(seq_scan) INTO after FROM pg_stat_xact_user_tables WHERE relid = ANY (tables);
    PERFORM set_config(g, 'on', true)
       FROM unnest(ARRAY['enable_indexscan', 'enable_bitmapscan', 'enable_indexonlyscan']) g;
    RETURN after - before;
END $$;
INSERT INTO backorder.item (sku) VALUES ('IX1');
INSERT INTO backorder.receipt (sku, qty) VALUES ('IX1', 5);
INSERT INTO backorder.customer_order (order_ref, ship_complete) VALUES ('ix1', true);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ix1', 'IX1', 3);
ANALYZE backorder.order_line, backorder.customer_order;
SELECT is(pg_temp.seq_scans(format($$INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 1);
                                      INSERT INTO backorder.cancellation (line_id, qty) VALUES (%1$s, 1)$$,
                                   pg_temp.lid('ix1')),
                            '{backorder.order_line, backorder.customer_order}'),
          0::numeric,
          'a shipment and a cancellation read order_line and customer_order through their indexes only, whatever plans the session holds');
SELECT row_eq($$SELECT allocated_qty, shipped_qty, cancelled_qty, status::text FROM backorder.order_line
                WHERE order_ref = 'ix1'$$, ROW(1::bigint, 1::bigint, 1::bigint, 'allocated'::text),
              'and the line was written: 1 allocated, 1 shipped, 1 cancelled');
SELECT row_eq($$SELECT on_hand, allocated FROM backorder.item WHERE sku = 'IX1'$$, ROW(4::bigint, 1::bigint),
              'the item too: 4 on hand (5 received, 1 shipped), 1 allocated');
INSERT INTO backorder.item (sku) VALUES ('IX2');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ix2a', 'IX2', 2), ('ix2b', 'IX2', 1);
SELECT is(pg_temp.seq_scans(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, NULL)',
                                   pg_temp.lid('ix2a')), '{backorder.order_line}'),
          0::numeric, 'cancelling the waiting head finds the next waiting line through the index only');
SELECT is((SELECT queue_head FROM backorder.item WHERE sku = 'IX2'), pg_temp.lid('ix2b'),
          'and the queue head moved to the next waiting line');
-- the walk to the next waiting line starts after the cancelled head, not at the item's
-- oldest line: 60 allocated lines before it are not read
INSERT INTO backorder.item (sku) VALUES ('IX3');
INSERT INTO backorder.receipt (sku, qty) VALUES ('IX3', 60);
INSERT INTO backorder.order_line (order_ref, sku, qty)
SELECT 'ix3-' || g, 'IX3', 1 FROM generate_series(1, 60) g;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ix3a', 'IX3', 2), ('ix3b', 'IX3', 1);
SELECT pg_temp.lid('ix3a') AS ix3a \gset
SELECT pg_stat_get_xact_tuples_returned('backorder.order_line_sku_idx'::regclass) AS sku_idx_reads \gset
INSERT INTO backorder.cancellation (line_id, qty) VALUES (:ix3a, NULL);
SELECT cmp_ok(pg_stat_get_xact_tuples_returned('backorder.order_line_sku_idx'::regclass) - :sku_idx_reads,
              '<=', 2::bigint,
              'cancelling the waiting head reads the index from the head on (at most 2 entries, not the 60 lines before it)');
SELECT is((SELECT queue_head FROM backorder.item WHERE sku = 'IX3'), pg_temp.lid('ix3b'),
          'and the queue head moved to the next waiting line');
-- a stock loss takes allocation back from the newest allocated lines, walking the index
-- backward, again without a plan
INSERT INTO backorder.item (sku) VALUES ('IX4');
INSERT INTO backorder.receipt (sku, qty) VALUES ('IX4', 5);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ix4a', 'IX4', 2), ('ix4b', 'IX4', 3);
SELECT is(pg_temp.seq_scans($$INSERT INTO backorder.adjustment (sku, delta) VALUES ('IX4', -4)$$,
                            '{backorder.order_line}'),
          0::numeric, 'an adjustment taking allocation back reads order_line through its index only');
SELECT is((SELECT string_agg(order_ref || ' ' || allocated_qty || '/' || backordered_qty || ' ' || status,
                             ', ' ORDER BY line_id)
             FROM backorder.order_line WHERE sku = 'IX4'),
          'ix4a 1/1 partially_allocated, ix4b 0/3 backordered',
          'and it took the 4 units from the newest line first (3 of ix4b, then 1 of ix4a)');

-- 13. shipments and cancellations have no foreign key to order_line: verify() checks it --
SET session_replication_role = replica;   -- rows written behind the engine's back
INSERT INTO backorder.shipment (line_id, qty, shipped_at) VALUES (999999999, 1, now());
INSERT INTO backorder.cancellation (line_id, qty, cancelled_at) VALUES (999999998, 1, now());
RESET session_replication_role;
SELECT is((SELECT string_agg(invariant || ' ' || line_id || ': ' || detail, ', ' ORDER BY line_id)
             FROM backorder.verify() WHERE invariant = 'ledger line'),
          format('ledger line 999999998: cancellation %s references no order line, '
                 'ledger line 999999999: shipment %s references no order line',
                 (SELECT cancellation_id FROM backorder.cancellation WHERE line_id = 999999998),
                 (SELECT shipment_id FROM backorder.shipment WHERE line_id = 999999999)),
          'verify() reports a shipment and a cancellation of lines that do not exist');
SET session_replication_role = replica;
INSERT INTO backorder.event (at, kind, sku, order_ref, line_id, qty)
VALUES (now(), 'line_allocated', 'IX4', 'gone', 999999997, 1);
RESET session_replication_role;
SELECT is((SELECT string_agg(invariant || ' ' || sku || ' ' || line_id || ': ' || detail, ', ')
             FROM backorder.verify() WHERE invariant = 'event line'),
          format('event line IX4 999999997: event %s (line_allocated) references no order line',
                 (SELECT event_id FROM backorder.event WHERE line_id = 999999997)),
          'verify() reports an event of a line that does not exist (a half-finished restore)');
SET session_replication_role = replica;
DELETE FROM backorder.event WHERE line_id = 999999997;
INSERT INTO backorder.event (at, kind, sku, qty) VALUES (now(), 'stock_received', 'GONE-SKU', 3);
RESET session_replication_role;
SELECT is((SELECT string_agg(invariant || ' ' || sku || ': ' || detail, ', ')
             FROM backorder.verify() WHERE invariant LIKE 'event%'),
          format('event item GONE-SKU: event %s (stock_received) references no item',
                 (SELECT event_id FROM backorder.event WHERE sku = 'GONE-SKU')),
          'verify() reports an event of an item that does not exist');
SET session_replication_role = replica;
DELETE FROM backorder.event WHERE sku = 'GONE-SKU';
INSERT INTO backorder.cancellation (line_id, qty, cancelled_at) VALUES (pg_temp.lid('ix4b'), 1, now());
RESET session_replication_role;
SELECT is((SELECT detail FROM backorder.verify() WHERE invariant = 'line ledger' AND line_id = pg_temp.lid('ix4b')),
          'shipped 0 / cancelled 0, ledger says 0 / 1',
          'verify() reports a cancellation row of a line whose cancelled_qty is 0');

-- 14. a line whose waiting units are cancelled, with units allocated, is allocated from then on
SET backorder.clock = '2026-03-01 08:00+00';
INSERT INTO backorder.item (sku) VALUES ('CW');
INSERT INTO backorder.receipt (sku, qty) VALUES ('CW', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('cw1', 'CW', 5);
SELECT is((SELECT allocated_at FROM backorder.order_line WHERE order_ref = 'cw1'), NULL,
          'cw1 (2 allocated, 3 waiting) has no allocated_at');
SET backorder.clock = '2026-03-02 09:30+00';
INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('cw1'), 3);
SELECT is(pg_temp.ln('cw1'), 'qty=5 alloc=2 back=0 ship=0 canc=3 allocated', 'its 3 waiting units cancelled: allocated');
SELECT is((SELECT allocated_at FROM backorder.order_line WHERE order_ref = 'cw1'), '2026-03-02 09:30+00'::timestamptz,
          'allocated_at is the time its last waiting unit went');
SELECT is(backorder.eta(pg_temp.lid('cw1')), '2026-03-02 09:30+00'::timestamptz, 'and eta() returns it');
SELECT is_empty($$SELECT * FROM backorder.verify() WHERE sku = 'CW'$$, 'verify() has nothing about CW');

-- 15. backorder_rate counts what a line's placement queued, not a stock loss at the same time
INSERT INTO backorder.item (sku) VALUES ('BR');
INSERT INTO backorder.receipt (sku, qty) VALUES ('BR', 10);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('br1', 'BR', 5), ('br2', 'BR', 8);
INSERT INTO backorder.adjustment (sku, delta) VALUES ('BR', -10);   -- takes back all 10
SELECT is(pg_temp.ln('br1') || ' | ' || pg_temp.ln('br2'),
          'qty=5 alloc=0 back=5 ship=0 canc=0 backordered | qty=8 alloc=0 back=8 ship=0 canc=0 backordered',
          'the loss sent both lines back to waiting, at the same engine time as their placement');
SELECT results_eq($$SELECT lines_ordered, lines_backordered, units_backordered
                      FROM backorder.backorder_rate('2026-03-01', '2026-03-03') WHERE sku = 'BR'$$,
                  $$VALUES (2::bigint, 1::bigint, 3::bigint)$$,
                  'backorder_rate: only br2 queued units when placed (3 of them)');

-- 16. issue_due_purchase_orders over many drafts: every issued id, in supplier byte order
INSERT INTO backorder.supplier (supplier_id, po_min_qty, po_max_wait)
    SELECT 'many' || g, 1000, '1 day' FROM generate_series(1, 400) g;
INSERT INTO backorder.item (sku, supplier_id) SELECT 'MANY' || g, 'many' || g FROM generate_series(1, 400) g;
INSERT INTO backorder.order_line (order_ref, sku, qty)
    SELECT 'many', 'MANY' || g, 1 FROM generate_series(1, 400) g ORDER BY 2;
CREATE TEMP TABLE many_drafts AS
    SELECT po_id, supplier_id FROM backorder.purchase_order WHERE supplier_id LIKE 'many%' AND status = 'draft';
SELECT is((SELECT count(*) FROM many_drafts), 400::bigint, '400 drafts, none due yet');
CREATE TEMP TABLE many_issued AS
    SELECT row_number() OVER () AS n, po_id FROM backorder.issue_due_purchase_orders('2026-03-04 00:00+00') AS t(po_id);
SELECT results_eq('SELECT po_id FROM many_issued ORDER BY n',
                  $$SELECT po_id FROM backorder.purchase_order WHERE issued_at = '2026-03-04 00:00+00'
                     ORDER BY supplier_id COLLATE "C"$$,
                  'issue_due_purchase_orders returns each order it issued once, in supplier byte order');
SELECT is((SELECT count(*) FROM backorder.purchase_order WHERE supplier_id LIKE 'many%' AND status = 'issued'),
          400::bigint, 'and all 400 are issued');
SELECT is_empty($$SELECT * FROM backorder.verify() WHERE sku LIKE 'MANY%'$$, 'verify() has nothing about those items');

-- 17. what a shop adds to the engine's tables holds on the engine's own writes too: a
-- CHECK constraint (the engine then writes that table through the executor), a column with
-- a default and NOT NULL on the events
ALTER TABLE backorder.item ADD CONSTRAINT shop_cap CHECK (sku <> 'SHOPCK' OR backordered <= 5);
INSERT INTO backorder.item (sku) VALUES ('SHOPCK');
SELECT lives_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ck1', 'SHOPCK', 5)$$,
                'an order within the shop''s CHECK on item');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ck2', 'SHOPCK', 1)$$,
                 '23514', 'new row for relation "item" violates check constraint "shop_cap"',
                 'an order that would break it fails with the CHECK''s error');
SELECT is(pg_temp.it('SHOPCK'), 'on_hand=0 alloc=0 back=5 incoming=0 avail=-5', 'SHOPCK keeps the first order only');
ALTER TABLE backorder.event ADD COLUMN source text NOT NULL DEFAULT 'engine';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('src1', 'CW', 1);
SELECT is((SELECT string_agg(DISTINCT source, ',') FROM backorder.event
            WHERE line_id = pg_temp.lid('src1')), 'engine',
          'a shop''s event column with a default and NOT NULL gets its default');
ALTER TABLE backorder.order_line ADD CONSTRAINT shop_vip CHECK (order_ref <> 'vip1' OR backordered_qty = 0);
INSERT INTO backorder.item (sku) VALUES ('VIP');
INSERT INTO backorder.receipt (sku, qty) VALUES ('VIP', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('vip1', 'VIP', 2);
SELECT throws_ok($$INSERT INTO backorder.adjustment (sku, delta) VALUES ('VIP', -1)$$,
                 '23514', 'new row for relation "order_line" violates check constraint "shop_vip"',
                 'a stock loss taking units back against a shop CHECK on order_line fails with it');
ALTER TABLE backorder.order_line DROP CONSTRAINT shop_vip;
ALTER TABLE backorder.order_line ADD COLUMN open_qty bigint GENERATED ALWAYS AS (allocated_qty + backordered_qty) STORED;
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('vip1'), 1);
SELECT is((SELECT open_qty FROM backorder.order_line WHERE order_ref = 'vip1'), 1::bigint,
          'a shop''s generated column on order_line follows the engine''s update of the line');
SELECT is_empty($$SELECT * FROM backorder.verify() WHERE sku IN ('SHOPCK', 'CW', 'VIP')$$, 'verify() has nothing about them');

-- 18. lowering a supplier's po_min_qty or po_max_wait issues a draft that is due by then
-- (at commit; this file runs with every constraint IMMEDIATE, so at the end of the UPDATE)
INSERT INTO backorder.supplier (supplier_id, po_min_qty, po_max_wait) VALUES ('low', 50, '1 hour');
INSERT INTO backorder.item (sku, supplier_id) VALUES ('LW1', 'low'), ('LW2', 'low');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('lw1', 'LW1', 5);
SET backorder.clock = '2026-03-02 12:00+00';   -- the draft's demand has waited 2.5 hours
CREATE FUNCTION pg_temp.pos(s text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(p.status || ' ' || p.total_qty
                      || ' (' || (SELECT count(*) FROM backorder.event e
                                   WHERE e.kind = 'po_issued' AND e.po_id = p.po_id) || ' issued)',
                      ', ' ORDER BY p.po_id)
      FROM backorder.purchase_order p WHERE p.supplier_id = s $$;
UPDATE backorder.supplier SET name = 'Low', lead_time = '2 days' WHERE supplier_id = 'low';
SELECT is(pg_temp.pos('low'), 'draft 5 (0 issued)',
          'changing other columns of a supplier leaves its draft alone, even one due by waiting (the scheduler''s)');
SET backorder.clock = '2026-03-02 09:30+00';
UPDATE backorder.supplier SET po_max_wait = NULL WHERE supplier_id = 'low';
UPDATE backorder.supplier SET po_min_qty = 6 WHERE supplier_id = 'low';
SELECT is(pg_temp.pos('low'), 'draft 5 (0 issued)', 'a lower po_min_qty still above the draft leaves it a draft');
UPDATE backorder.supplier SET po_min_qty = 5 WHERE supplier_id = 'low';
SELECT is(pg_temp.pos('low'), 'issued 5 (1 issued)', 'po_min_qty lowered to the draft''s total issues it, with its po_issued event');
SELECT is((SELECT expected_at - issued_at FROM backorder.purchase_order WHERE supplier_id = 'low'),
          '2 days'::interval, 'expected after the supplier''s lead time');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('lw2', 'LW2', 2);
SELECT is(pg_temp.pos('low'), 'issued 5 (1 issued), draft 2 (0 issued)', 'new demand below the minimum opens a new draft');
UPDATE backorder.supplier SET po_max_wait = '1 day' WHERE supplier_id = 'low';
SELECT is(pg_temp.pos('low'), 'issued 5 (1 issued), draft 2 (0 issued)', 'a po_max_wait its oldest demand has not waited yet leaves it a draft');
UPDATE backorder.supplier SET po_max_wait = '0' WHERE supplier_id = 'low';
SELECT is(pg_temp.pos('low'), 'issued 5 (1 issued), issued 2 (1 issued)', 'po_max_wait lowered below the oldest demand''s wait issues the draft');
SELECT is_empty($$SELECT * FROM backorder.verify() WHERE sku LIKE 'LW%'$$, 'verify() empty after the supplier changes');
-- at a real commit the deferred triggers fire in the order of their statements; issue_due
-- first brings the transaction's own changes into the drafts, so the statement order does
-- not matter: a cancellation after the UPDATE leaves nothing to issue, and an order after
-- it joins the draft that is issued
INSERT INTO backorder.supplier (supplier_id, po_min_qty) VALUES ('lwx', 50), ('lwy', 50);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('LX1', 'lwx'), ('LY1', 'lwy');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('lx1', 'LX1', 5), ('ly1', 'LY1', 5);
SET CONSTRAINTS ALL DEFERRED;
UPDATE backorder.supplier SET po_min_qty = 5 WHERE supplier_id IN ('lwx', 'lwy');
INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('lx1'), NULL);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('ly2', 'LY1', 3);
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is(pg_temp.pos('lwx'), NULL, 'po_min_qty lowered, then the draft''s demand cancelled: nothing issued, the empty draft dropped');
SELECT is(pg_temp.pos('lwy'), 'issued 8 (1 issued)', 'po_min_qty lowered, then more demand: one purchase order with all of it');
SELECT is_empty($$SELECT * FROM backorder.verify() WHERE sku IN ('LX1', 'LY1')$$, 'verify() empty after both');


-- 19. the engine's triggers come at the right end of the name order. A shop's BEFORE ROW
-- trigger named after the engine's (here one that skips the row, and one that doubles qty)
-- fails the statement with nothing booked; named before it, it is honoured. A shop's AFTER
-- STATEMENT trigger reads the counters and events the statement wrote, since the engine's
-- statement trigger ("0_flush") fires first; one named before that fails the statement.
INSERT INTO backorder.item (sku) VALUES ('TO1');
INSERT INTO backorder.receipt (sku, qty) VALUES ('TO1', 10);
CREATE FUNCTION pg_temp.skip_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE FUNCTION pg_temp.double_qty() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.qty := NEW.qty * 2; RETURN NEW; END $$;
CREATE TRIGGER zzz_skip BEFORE INSERT ON backorder.order_line FOR EACH ROW EXECUTE FUNCTION pg_temp.skip_row();
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('to1', 'TO1', 3)$$,
                 '55000', 'trigger "zzz_skip" on table "order_line" would fire after the engine''s trigger "zz_commit_stock"',
                 'a shop BEFORE trigger named after the engine''s fails the order');
ALTER TABLE backorder.order_line DISABLE TRIGGER zzz_skip;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('to2', 'TO1', 3);
SELECT is(pg_temp.ln('to2'), 'qty=3 alloc=3 back=0 ship=0 canc=0 allocated', 'disabled, it is not in the way');
DROP TRIGGER zzz_skip ON backorder.order_line;
CREATE TRIGGER "überprüfung" BEFORE INSERT ON backorder.adjustment FOR EACH ROW EXECUTE FUNCTION pg_temp.double_qty();
SELECT throws_ok($$INSERT INTO backorder.adjustment (sku, delta) VALUES ('TO1', -2)$$,
                 '55000', 'trigger "überprüfung" on table "adjustment" would fire after the engine''s trigger "zz_apply"',
                 'a name that sorts after "zz_" in byte order (non-ASCII) fails too');
DROP TRIGGER "überprüfung" ON backorder.adjustment;
CREATE TRIGGER double_it BEFORE INSERT ON backorder.order_line FOR EACH ROW EXECUTE FUNCTION pg_temp.double_qty();
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('to3', 'TO1', 2);
SELECT is(pg_temp.ln('to3'), 'qty=4 alloc=4 back=0 ship=0 canc=0 allocated',
          'a shop BEFORE trigger named before the engine''s is honoured: the engine books the doubled qty');
DROP TRIGGER double_it ON backorder.order_line;
SELECT is(pg_temp.it('TO1'), 'on_hand=10 alloc=7 back=0 incoming=0 avail=3', 'TO1''s counters hold only what was stored');
CREATE TEMP TABLE seen (available bigint, events bigint);
CREATE FUNCTION pg_temp.look() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seen SELECT (SELECT available FROM backorder.item WHERE sku = 'TO1'),
                            (SELECT count(*) FROM backorder.event WHERE sku = 'TO1');
    RETURN NULL;
END $$;
CREATE TRIGGER alert_low_stock AFTER INSERT ON backorder.order_line FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.look();
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('to4', 'TO1', 1), ('to5', 'TO1', 1);
SELECT is((SELECT available || ' ' || events FROM seen),
          (SELECT available || ' ' || (SELECT count(*) FROM backorder.event WHERE sku = 'TO1') FROM backorder.item WHERE sku = 'TO1'),
          'a shop AFTER STATEMENT trigger reads the counters and events its statement wrote');
SELECT is((SELECT available FROM seen), 1::bigint, 'available 1 after the two-line order');
DROP TRIGGER alert_low_stock ON backorder.order_line;
CREATE TRIGGER "0_audit" AFTER INSERT ON backorder.order_line FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.look();
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('to6', 'TO1', 1)$$,
                 '55000', 'trigger "0_audit" on table "order_line" would fire before the engine''s trigger "0_flush"',
                 'a shop AFTER STATEMENT trigger named before the engine''s fails the order');
DROP TRIGGER "0_audit" ON backorder.order_line;
SELECT is(pg_temp.it('TO1'), 'on_hand=10 alloc=9 back=0 incoming=0 avail=1', 'the failed statements left TO1 as it was');
SELECT is_empty($$SELECT * FROM backorder.verify() WHERE sku = 'TO1'$$, 'verify() has nothing about TO1');


-- 20. promises and receipts against purchase orders of different lead times. A promise
-- counts the draft as the order would leave it, rounded up to whole packs (5 here, below
-- the minimum of 6: the draft is due only when its demand has waited po_max_wait); a
-- receipt without po_id is booked against the order expected first, as the promises count
-- it, not the one issued first.
SET backorder.clock = '2026-07-01 00:00+00';
INSERT INTO backorder.supplier (supplier_id, lead_time, po_min_qty, po_max_wait) VALUES ('pk', '7 days', 6, '2 days');
INSERT INTO backorder.item (sku, supplier_id, pack_size) VALUES ('PK1', 'pk', 5);
SELECT is((SELECT promise_at FROM backorder.available_to_promise('PK1', 2)), '2026-07-10 00:00+00'::timestamptz,
          'available_to_promise: 2 units round up to a pack of 5, below the minimum: due after po_max_wait, then the lead time');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('pk1', 'PK1', 2);
SELECT is(backorder.eta(pg_temp.lid('pk1')), '2026-07-10 00:00+00'::timestamptz, 'the order then placed gets that date');
INSERT INTO backorder.supplier (supplier_id, lead_time, po_min_qty) VALUES ('slow', '10 days', 1), ('fast', '2 days', 1);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('RB', 'slow');
SET backorder.clock = '2026-02-01 00:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('rb1', 'RB', 4);   -- slow's order, expected 02-11
UPDATE backorder.item SET supplier_id = 'fast' WHERE sku = 'RB';
SET backorder.clock = '2026-02-02 00:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('rb2', 'RB', 4);   -- fast's order, expected 02-04
SET backorder.clock = '2026-02-04 00:00+00';
INSERT INTO backorder.receipt (sku, qty) VALUES ('RB', 4);
SELECT is((SELECT string_agg(p.supplier_id || ' ' || p.status || ' ' || l.received_qty, ', ' ORDER BY p.po_id)
             FROM backorder.purchase_order p JOIN backorder.purchase_order_line l USING (po_id) WHERE l.sku = 'RB'),
          'slow issued 0, fast received 4', 'a receipt without po_id is booked against the order expected first');
SELECT is(backorder.eta(pg_temp.lid('rb2')), '2026-02-11 00:00+00'::timestamptz,
          'the line still waiting expects the slow order, still open');
SELECT is((SELECT late_deliveries FROM backorder.supplier_performance('2026-02-05 00:00+00') WHERE supplier_id = 'fast'),
          0::bigint, 'the fast supplier delivered on time');
SELECT is_empty($$SELECT * FROM backorder.verify() WHERE sku IN ('PK1', 'RB')$$, 'verify() has nothing about them');


SELECT * FROM finish();
ROLLBACK;
