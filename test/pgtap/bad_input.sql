-- bad_input.sql: the bad-input catalogue.
-- Each case is one call of pg_temp.rejects(), which runs the statement and checks two things:
-- it fails with the documented SQLSTATE and exact message, and afterwards nothing changed
-- (item counters, every table's row count and contents, the number of events).
-- Odd and long text values are accepted and round-trip exactly.
-- psql settings, BEGIN (this file ends with ROLLBACK), SET CONSTRAINTS ALL IMMEDIATE, pg_temp.ln/it/lid
\ir helpers.psql
SELECT plan(346);
SET backorder.clock = '2026-02-01 09:00+00';

-- helpers of this file (ln, it and lid come from helpers.psql) -------------------------
-- the whole state: counters, row counts, event count, and a digest of every row of every table
CREATE FUNCTION pg_temp.snap() RETURNS text LANGUAGE sql AS $$
    SELECT concat_ws(' ',
        'items[' || (SELECT string_agg(format('%s:%s/%s/%s/%s', left(sku, 12), on_hand, allocated, backordered, incoming),
                                       ',' ORDER BY sku) FROM backorder.item) || ']',
        'suppliers=' || (SELECT count(*) FROM backorder.supplier),
        'orders=' || (SELECT count(*) FROM backorder.customer_order),
        'lines=' || (SELECT count(*) FROM backorder.order_line),
        'receipts=' || (SELECT count(*) FROM backorder.receipt),
        'shipments=' || (SELECT count(*) FROM backorder.shipment),
        'cancellations=' || (SELECT count(*) FROM backorder.cancellation),
        'adjustments=' || (SELECT count(*) FROM backorder.adjustment),
        'pos=' || (SELECT count(*) FROM backorder.purchase_order),
        'po_lines=' || (SELECT count(*) FROM backorder.purchase_order_line),
        'events=' || (SELECT count(*) FROM backorder.event),
        'digest=' || md5(concat_ws('#',
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.supplier x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.item x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.customer_order x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.order_line x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.receipt x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.shipment x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.cancellation x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.adjustment x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.purchase_order x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.purchase_order_line x),
            (SELECT string_agg(x::text, '|' ORDER BY x::text) FROM backorder.event x)))) $$;
-- one case of the catalogue: two assertions (SQLSTATE + message, then nothing changed)
CREATE FUNCTION pg_temp.rejects(stmt text, code text, msg text, what text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    before text := pg_temp.snap();
BEGIN
    RETURN throws_ok(stmt, code::char(5), msg, what || ' -> ' || code)
        || E'\n' || is(pg_temp.snap(), before, what || ': nothing changed');
END $$;

-- 0. odd and long text values are accepted and round-trip exactly ------------------------
-- (done first, so that each table holds exactly these values)
CREATE TEMP TABLE odd (v text PRIMARY KEY);
INSERT INTO odd VALUES
    ($$O'Brien "quoted" \back\slash\ %s %% $1 \x41 ''$$),
    ('Ærøskøbing ✓ 日本'),
    ('📦🚚 👩‍👩‍👧 emoji'),
    (E'tab\there\nnew line\r\n'),
    (repeat('x', 199) || 'é');                    -- 200 characters, 201 bytes
INSERT INTO backorder.supplier (supplier_id, name, po_min_qty) SELECT v, v, 1 FROM odd;
INSERT INTO backorder.item (sku, supplier_id) SELECT v, v FROM odd;
INSERT INTO backorder.receipt (sku, qty) SELECT v, 2 FROM odd;
INSERT INTO backorder.order_line (order_ref, sku, qty) SELECT v, v, 3 FROM odd ORDER BY v;
INSERT INTO backorder.adjustment (sku, delta, reason) SELECT v, 1, v FROM odd;
INSERT INTO backorder.order_line (order_ref, sku, qty) SELECT v, v, 2 FROM odd ORDER BY v;
INSERT INTO backorder.cancellation (line_id, qty, reason)
SELECT max(line_id), NULL, min(order_ref) FROM backorder.order_line GROUP BY sku;
SELECT set_eq('SELECT supplier_id FROM backorder.supplier', 'SELECT v FROM odd', 'supplier.supplier_id round-trips odd values');
SELECT set_eq('SELECT name FROM backorder.supplier', 'SELECT v FROM odd', 'supplier.name round-trips odd values');
SELECT set_eq('SELECT sku FROM backorder.item', 'SELECT v FROM odd', 'item.sku round-trips odd values');
SELECT ok((SELECT bool_and(sku = supplier_id) FROM backorder.item), 'item.supplier_id round-trips odd values');
SELECT bag_eq('SELECT order_ref FROM backorder.order_line', 'SELECT v FROM odd UNION ALL SELECT v FROM odd',
              'order_line.order_ref round-trips odd values');
SELECT ok((SELECT bool_and(sku = order_ref) FROM backorder.order_line), 'order_line.sku round-trips odd values');
SELECT set_eq('SELECT sku FROM backorder.receipt', 'SELECT v FROM odd', 'receipt.sku round-trips odd values');
SELECT set_eq('SELECT reason FROM backorder.adjustment', 'SELECT v FROM odd', 'adjustment.reason round-trips odd values');
SELECT set_eq('SELECT reason FROM backorder.cancellation', 'SELECT v FROM odd', 'cancellation.reason round-trips odd values');
SELECT set_eq('SELECT DISTINCT order_ref FROM backorder.event WHERE order_ref IS NOT NULL', 'SELECT v FROM odd',
              'event.order_ref round-trips odd values');
SELECT set_eq('SELECT DISTINCT sku FROM backorder.event WHERE sku IS NOT NULL', 'SELECT v FROM odd',
              'event.sku round-trips odd values');
SELECT set_eq('SELECT sku FROM backorder.purchase_order_line', 'SELECT v FROM odd',
              'purchase_order_line.sku round-trips odd values');
SELECT set_eq('SELECT supplier_id FROM backorder.purchase_order', 'SELECT v FROM odd',
              'purchase_order.supplier_id round-trips odd values');
SELECT is((SELECT sum(octet_length(sku)) FROM backorder.item), (SELECT sum(octet_length(v)) FROM odd),
          'stored skus have exactly the bytes of the literals');
SELECT is((SELECT string_agg(pg_temp.it(v), ' | ' ORDER BY v) FROM odd),
          (SELECT string_agg('on_hand=3 alloc=3 back=0 incoming=2 avail=0', ' | ') FROM odd),
          'every odd item: 3 on hand, all allocated, nothing waits; the 2 units of its issued purchase orders still incoming');
SELECT is((SELECT string_agg(pg_temp.ln(v), ' | ' ORDER BY v) FROM odd),
          (SELECT string_agg('qty=3 alloc=3 back=0 ship=0 canc=0 allocated; qty=2 alloc=0 back=0 ship=0 canc=2 cancelled', ' | ') FROM odd),
          'every odd order: first line allocated (receipt 2 + gain 1), second cancelled');
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o', 'Ærøskøbing ✓ 日本?', 1)$$,
                 '23503', 'item "Ærøskøbing ✓ 日本?" does not exist', 'an unknown unicode sku is quoted back exactly');
SELECT throws_ok($$INSERT INTO backorder.receipt (sku, qty) VALUES ('O''Brien %s \n', 1)$$,
                 '23503', $m$item "O'Brien %s \n" does not exist$m$, 'quotes, % and backslashes are quoted back exactly');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the odd values');

-- long values: 200 characters is the limit of sku, supplier_id and order_ref (each is in a
-- btree index, whose entries hold at most about 2,700 bytes); reason has none
INSERT INTO backorder.supplier (supplier_id) VALUES (repeat('s', 200));
INSERT INTO backorder.item (sku, supplier_id) VALUES (repeat('k', 200), repeat('s', 200));
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (repeat('日', 200), repeat('k', 200), 2);
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES (repeat('k', 200), 5, repeat('why ', 2500));
SELECT is(pg_temp.it(repeat('k', 200)), 'on_hand=5 alloc=2 back=0 incoming=2 avail=3',
          '200-character sku with a supplier: 2 backordered and bought (incoming 2), then refilled by a gain');
SELECT is((SELECT order_ref FROM backorder.order_line WHERE sku = repeat('k', 200)), repeat('日', 200),
          'a 200-character (600-byte) order_ref round-trips');
SELECT is((SELECT reason FROM backorder.adjustment WHERE sku = repeat('k', 200)), repeat('why ', 2500),
          'a 10000-character reason round-trips');
SELECT pg_temp.rejects($$INSERT INTO backorder.item (sku) VALUES (repeat('k', 201))$$, '23514',
                       'new row for relation "item" violates check constraint "item_sku_check"', 'item.sku of 201 characters');
SELECT pg_temp.rejects($$INSERT INTO backorder.supplier (supplier_id) VALUES (repeat('s', 201))$$, '23514',
                       'new row for relation "supplier" violates check constraint "supplier_supplier_id_check"',
                       'supplier.supplier_id of 201 characters');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (repeat('日', 201), repeat('k', 200), 1)$$, '23514',
                       'order_ref is longer than 200 characters', 'an order_ref of 201 characters');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty)
                         SELECT 'fine', repeat('k', 200), 1 UNION ALL SELECT repeat(md5(g::text), 200), repeat('k', 200), 1
                           FROM generate_series(1, 2) g$$, '23514',
                       'order_ref is longer than 200 characters', 'a 6,400-character order_ref in a bulk insert (an index entry too big before)');
