-- test/soak/supplier.sql: a buyer changes a supplier's minimum and longest wait. The
-- deferred trigger issue_due issues the supplier's draft at commit when that made it due,
-- while orders, receipts and the scheduler lock the same supplier and draft.
\set sup random(1, 2)
\set minq random(20, 250)
\set wait random(1, 6)
UPDATE backorder.supplier
   SET po_min_qty = :minq, po_max_wait = make_interval(secs => :wait)
 WHERE supplier_id = (ARRAY['ACME', 'BETA'])[:sup];
