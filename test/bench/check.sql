-- Invariant check after a run (psql -v v=<schema>): prints the number of broken rows.
\if :plain
SELECT 0;
\elif :ext
SELECT count(*) FROM backorder.verify();
\else
SELECT count(*)
  FROM :"v".item i
  LEFT JOIN (SELECT sku, sum(allocated_qty) AS a, sum(backordered_qty) AS b, sum(qty) AS q,
                    sum(allocated_qty + backordered_qty + shipped_qty + cancelled_qty) AS parts
               FROM :"v".order_line GROUP BY sku) l USING (sku)
 WHERE i.allocated <> coalesce(l.a, 0) OR i.backordered <> coalesce(l.b, 0)
    OR l.q <> l.parts OR i.allocated > i.on_hand
    OR (i.backordered > 0 AND i.on_hand <> i.allocated);
\endif