SELECT pg_temp.rejects($$INSERT INTO backorder.customer_order (order_ref) VALUES (repeat('c', 201))$$, '23514',
                       'new row for relation "customer_order" violates check constraint "customer_order_order_ref_check"',
                       'customer_order.order_ref of 201 characters');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o', repeat('k', 201), 1)$$, '23514',
                       'sku is longer than 200 characters', 'order for a 201-character sku (no item can have it)');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty) VALUES (repeat('k', 100000), 1)$$, '23514',
                       'sku is longer than 200 characters', 'a receipt for a 100,000-character sku (not echoed back whole)');
SELECT pg_temp.rejects($$INSERT INTO backorder.adjustment (sku, delta) VALUES (repeat('日', 201), 1)$$, '23514',
                       'sku is longer than 200 characters', 'an adjustment for a 201-character multibyte sku');
-- multibyte characters count as characters: 200 of them is a valid sku, with or without supplier
INSERT INTO backorder.supplier (supplier_id) VALUES ('mb');
INSERT INTO backorder.item (sku, supplier_id) VALUES (repeat('日', 200), 'mb');
SELECT lives_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('mb1', repeat('日', 200), 3)$$,
                'an order beyond stock for a 200-character multibyte sku with a supplier is accepted');
SELECT is(pg_temp.it(repeat('日', 200)), 'on_hand=0 alloc=0 back=3 incoming=3 avail=-3',
          '200-character multibyte sku: 3 waiting, 3 incoming');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the long values');

-- 1. the catalogue's fixtures -----------------------------------------------------------
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty) VALUES
    ('sup1', 'one', '3 days', 1), ('sup2', 'two', '3 days', 1), ('sup3', 'three', '3 days', 1000),
    ('sup4', 'four', '3 days', 1);
INSERT INTO backorder.item (sku, supplier_id, policy, backorder_limit) VALUES
    ('B', NULL, 'backorder', NULL), ('DENY', NULL, 'deny', NULL), ('CAP', NULL, 'backorder', 2),
    ('SUP1', 'sup1', 'backorder', NULL), ('SUP1b', 'sup1', 'backorder', NULL),
    ('SUP2', 'sup2', 'backorder', NULL), ('SUP3', 'sup3', 'backorder', NULL),
    ('SUP4', 'sup4', 'backorder', NULL), ('UNUSED', NULL, 'backorder', NULL),
    ('BIG', NULL, 'backorder', NULL), ('HALF', NULL, 'backorder', NULL);
INSERT INTO backorder.item (sku, supplier_id, pack_size) VALUES ('PACK', 'sup1', 5);
INSERT INTO backorder.receipt (sku, qty) VALUES ('B', 5), ('DENY', 2), ('CAP', 1);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES
    ('b1', 'B', 3), ('b2', 'B', 4), ('b3', 'B', 1), ('deny1', 'DENY', 1), ('cap1', 'CAP', 3),
    ('s1', 'SUP1', 2), ('s2', 'SUP2', 2), ('s3', 'SUP3', 2), ('s4', 'SUP4', 2);
INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('b3'), NULL);
INSERT INTO backorder.customer_order (order_ref, ship_complete) VALUES ('whole', true);
INSERT INTO backorder.receipt (sku, qty) VALUES ('HALF', 1);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('whole', 'HALF', 1), ('whole', 'B', 1);
-- the purchase orders: issued for sup1, sup2 and sup4 (minimum 1), a draft for sup3 (minimum 1000)
CREATE TEMP TABLE po AS
SELECT supplier_id, po_id, status FROM backorder.purchase_order WHERE supplier_id IN ('sup1', 'sup2', 'sup3', 'sup4');
SELECT results_eq('SELECT supplier_id, status::text FROM po ORDER BY supplier_id',
                  $$VALUES ('sup1', 'issued'), ('sup2', 'issued'), ('sup3', 'draft'), ('sup4', 'issued')$$,
                  'fixtures: issued purchase orders for sup1, sup2, sup4, a draft for sup3');
SELECT backorder.cancel_purchase_order((SELECT po_id FROM po WHERE supplier_id = 'sup4'));
SELECT is((SELECT status::text FROM backorder.purchase_order WHERE po_id = (SELECT po_id FROM po WHERE supplier_id = 'sup4')),
          'cancelled', 'fixtures: sup4''s first purchase order is cancelled');
SELECT is(pg_temp.it('B'), 'on_hand=5 alloc=5 back=3 incoming=0 avail=-3', 'fixtures: B has 5 allocated and 3 waiting');
SELECT is(pg_temp.ln('b2'), 'qty=4 alloc=2 back=2 ship=0 canc=0 partially_allocated', 'fixtures: b2 has 2 allocated, 2 waiting');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the fixtures');

-- 2. zero, negative and NULL quantities on every ledger table ---------------------------
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('z', 'B', 0)$$,
                       '23514', 'qty of table "order_line" must be positive', 'order_line qty 0');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('z', 'B', -1)$$,
                       '23514', 'qty of table "order_line" must be positive', 'order_line qty -1');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('z', 'B', NULL)$$,
                       '23502', 'qty of table "order_line" must not be null', 'order_line qty NULL');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('z', 'B', -9223372036854775808)$$,
                       '23514', 'qty of table "order_line" must be positive', 'order_line qty = minimum bigint');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty) VALUES ('B', 0)$$,
                       '23514', 'qty of table "receipt" must be positive', 'receipt qty 0');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty) VALUES ('B', -3)$$,
                       '23514', 'qty of table "receipt" must be positive', 'receipt qty -3');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty) VALUES ('B', NULL)$$,
                       '23502', 'qty of table "receipt" must not be null', 'receipt qty NULL');
SELECT pg_temp.rejects(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 0)', pg_temp.lid('b1')),
                       '23514', 'qty of table "shipment" must be positive', 'shipment qty 0');
SELECT pg_temp.rejects(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, -1)', pg_temp.lid('b1')),
                       '23514', 'qty of table "shipment" must be positive', 'shipment qty -1');
SELECT pg_temp.rejects(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, NULL)', pg_temp.lid('b1')),
                       '23502', 'qty of table "shipment" must not be null', 'shipment qty NULL');
SELECT pg_temp.rejects(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, 0)', pg_temp.lid('b1')),
                       '23514', 'qty of table "cancellation" must be positive', 'cancellation qty 0');
SELECT pg_temp.rejects(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, -2)', pg_temp.lid('b1')),
                       '23514', 'qty of table "cancellation" must be positive', 'cancellation qty -2');
SELECT pg_temp.rejects($$INSERT INTO backorder.adjustment (sku, delta) VALUES ('B', 0)$$,
                       '23514', 'delta of table "adjustment" must not be zero', 'adjustment delta 0');
SELECT pg_temp.rejects($$INSERT INTO backorder.adjustment (sku, delta) VALUES ('B', NULL)$$,
                       '23502', 'delta of table "adjustment" must not be null', 'adjustment delta NULL');
-- the other required values
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('z', NULL, 1)$$,
                       '23502', 'sku of table "order_line" must not be null', 'order_line sku NULL');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (NULL, 'B', 1)$$,
                       '23502', 'order_ref of table "order_line" must not be null', 'order_line order_ref NULL');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty) VALUES (NULL, 1)$$,
                       '23502', 'sku of table "receipt" must not be null', 'receipt sku NULL');
SELECT pg_temp.rejects($$INSERT INTO backorder.adjustment (sku, delta) VALUES (NULL, 1)$$,
                       '23502', 'sku of table "adjustment" must not be null', 'adjustment sku NULL');
SELECT pg_temp.rejects($$INSERT INTO backorder.shipment (line_id, qty) VALUES (NULL, 1)$$,
                       '23502', 'line_id of table "shipment" must not be null', 'shipment line_id NULL');
SELECT pg_temp.rejects($$INSERT INTO backorder.cancellation (line_id, qty) VALUES (NULL, 1)$$,
                       '23502', 'line_id of table "cancellation" must not be null', 'cancellation line_id NULL');
-- a multi-row statement with one bad row stores none of its rows
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('z1', 'B', 1), ('z2', 'B', 0)$$,
                       '23514', 'qty of table "order_line" must be positive', 'two-row order whose second row has qty 0');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty) VALUES ('B', 4), ('B', -4)$$,
                       '23514', 'qty of table "receipt" must be positive', 'two-row receipt whose second row has qty -4');

-- 3. overflow ---------------------------------------------------------------------------
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('big', 'B', 9223372036854775807)$$,
                       '22003', 'quantity out of range', 'order of 9223372036854775807 on top of 3 waiting units');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty) VALUES ('B', 9223372036854775807)$$,
                       '22003', 'quantity out of range', 'receipt of 9223372036854775807 on top of 5 on hand');
