-- event_brin.sql: BRIN indexes on backorder.event find every event the engine wrote.
-- The engine writes a statement's events straight into the heap and gives a BRIN index an
-- entry only when it can change the summary of the row's range of pages: it leaves out a row
-- whose key equals the last entry's, in the same range. Here the events of one receipt and
-- of one multi-row order fall into pages whose ranges are already summarised (they were
-- emptied by purge_events and kept by VACUUM), and BRIN indexes of the shop with one page per
-- range, on a key that differs from row to row (line_id, with NULLs), on a key all rows of a
-- statement share (at), and with autosummarize, must find each of them with a bitmap scan;
-- so must an index whose pages_per_range an ALTER INDEX changed (its ranges stay those it
-- was built with until a REINDEX), and a shop's BRIN index on order_line through a receipt.
-- Unlike the transactional files, this one commits as it goes (VACUUM cannot run in a
-- transaction); each file runs in a database of its own.
\ir settings.psql

SELECT plan(17);

-- how many rows a count query finds through BRIN indexes only, and the truth (a seq scan)
CREATE FUNCTION pg_temp.by_brin(q text) RETURNS bigint LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_indexscan = off SET enable_indexonlyscan = off
    SET enable_bitmapscan = on AS $$
DECLARE n bigint;
BEGIN EXECUTE q INTO n; RETURN n; END $$;
CREATE FUNCTION pg_temp.by_seqscan(q text) RETURNS bigint LANGUAGE plpgsql
    SET enable_seqscan = on SET enable_indexscan = off SET enable_indexonlyscan = off
    SET enable_bitmapscan = off AS $$
DECLARE n bigint;
BEGIN EXECUTE q INTO n; RETURN n; END $$;
-- the plan of that query through BRIN indexes names index ix
CREATE FUNCTION pg_temp.scans(q text, ix text) RETURNS boolean LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_indexscan = off SET enable_indexonlyscan = off
    SET enable_bitmapscan = on AS $$
DECLARE line text; found boolean := false;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        found := found OR line ~ ('Bitmap Index Scan on ' || ix || '\M');
    END LOOP;
    RETURN found;
END $$;
CREATE FUNCTION pg_temp.pages() RETURNS bigint LANGUAGE sql AS $$
    SELECT pg_relation_size('backorder.event') / current_setting('block_size')::bigint $$;

-- 1. Pages of events, emptied ------------------------------------------------------------
SET backorder.clock = '2026-03-01 09:00+00';
INSERT INTO backorder.item (sku) VALUES ('E');
INSERT INTO backorder.order_line (order_ref, sku, qty)
    SELECT 'old' || g, 'E', 1 FROM generate_series(1, 3000) g;
SELECT is(backorder.purge_events('2026-03-01 09:30+00'), 3000::bigint, 'the 3,000 old events are purged');
VACUUM (TRUNCATE false) backorder.event;
CREATE TEMP TABLE emptied AS SELECT pg_temp.pages() AS pages;
SELECT cmp_ok((SELECT pages FROM emptied), '>=', 20::bigint, 'the emptied events had filled 20 pages or more');

-- 2. The shop's BRIN indexes, every range summarised ------------------------------------
CREATE INDEX event_line_brin ON backorder.event USING brin (line_id) WITH (pages_per_range = 1);
CREATE INDEX event_at_brin ON backorder.event USING brin (at) WITH (pages_per_range = 1);
CREATE INDEX event_qty_brin ON backorder.event USING brin (qty) WITH (pages_per_range = 1, autosummarize = on);
SELECT cmp_ok(brin_summarize_new_values('backorder.event_line_brin')::bigint + 1, '=', (SELECT pages FROM emptied),
              'event_line_brin: every page has its summary');
SELECT brin_summarize_new_values('backorder.event_at_brin'), brin_summarize_new_values('backorder.event_qty_brin'),
       brin_summarize_new_values('backorder.event_at_idx') \g /dev/null

-- 3. One multi-row order and one receipt write their events into those pages -------------
SET backorder.clock = '2026-03-01 10:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty)
    SELECT 'new' || g, 'E', 1 + g % 3 FROM generate_series(1, 3000) g;
SET backorder.clock = '2026-03-01 11:00+00';
INSERT INTO backorder.receipt (sku, qty) VALUES ('E', 4000);
SELECT cmp_ok((SELECT count(DISTINCT (ctid::text::point)[0]) FROM backorder.event
                WHERE (ctid::text::point)[0] < (SELECT pages FROM emptied)), '>=', 20::bigint,
              'the new events lie in 20 or more of the summarised pages');

