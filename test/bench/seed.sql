-- Seed one variant (psql -v v=<schema> -v n=<items> -v plain=<bool>):
-- items S1..S<n> with 5 units on hand, and item Q (the queue of workload 5) with none.
-- Stock arrives as receipts where a trigger maintains on_hand; plain has none, so it is set.
\if :plain
INSERT INTO plain.item (sku, on_hand) SELECT 'S' || g, 5 FROM generate_series(1, :n) g;
\else
INSERT INTO :"v".item (sku) SELECT 'S' || g FROM generate_series(1, :n) g;
INSERT INTO :"v".receipt (sku, qty) SELECT 'S' || g, 5 FROM generate_series(1, :n) g;
\endif
INSERT INTO :"v".item (sku) VALUES ('Q');
VACUUM ANALYZE :"v".item, :"v".order_line, :"v".receipt, :"v".event;
CHECKPOINT;