SELECT pg_temp.rejects($$INSERT INTO backorder.adjustment (sku, delta) VALUES ('B', 9223372036854775807)$$,
                       '22003', 'quantity out of range', 'adjustment of +9223372036854775807 on top of 5 on hand');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty)
                         VALUES ('big1', 'BIG', 4611686018427387904), ('big2', 'BIG', 4611686018427387904)$$,
                       '22003', 'quantity out of range', 'two rows of 2^62 units: the second overflows the waiting units');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty) VALUES ('BIG', 4611686018427387904), ('BIG', 4611686018427387904)$$,
                       '22003', 'quantity out of range', 'two receipt rows of 2^62 units: the second overflows on_hand');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('pack', 'PACK', 9223372036854775807)$$,
                       '22003', 'quantity out of range', 'order of 9223372036854775807 whose purchase-order line (packs of 5) overflows');
-- rounding up to a pack overflows only when the rounded quantity does not fit: packs of 5e18
INSERT INTO backorder.supplier (supplier_id, po_min_qty) VALUES ('sup5', 1), ('sup6', 1);
INSERT INTO backorder.item (sku, supplier_id, pack_size) VALUES ('HUGEPACK', 'sup5', 5000000000000000000),
                                                                ('HUGEPACK2', 'sup6', 5000000000000000000);
SELECT lives_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('hugepack', 'HUGEPACK', 4300000000000000000)$$,
                'order of 4300000000000000000 units in packs of 5000000000000000000: one pack fits');
SELECT is((SELECT qty FROM backorder.purchase_order_line WHERE sku = 'HUGEPACK'), 5000000000000000000::bigint,
          'its purchase-order line is the one pack of 5000000000000000000');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('hugepack2', 'HUGEPACK2', 5000000000000000001)$$,
                       '22003', 'quantity out of range', 'order of 5000000000000000001 units in packs of 5000000000000000000 (two packs do not fit)');
-- the largest quantity itself is fine; one more unit overflows
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('bigmax', 'BIG', 9223372036854775807);
SELECT is(pg_temp.it('BIG'), 'on_hand=0 alloc=0 back=9223372036854775807 incoming=0 avail=-9223372036854775807',
          'BIG: an order of 9223372036854775807 units waits');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('big3', 'BIG', 1)$$,
                       '22003', 'quantity out of range', 'one more unit on top of 9223372036854775807 waiting');
-- a supplier's draft keeps the total of its lines: lines that each fit, whose sum does not
INSERT INTO backorder.supplier (supplier_id, po_min_qty) VALUES ('sup7', 9223372036854775807);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('DRAFT1', 'sup7'), ('DRAFT2', 'sup7');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty)
                         VALUES ('d1', 'DRAFT1', 5000000000000000000), ('d2', 'DRAFT2', 5000000000000000000)$$,
                       '22003', 'quantity out of range',
                       'two lines of 5e18 for two items of one supplier: the draft''s total would overflow');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('d3', 'DRAFT1', 1), ('d4', 'DRAFT2', 1);
SELECT pg_temp.rejects($$UPDATE backorder.item SET pack_size = 5000000000000000000 WHERE sku IN ('DRAFT1', 'DRAFT2')$$,
                       '22003', 'quantity out of range',
                       'packs of 5e18 for two waiting items of one supplier: the draft''s total would overflow');
-- a receipt against a purchase order may bring more than ordered, but not past bigint
INSERT INTO backorder.supplier (supplier_id, po_min_qty) VALUES ('sup8', 1);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('OVER', 'sup8');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('over', 'OVER', 2);
SELECT lives_ok(format($$INSERT INTO backorder.receipt (sku, qty, po_id) VALUES ('OVER', 9223372036854775000, %s)$$,
                       (SELECT po_id FROM backorder.purchase_order WHERE supplier_id = 'sup8')),
                'a receipt of 9223372036854775000 units against a purchase order of 2');
INSERT INTO backorder.adjustment (sku, delta) VALUES ('OVER', -9223372036854774000);
SELECT pg_temp.rejects(format($$INSERT INTO backorder.receipt (sku, qty, po_id) VALUES ('OVER', 1000, %s)$$,
                              (SELECT po_id FROM backorder.purchase_order WHERE supplier_id = 'sup8')),
                       '22003', 'quantity out of range',
                       '1000 more units against that purchase order: its received units would overflow');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the overflow cases');

-- 4. unknown references -----------------------------------------------------------------
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('u', 'NOPE', 1)$$,
                       '23503', 'item "NOPE" does not exist', 'order_line for an unknown sku');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty) VALUES ('NOPE', 1)$$,
                       '23503', 'item "NOPE" does not exist', 'receipt for an unknown sku');
SELECT pg_temp.rejects($$INSERT INTO backorder.adjustment (sku, delta) VALUES ('NOPE', 1)$$,
                       '23503', 'item "NOPE" does not exist', 'adjustment for an unknown sku');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('u', 'b', 1)$$,
                       '23503', 'item "b" does not exist', 'skus are case-sensitive: "b" is not "B"');
SELECT pg_temp.rejects($$INSERT INTO backorder.shipment (line_id, qty) VALUES (999999999, 1)$$,
                       '23503', 'order line 999999999 does not exist', 'shipment of an unknown line_id');
SELECT pg_temp.rejects($$INSERT INTO backorder.cancellation (line_id, qty) VALUES (999999999, 1)$$,
                       '23503', 'order line 999999999 does not exist', 'cancellation of an unknown line_id');
SELECT pg_temp.rejects($$INSERT INTO backorder.cancellation (line_id, qty) VALUES (999999999, NULL)$$,
                       '23503', 'order line 999999999 does not exist', 'cancellation (NULL qty) of an unknown line_id');
SELECT pg_temp.rejects($$INSERT INTO backorder.shipment (line_id, qty) VALUES (0, 1)$$,
                       '23503', 'order line 0 does not exist', 'shipment of line_id 0');
SELECT pg_temp.rejects($$INSERT INTO backorder.cancellation (line_id, qty) VALUES (-1, 1)$$,
                       '23503', 'order line -1 does not exist', 'cancellation of a negative line_id');
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (sku, qty, po_id) VALUES ('SUP1', 1, 999999999)$$,
                       '23503', 'purchase order 999999999 does not exist', 'receipt against an unknown po_id');

