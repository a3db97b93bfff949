-- backorder install script, part 3: the invariant checker.

-- One row per broken invariant; no rows when every invariant holds. Set-based: one pass
-- over each table, so it is cheap enough to run after every test.
CREATE FUNCTION backorder.verify()
    RETURNS TABLE (invariant text, sku text, line_id bigint, detail text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH lines AS (
        SELECT l.sku,
               sum(l.allocated_qty) AS allocated,
               sum(l.backordered_qty) AS backordered,
               max(l.line_id) FILTER (WHERE l.allocated_qty > 0) AS last_allocated,
               min(l.line_id) FILTER (WHERE l.backordered_qty > 0) AS first_waiting,
               count(*) FILTER (WHERE l.allocated_qty > 0 AND l.backordered_qty > 0) AS partial
          FROM backorder.order_line l GROUP BY l.sku),
    flows AS (
        SELECT f.sku, sum(f.units) AS units FROM (
            SELECT r.sku, r.qty AS units FROM backorder.receipt r
            UNION ALL SELECT a.sku, a.delta FROM backorder.adjustment a
            UNION ALL SELECT l.sku, -s.qty FROM backorder.shipment s
                        JOIN backorder.order_line l ON l.line_id = s.line_id) f
         GROUP BY f.sku),
    po_open AS (
        SELECT pl.sku, sum(CASE WHEN p.status = 'draft' THEN pl.qty
                               ELSE greatest(pl.qty - pl.received_qty, 0) END) AS units
          FROM backorder.purchase_order_line pl
          JOIN backorder.purchase_order p ON p.po_id = pl.po_id
         WHERE p.status IN ('draft', 'issued')
         GROUP BY pl.sku),
    po_lines AS (
        SELECT l.po_id, sum(l.qty) AS units FROM backorder.purchase_order_line l GROUP BY l.po_id),
    -- from the ledger side, so that a row on a line whose counter says 0 is seen too
    line_ledger AS (
        SELECT x.line_id, sum(x.shipped)::bigint AS shipped, sum(x.cancelled)::bigint AS cancelled
          FROM (SELECT s.line_id, s.qty AS shipped, 0 AS cancelled FROM backorder.shipment s
                UNION ALL
                SELECT c.line_id, 0, c.qty FROM backorder.cancellation c) x
         GROUP BY x.line_id)
    SELECT 'line balance', l.sku, l.line_id,
           format('qty %s <> allocated %s + backordered %s + shipped %s + cancelled %s',
                  l.qty, l.allocated_qty, l.backordered_qty, l.shipped_qty, l.cancelled_qty)
      FROM backorder.order_line l
     WHERE l.qty <> l.allocated_qty + l.backordered_qty + l.shipped_qty + l.cancelled_qty
        OR least(l.allocated_qty, l.backordered_qty, l.shipped_qty, l.cancelled_qty) < 0
    UNION ALL
    SELECT 'line status', l.sku, l.line_id, format('status %s does not match its quantities', l.status)
      FROM backorder.order_line l
     WHERE l.status <> CASE
               WHEN l.backordered_qty > 0 AND (l.allocated_qty > 0 OR l.shipped_qty > 0)
                   THEN 'partially_allocated'
               WHEN l.backordered_qty > 0 THEN 'backordered'
               WHEN l.allocated_qty > 0 THEN 'allocated'
               WHEN l.shipped_qty > 0 THEN 'shipped'
               ELSE 'cancelled' END::backorder.line_status
    UNION ALL
    SELECT 'line ledger', l.sku, l.line_id,
           format('shipped %s / cancelled %s, ledger says %s / %s',
                  l.shipped_qty, l.cancelled_qty, coalesce(g.shipped, 0), coalesce(g.cancelled, 0))
      FROM backorder.order_line l LEFT JOIN line_ledger g ON g.line_id = l.line_id
     WHERE l.shipped_qty <> coalesce(g.shipped, 0) OR l.cancelled_qty <> coalesce(g.cancelled, 0)
    UNION ALL
    SELECT 'ledger line', NULL, x.line_id, format('%s %s references no order line', x.kind, x.id)
      FROM (SELECT 'shipment' AS kind, s.shipment_id AS id, s.line_id FROM backorder.shipment s
            UNION ALL
            SELECT 'cancellation', c.cancellation_id, c.line_id FROM backorder.cancellation c) x
     WHERE NOT EXISTS (SELECT 1 FROM backorder.order_line l WHERE l.line_id = x.line_id)
    UNION ALL
    -- a half-finished restore can leave events without their lines or items (see the README)
    SELECT 'event line', e.sku, e.line_id, format('event %s (%s) references no order line', e.event_id, e.kind)
      FROM backorder.event e
     WHERE e.line_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM backorder.order_line l WHERE l.line_id = e.line_id)
    UNION ALL
    SELECT 'event item', e.sku, e.line_id, format('event %s (%s) references no item', e.event_id, e.kind)
      FROM backorder.event e
     WHERE e.sku IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM backorder.item i WHERE i.sku = e.sku)
    UNION ALL
    SELECT 'item counters', i.sku, NULL,
           format('allocated %s / backordered %s, lines say %s / %s',
                  i.allocated, i.backordered, coalesce(s.allocated, 0), coalesce(s.backordered, 0))
      FROM backorder.item i LEFT JOIN lines s ON s.sku = i.sku
     WHERE i.allocated <> coalesce(s.allocated, 0) OR i.backordered <> coalesce(s.backordered, 0)
    UNION ALL
    SELECT 'queue head', i.sku, i.queue_head,
           format('queue_head %s, oldest waiting line %s', i.queue_head, s.first_waiting)
      FROM backorder.item i LEFT JOIN lines s ON s.sku = i.sku
     WHERE i.queue_head IS DISTINCT FROM s.first_waiting
    UNION ALL
    SELECT 'on hand', i.sku, NULL,
           format('on_hand %s, receipts + adjustments - shipments = %s', i.on_hand, coalesce(f.units, 0))
      FROM backorder.item i LEFT JOIN flows f ON f.sku = i.sku
     WHERE i.on_hand <> coalesce(f.units, 0)
    UNION ALL
    SELECT 'allocated <= on_hand', i.sku, NULL, format('allocated %s, on_hand %s', i.allocated, i.on_hand)
      FROM backorder.item i WHERE i.allocated > i.on_hand
    UNION ALL
    SELECT 'no free stock while lines wait', i.sku, NULL,
           format('backordered %s, on_hand %s, allocated %s', i.backordered, i.on_hand, i.allocated)
      FROM backorder.item i WHERE i.backordered > 0 AND i.on_hand <> i.allocated
    UNION ALL
    SELECT 'fifo', s.sku, s.first_waiting,
           format('line %s waits while line %s holds units (%s partially allocated lines)',
                  s.first_waiting, s.last_allocated, s.partial)
      FROM lines s
     WHERE s.last_allocated > s.first_waiting OR s.partial > 1
    UNION ALL
    SELECT 'incoming', i.sku, NULL,
           format('incoming %s, open purchase-order lines %s', i.incoming, coalesce(o.units, 0))
      FROM backorder.item i LEFT JOIN po_open o ON o.sku = i.sku
     WHERE i.incoming <> coalesce(o.units, 0)
    UNION ALL
    SELECT 'purchase order total', NULL, NULL,
           format('purchase order %s: total_qty %s, its lines %s', p.po_id, p.total_qty,
                  coalesce(t.units, 0))
      FROM backorder.purchase_order p LEFT JOIN po_lines t ON t.po_id = p.po_id
     WHERE p.total_qty <> coalesce(t.units, 0)
    UNION ALL
    SELECT 'waiting units covered', i.sku, NULL,
           format('backordered %s, incoming %s', i.backordered, i.incoming)
      FROM backorder.item i
     WHERE i.supplier_id IS NOT NULL AND i.backordered > i.incoming;
END;
