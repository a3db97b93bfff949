-- test/soak/setup.sql: the world of the mixed soak (test/tap/010_soak.pl); see README.md.
-- Run once, in a database where the extension backorder already exists.

-- Item k (1..205) is sku soak_sku(k): S001..S200 have a supplier, N201..N205 have none.
-- Each script draws k with pgbench's random_zipfian(1, 205, 1.5): S001, S002 and S003
-- take about 60 % of the draws.
CREATE FUNCTION soak_sku(k bigint) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN k <= 200 THEN 'S' || lpad(k::text, 3, '0') ELSE 'N' || k END;

-- Stock losses only hit items where they cannot break a business rule the soak checks:
-- a loss beyond free stock sends allocated units back to the queue, which would give a
-- 'deny' item waiting units and could push a capped item over its backorder_limit.
CREATE FUNCTION soak_loss_ok(k bigint) RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN k % 10 NOT IN (7, 9) AND k NOT IN (3, 205);

-- Client-side bookkeeping, written in the same transaction as the work it records.
CREATE TABLE soak_ack (            -- one row per committed order
    order_ref     text PRIMARY KEY,
    lines         int NOT NULL,     -- what the client asked for, computed from its own input
    units         bigint NOT NULL,
    ship_complete boolean NOT NULL
);
CREATE TABLE soak_reject (         -- one row per order refused with BO001 / BO002
    order_ref text PRIMARY KEY,
    sqlstate  text NOT NULL,
    message   text NOT NULL,
    skus      text[] NOT NULL       -- the items the order asked for
);
CREATE TABLE soak_caught (         -- other expected business errors, caught and counted
    script   text NOT NULL,
    sqlstate text NOT NULL,
    message  text
);
-- Per item, line_id: every line below it is finished (shipped or cancelled; a finished line
-- never reopens), and ship_from: where ship.sql starts looking for allocated lines (the oldest
-- allocated line not held back by a waiting ship-complete order, when floors.sql last looked).
-- They keep "the oldest open / allocated line" a short index range scan on a long run,
-- instead of a walk over the whole history of a hot item. Moved by floors.sql.
CREATE TABLE soak_floor (
    sku       text PRIMARY KEY,
    line_id   bigint NOT NULL DEFAULT 0,
    ship_from bigint NOT NULL DEFAULT 0
);

INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty, po_max_wait)
VALUES ('ACME', 'Acme Wholesale', '3 days', 50, '2 seconds'),
       ('BETA', 'Beta Imports', '10 days', 200, '5 seconds');

-- S001..S200: supplier BETA when k % 5 = 0, else ACME; policy 'deny' when k % 10 = 7;
-- backorder_limit 20 when k % 10 = 9, and 300 for the hot S003; pack_size 6 when k % 8 = 1.
-- N201..N204: no supplier, policy backorder; N205: no supplier, policy deny.
INSERT INTO backorder.item (sku, supplier_id, policy, backorder_limit, pack_size)
SELECT soak_sku(k),
       CASE WHEN k > 200 THEN NULL WHEN k % 5 = 0 THEN 'BETA' ELSE 'ACME' END,
       CASE WHEN k % 10 = 7 OR k = 205 THEN 'deny' ELSE 'backorder' END::backorder.stock_policy,
       CASE WHEN k = 3 THEN 300 WHEN k % 10 = 9 AND k <= 200 THEN 20 END,
       CASE WHEN k % 8 = 1 AND k <= 200 THEN 6 ELSE 1 END
  FROM generate_series(1, 205) k;
INSERT INTO soak_floor (sku) SELECT sku FROM backorder.item;

-- Initial stock, in sku order (one statement locks the items in that order).
INSERT INTO backorder.receipt (sku, qty)
SELECT soak_sku(k), CASE WHEN k <= 3 THEN 300 WHEN k <= 20 THEN 40 ELSE 10 END
  FROM generate_series(1, 205) k ORDER BY soak_sku(k);
