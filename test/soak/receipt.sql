-- test/soak/receipt.sql: stock arrives for one item without a purchase-order reference
-- (the engine books it against the item's oldest issued purchase orders).
\set k random_zipfian(1, 205, 1.5)
\set q random(1, 30)
INSERT INTO backorder.receipt (sku, qty) VALUES (soak_sku(:k), :q);
