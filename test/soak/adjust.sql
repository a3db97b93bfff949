-- test/soak/adjust.sql: a stock count correction. Gains on any item; losses (up to what
-- is on hand, possibly beyond free stock: allocation is taken back) only where
-- soak_loss_ok(k). on_hand may drop before the engine locks the item (BO006): caught.
\set k random_zipfian(1, 205, 1.5)
\set loss random(0, 1)
\set q random(1, 12)
DO $$
DECLARE
    d bigint := :q;
BEGIN
    IF :loss = 1 AND soak_loss_ok(:k) THEN
        SELECT -least(i.on_hand, :q) INTO d FROM backorder.item i WHERE i.sku = soak_sku(:k);
    END IF;
    IF d <> 0 THEN
        INSERT INTO backorder.adjustment (sku, delta, reason)
        VALUES (soak_sku(:k), d, CASE WHEN d > 0 THEN 'found' ELSE 'damaged' END);
    END IF;
EXCEPTION WHEN SQLSTATE 'BO006' THEN
    INSERT INTO soak_caught (script, sqlstate) VALUES ('adjust', SQLSTATE);
END $$;