-- 5. business rules ---------------------------------------------------------------------
SELECT pg_temp.rejects(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 3)', pg_temp.lid('b2')),
                       'BO003', format('cannot ship 3 units of order line %s', pg_temp.lid('b2')),
                       'shipping 3 units of a line with 2 allocated');
SELECT pg_temp.rejects(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 1), (%s, 3)', pg_temp.lid('b1'), pg_temp.lid('b1')),
                       'BO003', format('cannot ship 3 units of order line %s', pg_temp.lid('b1')),
                       'two shipment rows of one line: 1 then 3 with 3 allocated');
SELECT pg_temp.rejects(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, 5)', pg_temp.lid('b2')),
                       'BO004', format('cannot cancel 5 units of order line %s', pg_temp.lid('b2')),
                       'cancelling 5 units of a line with 4 open');
SELECT pg_temp.rejects(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, NULL)', pg_temp.lid('b3')),
                       'BO004', format('order line %s has nothing left to cancel', pg_temp.lid('b3')),
                       'cancelling a cancelled line again');
SELECT pg_temp.rejects(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, NULL), (%s, NULL)', pg_temp.lid('b1'), pg_temp.lid('b1')),
                       'BO004', format('order line %s has nothing left to cancel', pg_temp.lid('b1')),
                       'cancelling one line twice in one statement');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('deny2', 'DENY', 2)$$,
                       'BO001', 'not enough stock of item "DENY"', 'deny item oversold (2 ordered, 1 free)');
SELECT pg_temp.rejects($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('cap2', 'CAP', 1)$$,
                       'BO002', 'backorder limit of item "CAP" reached', 'backorder_limit 2 exceeded (2 waiting + 1)');
SELECT pg_temp.rejects($$INSERT INTO backorder.adjustment (sku, delta) VALUES ('B', -6)$$,
                       'BO006', 'adjustment would leave item "B" with negative stock', 'loss of 6 with 5 on hand');
SELECT pg_temp.rejects(format('INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 1)',
                              (SELECT line_id FROM backorder.order_line WHERE order_ref = 'whole' AND sku = 'HALF')),
                       'BO007', 'order "whole" ships complete and still has waiting lines',
                       'shipping a line of a ship_complete order with a waiting line');
SELECT pg_temp.rejects(format('INSERT INTO backorder.receipt (sku, qty, po_id) VALUES (%L, 1, %s)', 'SUP1', (SELECT po_id FROM po WHERE supplier_id = 'sup2')),
                       'BO008', format('purchase order %s is not from the supplier of item "SUP1"', (SELECT po_id FROM po WHERE supplier_id = 'sup2')),
                       'receipt of a sup1 item against sup2''s purchase order');
SELECT pg_temp.rejects(format('INSERT INTO backorder.receipt (sku, qty, po_id) VALUES (%L, 1, %s)', 'B', (SELECT po_id FROM po WHERE supplier_id = 'sup1')),
                       'BO008', format('purchase order %s is not from the supplier of item "B"', (SELECT po_id FROM po WHERE supplier_id = 'sup1')),
                       'receipt of an item without supplier against a purchase order');
SELECT pg_temp.rejects(format('INSERT INTO backorder.receipt (sku, qty, po_id) VALUES (%L, 1, %s)', 'SUP3', (SELECT po_id FROM po WHERE supplier_id = 'sup3')),
                       'BO008', format('purchase order %s is draft and cannot be received against', (SELECT po_id FROM po WHERE supplier_id = 'sup3')),
                       'receipt against a draft purchase order');
SELECT pg_temp.rejects(format('INSERT INTO backorder.receipt (sku, qty, po_id) VALUES (%L, 1, %s)', 'SUP4', (SELECT po_id FROM po WHERE supplier_id = 'sup4')),
                       'BO008', format('purchase order %s is cancelled and cannot be received against', (SELECT po_id FROM po WHERE supplier_id = 'sup4')),
                       'receipt against a cancelled purchase order');
SELECT pg_temp.rejects(format('INSERT INTO backorder.receipt (sku, qty, po_id) VALUES (%L, 1, %s)', 'SUP1b', (SELECT po_id FROM po WHERE supplier_id = 'sup1')),
                       'BO008', format('purchase order %s has no line for item "SUP1b"', (SELECT po_id FROM po WHERE supplier_id = 'sup1')),
                       'receipt against a purchase order of the right supplier without a line for the item');
-- an item that changed supplier keeps its issued purchase orders: a receipt may name one
INSERT INTO backorder.supplier (supplier_id, po_min_qty) VALUES ('sup9', 1), ('sup10', 1);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('MOVED', 'sup9');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('moved', 'MOVED', 3);
UPDATE backorder.item SET supplier_id = 'sup10' WHERE sku = 'MOVED';
SELECT lives_ok(format('INSERT INTO backorder.receipt (sku, qty, po_id) VALUES (%L, 3, %s)', 'MOVED',
                       (SELECT po_id FROM backorder.purchase_order WHERE supplier_id = 'sup9')),
                'a receipt against the purchase order of the item''s former supplier');
SELECT is((SELECT format('%s %s/%s', p.status, l.received_qty, l.qty)
             FROM backorder.purchase_order p JOIN backorder.purchase_order_line l USING (po_id)
            WHERE p.supplier_id = 'sup9'),
          'received 3/3', 'the former supplier''s purchase order is received');
SELECT is(pg_temp.ln('moved'), 'qty=3 alloc=3 back=0 ship=0 canc=0 allocated', 'the waiting line is filled');
SELECT pg_temp.rejects(format('SELECT backorder.cancel_purchase_order(%s)', (SELECT po_id FROM po WHERE supplier_id = 'sup4')),
                       'BO008', format('purchase order %s is cancelled and cannot be cancelled', (SELECT po_id FROM po WHERE supplier_id = 'sup4')),
                       'cancelling a cancelled purchase order');
SELECT pg_temp.rejects('SELECT backorder.cancel_purchase_order(999999999)',
                       '23503', 'purchase order 999999999 does not exist', 'cancelling an unknown purchase order');

