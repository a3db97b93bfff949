-- test/soak/savepoint.sql: an order whose first line is taken back by a rolled-back
-- subtransaction (as a driver's per-statement savepoint or an exception block would), then
-- placed for another item. The rolled-back line leaves nothing: no line, no counters, no
-- purchase-order demand, and the commit does not lock its item again (which could deadlock
-- with orders that lock in sku order). Its ack and reject rows are those of orders.sql.
-- order_ref = 's<client>-<per-client counter>'.
\set a random_zipfian(1, 205, 1.5)
\set b random_zipfian(1, 205, 1.5)
\set qa random(1, 4)
\set qb random(1, 4)
\set seq :seq + 1
DO $$
DECLARE
    ref text := 's' || :client_id || '-' || :seq;
BEGIN
    BEGIN
        INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (ref, soak_sku(:a), :qa);
        RAISE SQLSTATE 'P0001' USING MESSAGE = 'the customer changed their mind';
    EXCEPTION WHEN SQLSTATE 'P0001' OR SQLSTATE 'BO001' OR SQLSTATE 'BO002' THEN
        NULL;
    END;
    INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES (ref, soak_sku(:b), :qb);
    INSERT INTO soak_ack (order_ref, lines, units, ship_complete) VALUES (ref, 1, :qb, false);
EXCEPTION WHEN SQLSTATE 'BO001' OR SQLSTATE 'BO002' THEN
    INSERT INTO soak_reject (order_ref, sqlstate, message, skus)
    VALUES (ref, SQLSTATE, SQLERRM, ARRAY[soak_sku(:b)]);
END $$;
