-- rows_formed.sql: the row versions the engine writes itself are well formed.
-- A receipt fills waiting lines through the heap API, and a filled line gets its first
-- allocated_at: the engine appends that last column to a copy of the row instead of forming
-- the row again. Here the new versions must read back right (every column), pass amcheck's
-- verify_heapam, and be exactly as long as the row PostgreSQL forms for the same values (a
-- line allocated at placement): a longer one could lose the room of a HOT update. Also with a
-- column the shop added to order_line later (rows older than it do not store it), and with a
-- line filled in two receipts; and the rows of the other ledger tables, stamped at insert,
-- byte for byte as PostgreSQL forms the same values.
-- psql settings, BEGIN (this file ends with ROLLBACK), SET CONSTRAINTS ALL IMMEDIATE, pg_temp.ln/it/lid
\ir helpers.psql
SELECT plan(18);
CREATE EXTENSION IF NOT EXISTS amcheck;
CREATE EXTENSION IF NOT EXISTS pageinspect;

-- the stored length of the live version of a line (its row pointer's lp_len)
CREATE FUNCTION pg_temp.len(ref text) RETURNS int LANGUAGE sql AS $$
    SELECT p.lp_len::int FROM backorder.order_line l,
           LATERAL heap_page_items(get_raw_page('backorder.order_line', (l.ctid::text::point)[0]::int)) p
     WHERE l.order_ref = ref AND p.lp = (l.ctid::text::point)[1]::int $$;
-- the stored form of each row of table tbl (its live version): length, header size, null
-- bitmap, data; and how many rows differ from the same values formed again by PostgreSQL
-- (heap_form_tuple, in CREATE TABLE AS) as a multiset
CREATE FUNCTION pg_temp.stored(tbl text)
    RETURNS TABLE (lp_len smallint, t_hoff smallint, t_bits text, t_data bytea) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT p.lp_len, p.t_hoff::smallint, p.t_bits, p.t_data
          FROM %s r, LATERAL heap_page_items(get_raw_page(%L, (r.ctid::text::point)[0]::int)) p
         WHERE p.lp = (r.ctid::text::point)[1]::int $q$, tbl, tbl);
END $$;
CREATE FUNCTION pg_temp.unlike_formed(tbl text) RETURNS bigint LANGUAGE plpgsql
    SET client_min_messages = warning AS $$
DECLARE n bigint;
BEGIN
    DROP TABLE IF EXISTS pg_temp.formed;
    -- (each column taken out of a whole-row value: a plain SELECT * would copy the stored rows as they are)
    EXECUTE format('CREATE TEMP TABLE formed AS SELECT (r).* FROM (SELECT r FROM %s r OFFSET 0) s', tbl);
    SELECT count(*) INTO n FROM
        ((SELECT * FROM pg_temp.stored(tbl) EXCEPT ALL SELECT * FROM pg_temp.stored('pg_temp.formed'))
         UNION ALL
         (SELECT * FROM pg_temp.stored('pg_temp.formed') EXCEPT ALL SELECT * FROM pg_temp.stored(tbl))) d;
    RETURN n;
END $$;
CREATE FUNCTION pg_temp.row_of(ref text) RETURNS text LANGUAGE sql AS $$
    SELECT format('%s %s qty=%s alloc=%s back=%s %s placed=%s allocated=%s', order_ref, sku, qty,
                  allocated_qty, backordered_qty, status, placed_at, allocated_at)
      FROM backorder.order_line WHERE order_ref = ref $$;

-- 1. Lines filled by a receipt, against a line allocated at placement --------------------
SET backorder.clock = '2026-04-01 09:00+00';
INSERT INTO backorder.item (sku) VALUES ('F');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('w1', 'F', 1), ('w2', 'F', 2), ('w3', 'F', 3);
SELECT is(pg_temp.len('w1'), pg_temp.len('w2'), 'two waiting lines, as long as each other');
SET backorder.clock = '2026-04-01 10:00+00';
INSERT INTO backorder.receipt (sku, qty) VALUES ('F', 5);   -- w1 and w2 filled, w3 gets 2 of 3
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('a1', 'F', 1);   -- waits behind w3
INSERT INTO backorder.receipt (sku, qty) VALUES ('F', 1);   -- w3 complete; a1 still waits
SET backorder.clock = '2026-04-01 11:00+00';
INSERT INTO backorder.receipt (sku, qty) VALUES ('F', 2);   -- a1 filled, 1 left free
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('p1', 'F', 1);   -- allocated at placement
SELECT is(pg_temp.row_of('w1'), 'w1 F qty=1 alloc=1 back=0 allocated placed=2026-04-01 09:00:00+00 allocated=2026-04-01 10:00:00+00',
          'w1, filled: every column reads back');