-- 6. clients may not write maintained columns -------------------------------------------
SELECT pg_temp.rejects(format($$INSERT INTO backorder.order_line (order_ref, sku, qty, %I) VALUES ('w', 'B', 1, %s)$$, c, v),
                       '428C9', format('column "%s" of table "order_line" is maintained by backorder', c),
                       format('order_line insert with %s', c))
  FROM (VALUES ('line_id', '424242'), ('allocated_qty', '1'), ('backordered_qty', '0'), ('shipped_qty', '0'),
               ('cancelled_qty', '0'), ('status', $$'allocated'$$), ('placed_at', $$'2020-01-01'$$),
               ('allocated_at', $$'2020-01-01'$$)) AS m(c, v);
SELECT pg_temp.rejects(format($$INSERT INTO backorder.receipt (sku, qty, %I) VALUES ('B', 1, %s)$$, c, v),
                       '428C9', format('column "%s" of table "receipt" is maintained by backorder', c),
                       format('receipt insert with %s', c))
  FROM (VALUES ('received_at', $$'2020-01-01'$$), ('allocated_qty', '0')) AS m(c, v);
SELECT pg_temp.rejects(format($$INSERT INTO backorder.shipment (line_id, qty, shipped_at) VALUES (%s, 1, '2020-01-01')$$, pg_temp.lid('b1')),
                       '428C9', 'column "shipped_at" of table "shipment" is maintained by backorder', 'shipment insert with shipped_at');
SELECT pg_temp.rejects(format($$INSERT INTO backorder.cancellation (line_id, qty, cancelled_at) VALUES (%s, 1, '2020-01-01')$$, pg_temp.lid('b2')),
                       '428C9', 'column "cancelled_at" of table "cancellation" is maintained by backorder', 'cancellation insert with cancelled_at');
SELECT pg_temp.rejects($$INSERT INTO backorder.adjustment (sku, delta, adjusted_at) VALUES ('B', 1, '2020-01-01')$$,
                       '428C9', 'column "adjusted_at" of table "adjustment" is maintained by backorder', 'adjustment insert with adjusted_at');
SELECT pg_temp.rejects(format($$INSERT INTO backorder.%I (%s) VALUES (%s)$$, t, cols, vals),
                       '428C9', format('cannot insert a non-DEFAULT value into column "%s"', c),
                       format('%s insert with its identity column %s', t, c))
  FROM (VALUES ('receipt', 'receipt_id', $$receipt_id, sku, qty$$, $$1, 'B', 1$$),
               ('shipment', 'shipment_id', $$shipment_id, line_id, qty$$, '1, ' || pg_temp.lid('b1') || ', 1'),
               ('cancellation', 'cancellation_id', $$cancellation_id, line_id, qty$$, '1, ' || pg_temp.lid('b2') || ', 1'),
               ('adjustment', 'adjustment_id', $$adjustment_id, sku, delta$$, $$1, 'B', 1$$)) AS m(t, c, cols, vals);
SELECT pg_temp.rejects(format($$INSERT INTO backorder.item (sku, %I) VALUES ('NEW', 7)$$, c),
                       '428C9', format('column "%s" of table "item" is maintained by backorder', c),
                       format('item insert with %s = 7', c))
  FROM unnest(ARRAY['on_hand', 'allocated', 'backordered', 'incoming']) AS c;
SELECT pg_temp.rejects($$INSERT INTO backorder.item (sku, available) VALUES ('NEW', 7)$$,
                       '428C9', 'cannot insert a non-DEFAULT value into column "available"', 'item insert with available = 7');
SELECT pg_temp.rejects(format($$UPDATE backorder.item SET %I = %I + 1 WHERE sku = 'B'$$, c, c),
                       '428C9', format('column "%s" of table "item" is maintained by backorder', c),
                       format('item update of %s', c))
  FROM unnest(ARRAY['on_hand', 'allocated', 'backordered', 'incoming']) AS c;
SELECT pg_temp.rejects($$UPDATE backorder.item SET available = 0 WHERE sku = 'B'$$,
                       '428C9', 'column "available" can only be updated to DEFAULT', 'item update of available');
SELECT pg_temp.rejects($$UPDATE backorder.item SET on_hand = 0, allocated = 0, backordered = 0 WHERE sku = 'B'$$,
                       '428C9', 'column "on_hand" of table "item" is maintained by backorder', 'item update zeroing every counter');
-- what a client may change
SELECT lives_ok($$UPDATE backorder.item SET policy = 'deny', backorder_limit = 10, pack_size = 2 WHERE sku = 'UNUSED'$$,
                'item update of policy, backorder_limit and pack_size is allowed');
SELECT lives_ok($$UPDATE backorder.item SET on_hand = on_hand WHERE sku = 'B'$$, 'item update that leaves the counters as they are is allowed');

-- 7. the ledger and purchase orders are append-only, even for the owner ------------------
SELECT pg_temp.rejects(stmt, 'BO005', format('rows of table "%s" cannot be updated or deleted', t), what)
  FROM (VALUES
    ('order_line', $$UPDATE backorder.order_line SET qty = qty + 1 WHERE order_ref = 'b1'$$, 'UPDATE order_line qty'),
    ('order_line', $$UPDATE backorder.order_line SET status = 'shipped' WHERE order_ref = 'b1'$$, 'UPDATE order_line status'),
    ('order_line', $$UPDATE backorder.order_line SET allocated_qty = 0, backordered_qty = 3 WHERE order_ref = 'b1'$$, 'UPDATE order_line quantities'),
    ('order_line', $$DELETE FROM backorder.order_line WHERE order_ref = 'b1'$$, 'DELETE order_line'),
    ('order_line', 'TRUNCATE backorder.order_line CASCADE', 'TRUNCATE order_line'),
    ('receipt', 'UPDATE backorder.receipt SET qty = qty + 1', 'UPDATE receipt'),
    ('receipt', 'DELETE FROM backorder.receipt', 'DELETE receipt'),
    ('receipt', 'TRUNCATE backorder.receipt', 'TRUNCATE receipt'),
    ('shipment', 'UPDATE backorder.shipment SET qty = qty + 1', 'UPDATE shipment'),
    ('shipment', 'DELETE FROM backorder.shipment', 'DELETE shipment'),
    ('shipment', 'TRUNCATE backorder.shipment', 'TRUNCATE shipment'),
    ('cancellation', 'UPDATE backorder.cancellation SET qty = qty + 1', 'UPDATE cancellation'),
    ('cancellation', 'DELETE FROM backorder.cancellation', 'DELETE cancellation'),
    ('cancellation', 'TRUNCATE backorder.cancellation', 'TRUNCATE cancellation'),
    ('adjustment', 'UPDATE backorder.adjustment SET delta = delta + 1', 'UPDATE adjustment'),
    ('adjustment', 'DELETE FROM backorder.adjustment', 'DELETE adjustment'),
    ('adjustment', 'TRUNCATE backorder.adjustment', 'TRUNCATE adjustment'),
    ('purchase_order', $$UPDATE backorder.purchase_order SET status = 'received'$$, 'UPDATE purchase_order status'),
    ('purchase_order', 'DELETE FROM backorder.purchase_order', 'DELETE purchase_order'),
    ('purchase_order', 'TRUNCATE backorder.purchase_order CASCADE', 'TRUNCATE purchase_order'),
    ('purchase_order_line', 'UPDATE backorder.purchase_order_line SET received_qty = qty', 'UPDATE purchase_order_line'),
    ('purchase_order_line', 'DELETE FROM backorder.purchase_order_line', 'DELETE purchase_order_line'),
    ('purchase_order_line', 'TRUNCATE backorder.purchase_order_line', 'TRUNCATE purchase_order_line')
  ) AS m(t, stmt, what);
