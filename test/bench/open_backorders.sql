-- test/bench/open_backorders.sql: does backorder.open_backorders scale?
--
-- Loads 1,000,000 waiting lines (1,000 skus x 1,000 lines, through the engine: one
-- INSERT ... SELECT per half), gives every sku an issued purchase-order line and a draft one
-- (10 suppliers), then times one item's rows (must walk order_line_queue_idx for that sku
-- only) and the whole view (one pass over the queue index, merge-joined with the supply).
--
-- Run it as a superuser against any database of a server that has the extension installed;
-- it works in a database of its own (backorder_bench_ob), which it drops at the end:
--   psql -X -f test/bench/open_backorders.sql
\set ON_ERROR_STOP on
SELECT current_database() AS origdb \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS backorder_bench_ob;
CREATE DATABASE backorder_bench_ob;
\c backorder_bench_ob
SET client_min_messages = warning;
CREATE EXTENSION backorder;
SET timezone = 'UTC';

INSERT INTO backorder.supplier (supplier_id, lead_time, po_min_qty, po_max_wait)
SELECT 'SUP-' || s, '7 days', 1000000000, '2 days' FROM generate_series(0, 9) s;
INSERT INTO backorder.item (sku, supplier_id)
SELECT format('SKU-%s', lpad(k::text, 4, '0')), 'SUP-' || (k % 10)
  FROM generate_series(1, 1000) k;

\echo loading 1,000,000 waiting lines through the engine
\timing on
-- first half: 500 lines per sku, in sku order (the documented deadlock-free order)
SET backorder.clock = '2026-01-05 10:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty)
SELECT format('SO-%s-%s', k, n), format('SKU-%s', lpad(k::text, 4, '0')), 1 + (n % 3)
  FROM generate_series(1, 1000) k, generate_series(1, 500) n
 ORDER BY k, n;
-- the drafts are due two days later: issue them
SET backorder.clock = '2026-01-07 10:00+00';
SELECT count(*) AS issued FROM backorder.issue_due_purchase_orders('2026-01-07 10:00+00');
-- second half: waits in new drafts
SET backorder.clock = '2026-01-08 10:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty)
SELECT format('SO-%s-%s', k, n), format('SKU-%s', lpad(k::text, 4, '0')), 1 + (n % 3)
  FROM generate_series(1, 1000) k, generate_series(501, 1000) n
 ORDER BY k, n;
\timing off
VACUUM ANALYZE backorder.order_line;
ANALYZE backorder.item;
ANALYZE backorder.purchase_order;
ANALYZE backorder.purchase_order_line;
SELECT count(*) AS waiting_lines, sum(backordered_qty) AS waiting_units
  FROM backorder.order_line WHERE backordered_qty > 0;
SELECT status, count(*) AS purchase_orders FROM backorder.purchase_order GROUP BY status ORDER BY 1;
SELECT count(*) AS invariant_violations FROM backorder.verify();

SET backorder.clock = '2026-01-09 10:00+00';
\echo one item: SELECT * FROM backorder.open_backorders WHERE sku = 'SKU-0500'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM backorder.open_backorders WHERE sku = 'SKU-0500';
\timing on
SELECT count(*), min(eta), max(eta) FROM (SELECT * FROM backorder.open_backorders WHERE sku = 'SKU-0500') o;
SELECT count(*), min(eta), max(eta) FROM (SELECT * FROM backorder.open_backorders WHERE sku = 'SKU-0500') o;
SELECT count(*), min(eta), max(eta) FROM (SELECT * FROM backorder.open_backorders WHERE sku = 'SKU-0500') o;
\o /dev/null
SELECT * FROM backorder.open_backorders WHERE sku = 'SKU-0500';
SELECT * FROM backorder.open_backorders WHERE sku = 'SKU-0500';
\o
\timing off

\echo the whole view: SELECT count(*), max(eta) FROM backorder.open_backorders
EXPLAIN (COSTS OFF) SELECT count(*), max(eta) FROM backorder.open_backorders;
\timing on
SELECT count(*), max(eta) FROM backorder.open_backorders;
SELECT count(*), max(eta) FROM backorder.open_backorders;
SET jit = off;
SELECT count(*), max(eta) FROM backorder.open_backorders;
SELECT count(*), max(eta) FROM backorder.open_backorders;
RESET jit;
\timing off

\echo for comparison: eta() called once per line of one item (what the view avoids)
\timing on
SELECT count(backorder.eta(line_id)) FROM backorder.order_line
 WHERE sku = 'SKU-0500' AND backordered_qty > 0;
\timing off
\echo eta() of the last line of one item, available_to_promise() for one item
\timing on
SELECT backorder.eta(max(line_id)) FROM backorder.order_line WHERE sku = 'SKU-0500';
SELECT * FROM backorder.available_to_promise('SKU-0500', 5);
SELECT * FROM backorder.available_to_promise('SKU-0500', 5);
\timing off
\echo simulate_receipt of 10 units reads only the head of the queue
EXPLAIN (ANALYZE, COSTS OFF)
SELECT * FROM backorder.simulate_receipt('SKU-0500', 10);

\c :origdb
DROP DATABASE backorder_bench_ob;
