-- test/soak/savepoint_again.sql: an order of one item placed inside a savepoint, taken back by
-- ROLLBACK TO SAVEPOINT, and placed again for the same item (a client retrying after an
-- error, as a driver's savepoint per statement lets it). The first placement runs in a
-- PL/pgSQL block with an EXCEPTION clause, a subtransaction that commits into the savepoint:
-- a waiter for the item then waited for the whole transaction, holding the item's waiting
-- line, and the second placement deadlocked with it (see savepoint_requeue_deadlock.spec).
-- Its ack and reject rows are those of orders.sql. order_ref = 'a<client>-<counter>'.
\set a random_zipfian(1, 205, 1.5)
\set qa random(1, 4)
\set qb random(1, 4)
\set seq :seq + 1
BEGIN;
SAVEPOINT first_try;
DO $$ BEGIN
    INSERT INTO backorder.order_line (order_ref, sku, qty)
    VALUES ('a' || :client_id || '-' || :seq, soak_sku(:a), :qa);
EXCEPTION WHEN SQLSTATE 'BO001' OR SQLSTATE 'BO002' THEN NULL; END $$;
ROLLBACK TO SAVEPOINT first_try;
DO $$
DECLARE
    ref text := 'a' || :client_id || '-' || :seq;
BEGIN
    INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (ref, soak_sku(:a), :qb);
    INSERT INTO soak_ack (order_ref, lines, units, ship_complete) VALUES (ref, 1, :qb, false);
EXCEPTION WHEN SQLSTATE 'BO001' OR SQLSTATE 'BO002' THEN
    INSERT INTO soak_reject (order_ref, sqlstate, message, skus)
    VALUES (ref, SQLSTATE, SQLERRM, ARRAY[soak_sku(:a)]);
END $$;
COMMIT;