SELECT pg_temp.rejects($$INSERT INTO backorder.purchase_order (supplier_id, created_at) VALUES ('sup1', now())$$,
                       'BO005', 'rows of table "purchase_order" are written by backorder only', 'INSERT purchase_order');
SELECT pg_temp.rejects(format($$INSERT INTO backorder.purchase_order_line (po_id, sku, qty, first_demand_at)
                                VALUES (%s, 'SUP1b', 5, now())$$, (SELECT po_id FROM po WHERE supplier_id = 'sup1')),
                       'BO005', 'rows of table "purchase_order_line" are written by backorder only', 'INSERT purchase_order_line');
SELECT pg_temp.rejects($$UPDATE backorder.item SET sku = 'B-renamed' WHERE sku = 'B'$$,
                       'BO005', 'the sku of an item cannot be changed', 'renaming an item''s sku');
SELECT pg_temp.rejects($$DELETE FROM backorder.item WHERE sku = 'B'$$,
                       'BO005', 'item "B" has order lines and cannot be deleted', 'deleting an item with order lines');
-- receipts and adjustments have no foreign key to item (see 10_schema.sql): the guard holds
INSERT INTO backorder.item (sku) VALUES ('RCV-ONLY'), ('ADJ-ONLY');
INSERT INTO backorder.receipt (sku, qty) VALUES ('RCV-ONLY', 1);
INSERT INTO backorder.adjustment (sku, delta) VALUES ('ADJ-ONLY', 2);
SELECT pg_temp.rejects($$DELETE FROM backorder.item WHERE sku = 'RCV-ONLY'$$,
                       'BO005', 'item "RCV-ONLY" has receipts and cannot be deleted', 'deleting an item with only a receipt');
SELECT pg_temp.rejects($$DELETE FROM backorder.item WHERE sku = 'ADJ-ONLY'$$,
                       'BO005', 'item "ADJ-ONLY" has adjustments and cannot be deleted', 'deleting an item with only an adjustment');
SELECT lives_ok($$DELETE FROM backorder.item WHERE sku = 'UNUSED'$$, 'deleting an item nobody used is allowed');
SELECT is((SELECT count(*) FROM backorder.item WHERE sku = 'UNUSED'), 0::bigint, 'the unused item is gone');

-- 7a. times the engine writes or adds to must stay finite and in range
SELECT pg_temp.rejects($$INSERT INTO backorder.supplier (supplier_id, lead_time) VALUES ('far', '101 years')$$,
                       '23514', 'new row for relation "supplier" violates check constraint "supplier_lead_time_check"',
                       'a lead_time over 100 years');
SELECT pg_temp.rejects($$UPDATE backorder.supplier SET po_max_wait = '300000 years' WHERE supplier_id = 'sup3'$$,
                       '23514', 'new row for relation "supplier" violates check constraint "supplier_po_max_wait_check"',
                       'a po_max_wait over 100 years');
-- an interval with a negative part can go back in time although it compares as >= 0
SELECT pg_temp.rejects($$INSERT INTO backorder.supplier (supplier_id, lead_time) VALUES ('mixed', '1 mon -30 days')$$,
                       '23514', 'new row for relation "supplier" violates check constraint "supplier_lead_time_check"',
                       'a lead_time of 1 mon -30 days (from 31 January: two days back)');
SELECT pg_temp.rejects($$UPDATE backorder.supplier SET po_max_wait = '1 day -24 hours' WHERE supplier_id = 'sup3'$$,
                       '23514', 'new row for relation "supplier" violates check constraint "supplier_po_max_wait_check"',
                       'a po_max_wait of 1 day -24 hours (an hour back across a DST change)');
SELECT pg_temp.rejects($$SELECT backorder.issue_due_purchase_orders('infinity')$$,
                       '22008', 'as_of must be a finite time', 'issue_due_purchase_orders(''infinity'')');
-- backorder.clock is checked when it is set, not first by an order
SELECT pg_temp.rejects($$SET backorder.clock = 'infinity'$$,
                       '22008', 'invalid value for parameter "backorder.clock": "infinity"', 'backorder.clock = infinity');
SELECT pg_temp.rejects($$SET backorder.clock = '300000-01-01'$$,
                       '22008', 'invalid value for parameter "backorder.clock": "300000-01-01"',
                       'backorder.clock beyond timestamptz''s range');
SELECT pg_temp.rejects($$SET backorder.clock = 'next tuesday'$$,
                       '22023', 'invalid value for parameter "backorder.clock": "next tuesday"', 'backorder.clock that is not a time');
SELECT is(current_setting('backorder.clock'), '2026-02-01 09:00+00', 'backorder.clock kept its value');

-- 7d. the query functions check their arguments as the inserts do
SELECT pg_temp.rejects($$SELECT * FROM backorder.available_to_promise('NOSUCH', 5)$$,
                       '23503', 'item "NOSUCH" does not exist', 'available_to_promise of an unknown sku');