-- 4. Each BRIN index finds every event ----------------------------------------------------
CREATE TEMP TABLE q (name text, ix text, query text);
INSERT INTO q VALUES
    ('each order line''s event, by line_id', 'event_line_brin',
     $$SELECT count(*) FILTER (WHERE (SELECT count(*) FROM backorder.event e
                                       WHERE e.line_id = l.line_id AND e.kind = 'line_backordered') = 1)
         FROM backorder.order_line l WHERE l.order_ref LIKE 'new%'$$),
    ('the receipt''s events without a line, by line_id IS NULL', 'event_line_brin',
     $$SELECT count(*) FROM backorder.event WHERE line_id IS NULL$$),
    ('the order''s events, by at', 'event_at_brin',
     $$SELECT count(*) FROM backorder.event WHERE at = '2026-03-01 10:00+00'$$),
    ('the events of qty 2, through the index with autosummarize', 'event_qty_brin',
     $$SELECT count(*) FROM backorder.event WHERE qty = 2$$);
SELECT is(pg_temp.by_seqscan(query), 3000::bigint, 'truth: ' || name) FROM q WHERE name LIKE 'each%';
SELECT ok(bool_and(pg_temp.scans(query, ix)), 'each query is planned as a bitmap scan of its BRIN index') FROM q;
SELECT is(pg_temp.by_brin(query), pg_temp.by_seqscan(query), name) FROM q ORDER BY name;
-- event_at_idx, the extension's own (128 pages per range), without the shop's index on at
BEGIN;
DROP INDEX backorder.event_at_brin;
SELECT ok(pg_temp.scans($$SELECT count(*) FROM backorder.event WHERE at = '2026-03-01 11:00+00'$$, 'event_at_idx'),
          'event_at_idx is planned for the receipt''s events');
SELECT is(pg_temp.by_brin($$SELECT count(*) FROM backorder.event WHERE at = '2026-03-01 11:00+00'$$),
          pg_temp.by_seqscan($$SELECT count(*) FROM backorder.event WHERE at = '2026-03-01 11:00+00'$$),
          'event_at_idx finds the receipt''s events');
ROLLBACK;

-- 5. An index whose pages_per_range ALTER INDEX changed, not yet rebuilt -----------------
-- ALTER INDEX ... SET (pages_per_range) changes the reloption only: the index keeps the
-- ranges it was built with (its metapage) until a REINDEX, and so must the engine's skip.
SELECT backorder.purge_events('2026-03-01 12:00+00') \g /dev/null
VACUUM (TRUNCATE false) backorder.event;
TRUNCATE emptied;
INSERT INTO emptied SELECT pg_temp.pages();
DROP INDEX backorder.event_at_brin;
CREATE INDEX event_at_brin ON backorder.event USING brin (at) WITH (pages_per_range = 1);
SELECT brin_summarize_new_values('backorder.event_at_brin') \g /dev/null
ALTER INDEX backorder.event_at_brin SET (pages_per_range = 128);
SET backorder.clock = '2026-03-01 12:30+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) SELECT 'alt' || g, 'E', 1 FROM generate_series(1, 3000) g;
SELECT cmp_ok((SELECT count(DISTINCT (ctid::text::point)[0]) FROM backorder.event
                WHERE (ctid::text::point)[0] < (SELECT pages FROM emptied)), '>=', 20::bigint,
              'altered index: the new events lie in 20 or more of its summarised one-page ranges');
SELECT ok(pg_temp.scans($$SELECT count(*) FROM backorder.event WHERE at = '2026-03-01 12:30+00'$$, 'event_at_brin'),
          'altered index: planned for the new events');
SELECT is(pg_temp.by_brin($$SELECT count(*) FROM backorder.event WHERE at = '2026-03-01 12:30+00'$$),
          pg_temp.by_seqscan($$SELECT count(*) FROM backorder.event WHERE at = '2026-03-01 12:30+00'$$),
          'altered index (built with 1 page per range, altered to 128): finds every new event');

-- 6. A shop's BRIN index on order_line, through a receipt's fills -------------------------
-- A filled line's new version gets its allocated_at (the receipt's time, the same for every
-- line): with an index on that column the update is not HOT, and the new version's entries
-- are made by the engine, in pages whose one-page ranges are summarised.
INSERT INTO backorder.item (sku) VALUES ('L');
INSERT INTO backorder.order_line (order_ref, sku, qty) SELECT 'l' || g, 'L', 1 FROM generate_series(1, 2000) g;
CREATE INDEX line_allocated_brin ON backorder.order_line USING brin (allocated_at) WITH (pages_per_range = 1);
SELECT brin_summarize_new_values('backorder.line_allocated_brin') \g /dev/null
SET backorder.clock = '2026-03-01 13:00+00';
INSERT INTO backorder.receipt (sku, qty) VALUES ('L', 2000);
SELECT is(pg_temp.by_brin($$SELECT count(*) FROM backorder.order_line WHERE allocated_at = '2026-03-01 13:00+00'$$),
          2000::bigint, 'line_allocated_brin finds each of the 2,000 lines the receipt filled');

SELECT is_empty('SELECT * FROM backorder.verify()', 'verify() is empty at the end');

SELECT * FROM finish();
