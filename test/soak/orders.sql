-- test/soak/orders.sql: one customer order of 1 to 3 lines, in one transaction.
-- Lines go in in sku order (one INSERT ... ORDER BY sku), so that two orders lock their
-- items in the same order. 1 order in 10 ships complete (customer_order header).
-- The order and its soak_ack row commit together; an order refused for lack of stock
-- ('deny', BO001) or over a backorder_limit (BO002) leaves only a soak_reject row.
-- order_ref = 'c<client>-<per-client counter>' (variable seq, -D seq=0): unique.
\set a random_zipfian(1, 205, 1.5)
\set b random_zipfian(1, 205, 1.5)
\set c random(1, 205)
\set nl random(1, 3)
\set q1 random(1, 4)
\set q2 random(1, 4)
\set q3 random(1, 8)
\set sc random(1, 10)
\set seq :seq + 1
DO $$
DECLARE
    ref text := 'c' || :client_id || '-' || :seq;
    n_lines int;
    n_units bigint;
BEGIN
    SELECT count(DISTINCT k), sum(q) INTO n_lines, n_units
      FROM (VALUES (1, :a, :q1), (2, :b, :q2), (3, :c, :q3)) v(i, k, q)
     WHERE i <= :nl;
    IF :sc = 1 THEN
        INSERT INTO backorder.customer_order (order_ref, ship_complete) VALUES (ref, true);
    END IF;
    INSERT INTO backorder.order_line (order_ref, sku, qty)
    SELECT ref, soak_sku(k), sum(q)
      FROM (VALUES (1, :a, :q1), (2, :b, :q2), (3, :c, :q3)) v(i, k, q)
     WHERE i <= :nl
     GROUP BY k
     ORDER BY soak_sku(k);
    INSERT INTO soak_ack (order_ref, lines, units, ship_complete)
    VALUES (ref, n_lines, n_units, :sc = 1);
EXCEPTION WHEN SQLSTATE 'BO001' OR SQLSTATE 'BO002' THEN
    INSERT INTO soak_reject (order_ref, sqlstate, message, skus)
    SELECT ref, SQLSTATE, SQLERRM, array_agg(DISTINCT soak_sku(k))
      FROM (VALUES (1, :a), (2, :b), (3, :c)) v(i, k)
     WHERE i <= :nl;
END $$;