SELECT pg_temp.rejects($$SELECT * FROM backorder.available_to_promise('B', 0)$$,
                       '23514', 'qty must be positive', 'available_to_promise of 0 units');
SELECT pg_temp.rejects($$SELECT * FROM backorder.available_to_promise('B', NULL)$$,
                       '23502', 'qty must not be null', 'available_to_promise of NULL units');
SELECT pg_temp.rejects($$SELECT * FROM backorder.available_to_promise('B', 1, NULL)$$,
                       '23502', 'as_of must not be null', 'available_to_promise as of NULL');
SELECT pg_temp.rejects($$SELECT * FROM backorder.simulate_receipt(NULL, 5)$$,
                       '23502', 'sku must not be null', 'simulate_receipt of a NULL sku');
SELECT pg_temp.rejects($$SELECT * FROM backorder.simulate_receipt('B', -1)$$,
                       '23514', 'qty must be positive', 'simulate_receipt of -1 units');
SELECT pg_temp.rejects($$SELECT * FROM backorder.simulate_receipt(repeat('k', 100000), 1)$$,
                       '23514', 'sku is longer than 200 characters', 'simulate_receipt of a 100,000-character sku');
SELECT pg_temp.rejects($$SELECT backorder.cancel_purchase_order(NULL)$$,
                       '23502', 'po_id must not be null', 'cancel_purchase_order(NULL)');
SELECT is((SELECT count(*) FROM backorder.simulate_receipt('B', 1)), 1::bigint,
          'simulate_receipt of a known sku still answers (b2, the head, would get the unit)');

-- 7b. INSERT ... ON CONFLICT on a ledger table is refused before it runs (the row triggers
-- would commit stock for a row that ON CONFLICT then skips), also from PL/pgSQL; EXPLAIN
-- without ANALYZE and ON CONFLICT on other tables still work
SELECT pg_temp.rejects($$INSERT INTO backorder.receipt (receipt_id, sku, qty) OVERRIDING SYSTEM VALUE
                         SELECT min(receipt_id), 'B', 10 FROM backorder.receipt ON CONFLICT DO NOTHING$$,
                       '0A000', 'INSERT ... ON CONFLICT is not supported on backorder.receipt',
                       'a receipt reusing a receipt_id, ON CONFLICT DO NOTHING');
SELECT pg_temp.rejects($$WITH l AS (INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('oc', 'B', 1)
                                    ON CONFLICT DO NOTHING RETURNING line_id)
                         SELECT count(*) FROM l$$,
                       '0A000', 'INSERT ... ON CONFLICT is not supported on backorder.order_line',
                       'an order line ON CONFLICT DO NOTHING in a WITH query');
SELECT pg_temp.rejects(format($$INSERT INTO backorder.shipment (line_id, qty) VALUES (%s, 1)
                                ON CONFLICT (shipment_id) DO UPDATE SET qty = 1$$, pg_temp.lid('b1')),
                       '0A000', 'INSERT ... ON CONFLICT is not supported on backorder.shipment',
                       'a shipment ON CONFLICT DO UPDATE');
SELECT pg_temp.rejects(format($$INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, 1) ON CONFLICT DO NOTHING$$,
                              pg_temp.lid('b2')),
                       '0A000', 'INSERT ... ON CONFLICT is not supported on backorder.cancellation',
                       'a cancellation ON CONFLICT DO NOTHING');
SELECT pg_temp.rejects($q$DO $d$ BEGIN
                             INSERT INTO backorder.adjustment (sku, delta) VALUES ('B', 1) ON CONFLICT DO NOTHING;
                         END $d$$q$,
                       '0A000', 'INSERT ... ON CONFLICT is not supported on backorder.adjustment',
                       'an adjustment ON CONFLICT DO NOTHING from PL/pgSQL');
SELECT lives_ok($$EXPLAIN INSERT INTO backorder.receipt (sku, qty) VALUES ('B', 1) ON CONFLICT DO NOTHING$$,
                'EXPLAIN (without ANALYZE) of such an insert still works');
SELECT lives_ok($$INSERT INTO backorder.customer_order (order_ref) VALUES ('whole') ON CONFLICT DO NOTHING$$,
                'ON CONFLICT on a table that is not a ledger table still works');

-- 7c. one statement that books stock for an item and changes the item's row (writable CTEs)
SELECT pg_temp.rejects($$WITH o AS (INSERT INTO backorder.receipt (sku, qty) VALUES ('B', 5) RETURNING sku)
                         UPDATE backorder.item i SET policy = 'backorder' FROM o WHERE i.sku = o.sku$$,
                       '27000', 'cannot change item "B" in the statement that books stock for it',
                       'a receipt and an UPDATE of its item in one statement');
SELECT pg_temp.rejects($$WITH s AS (INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('cte1', 'B', 1) RETURNING sku)
                         UPDATE backorder.item i SET backorder_limit = 100 FROM s WHERE i.sku = s.sku$$,
                       '27000', 'cannot change item "B" in the statement that books stock for it',
                       'an order and an UPDATE of its item in one statement');

-- 8. after all these failures the engine's state is intact ------------------------------
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty after the whole catalogue');
INSERT INTO backorder.receipt (sku, qty) VALUES ('B', 4);
SELECT is(pg_temp.ln('b2'), 'qty=4 alloc=4 back=0 ship=0 canc=0 allocated', 'b2 (head) is filled first by a new receipt');
SELECT is(pg_temp.ln('whole'), 'qty=1 alloc=1 back=0 ship=0 canc=0 allocated; qty=1 alloc=1 back=0 ship=0 canc=0 allocated',
          'whole: its B line is filled next');
SELECT is(pg_temp.it('B'), 'on_hand=9 alloc=8 back=0 incoming=0 avail=1', 'B: counters exact after the catalogue');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('deny3', 'DENY', 1);
SELECT is(pg_temp.it('DENY'), 'on_hand=2 alloc=2 back=0 incoming=0 avail=0', 'DENY: the last unit still sells');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() empty at the end');

SELECT * FROM finish();
ROLLBACK;
