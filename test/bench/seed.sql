-- Seed one variant (psql -v v=<schema> -v n=<items> -v stock=<units> -v supplier=<bool> -v plain=<bool>):
-- items S1..S<n> with <stock> units on hand, all of supplier SUP (po_min_qty 5, lead time 7 days,
-- po_max_wait 1 day) when supplier is true, and item Q (the queue of workload 5) with none.
-- Stock arrives as receipts where a trigger maintains on_hand; plain has none, so it is set.
INSERT INTO :"v".supplier (supplier_id, lead_time, po_min_qty, po_max_wait)
VALUES ('SUP', '7 days', 5, '1 day');
\if :plain
INSERT INTO plain.item (sku, supplier_id, on_hand)
SELECT 'S' || g, (SELECT supplier_id FROM plain.supplier WHERE :supplier), :stock
  FROM generate_series(1, :n) g;
\else
INSERT INTO :"v".item (sku, supplier_id)
SELECT 'S' || g, (SELECT supplier_id FROM :"v".supplier WHERE :supplier) FROM generate_series(1, :n) g;
INSERT INTO :"v".receipt (sku, qty) SELECT 'S' || g, :stock FROM generate_series(1, :n) g WHERE :stock > 0;
\endif
INSERT INTO :"v".item (sku) VALUES ('Q');
-- Only the tables filled here: a VACUUM of an empty table tells the planner it is empty, and
-- plans cached by the pgbench sessions would then stay built for empty tables (no autoanalyze
-- within a run); never vacuumed, the tables are planned as on a fresh install.
VACUUM ANALYZE :"v".supplier, :"v".item, :"v".receipt;
CHECKPOINT;