SELECT is(pg_temp.row_of('w3'), 'w3 F qty=3 alloc=3 back=0 allocated placed=2026-04-01 09:00:00+00 allocated=2026-04-01 10:00:00+00',
          'w3, filled in two receipts: allocated_at from the one that completed it');
SELECT is(pg_temp.row_of('a1'), 'a1 F qty=1 alloc=1 back=0 allocated placed=2026-04-01 10:00:00+00 allocated=2026-04-01 11:00:00+00',
          'a1, filled: every column reads back');
SELECT is(pg_temp.row_of('p1'), 'p1 F qty=1 alloc=1 back=0 allocated placed=2026-04-01 11:00:00+00 allocated=2026-04-01 11:00:00+00',
          'p1, allocated at placement');
SELECT is(pg_temp.len('w1'), pg_temp.len('p1'), 'a filled line is exactly as long as a line formed with the same values');
SELECT is(pg_temp.len('a1'), pg_temp.len('p1'), 'so is a line filled by a later receipt');
SELECT is((SELECT t_hoff FROM backorder.order_line l,
                  LATERAL heap_page_items(get_raw_page('backorder.order_line', (l.ctid::text::point)[0]::int)) p
            WHERE l.order_ref = 'w1' AND p.lp = (l.ctid::text::point)[1]::int), 24::smallint,
          'a filled line has no null bitmap left (its header is 24 bytes, as a formed row''s)');

-- 2. Each row the engine stamped or filled, against the same values formed by PostgreSQL -
-- A ledger row gets its time stamp (shipped_at, adjusted_at, cancelled_at: the row's last
-- column) the same way at its insert; a cancellation without a reason keeps a null bitmap.
INSERT INTO backorder.shipment (line_id, qty) VALUES (pg_temp.lid('w1'), 1);
INSERT INTO backorder.adjustment (sku, delta) VALUES ('F', 1);
INSERT INTO backorder.cancellation (line_id, qty) VALUES (pg_temp.lid('w2'), 1);
INSERT INTO backorder.cancellation (line_id, qty, reason) VALUES (pg_temp.lid('w3'), 1, 'changed mind');
SELECT is(pg_temp.unlike_formed(t), 0::bigint, t || ': every row as PostgreSQL forms it (length, header, bitmap, data)')
  FROM unnest(ARRAY['backorder.order_line', 'backorder.shipment', 'backorder.adjustment',
                    'backorder.cancellation']) t;
SELECT is((SELECT count(*) FROM pg_temp.stored('backorder.cancellation') WHERE t_bits IS NOT NULL), 1::bigint,
          'the cancellation without a reason has a null bitmap (the other has none)');

-- 3. A column the shop added later ------------------------------------------------------
INSERT INTO backorder.item (sku) VALUES ('G');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o1', 'G', 1);   -- waits, stored before the column
ALTER TABLE backorder.order_line ADD COLUMN note text DEFAULT 'n';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o2', 'G', 1);   -- waits, stores note
INSERT INTO backorder.receipt (sku, qty) VALUES ('G', 2);
SELECT is((SELECT string_agg(format('%s %s %s %s', order_ref, status, allocated_at, note), ', ' ORDER BY line_id)
             FROM backorder.order_line WHERE sku = 'G'),
          'o1 allocated 2026-04-01 11:00:00+00 n, o2 allocated 2026-04-01 11:00:00+00 n',
          'a column added later: both lines filled, the older one still reads the column''s default');
SELECT cmp_ok(pg_temp.len('o1'), '<=', pg_temp.len('o2'),
              'the line stored before the column is no longer than the line that stores it');

-- 4. amcheck and the engine's own check -----------------------------------------------------
SELECT is_empty($$SELECT * FROM verify_heapam('backorder.order_line')$$,
                'verify_heapam: every version of every line is well formed');
SELECT lives_ok($$SELECT bt_index_check(i.indexrelid, true) FROM pg_index i
                   WHERE i.indrelid = 'backorder.order_line'::regclass$$,
                'amcheck (heapallindexed): the indexes of order_line hold every line');
SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() is empty');

SELECT * FROM finish();
ROLLBACK;
