-- backorder install script, part 4: promise dates and report views.
--
-- Everything here only reads. Function bodies are BEGIN ATOMIC (parsed once, at CREATE
-- EXTENSION, so a caller's search_path cannot change what they refer to), and every view
-- is parsed at creation too, except available_to_promise and simulate_receipt, which check
-- their arguments in PL/pgSQL and pin their search_path (see check_sku_qty). No function pins a search_path: that would keep the planner
-- from inlining supply_schedule() into the views that use it, and inlining is what lets a
-- "WHERE sku = ..." on a view reach the indexes. Everything is set-based.
--
-- Time: the functions take as_of (default backorder.engine_now()); the views use
-- backorder.engine_now(), which is backorder.clock when that setting is non-empty and
-- now() otherwise: the same clock the engine writes placed_at, issued_at, ... with. So a
-- test, replay or simulation that moves backorder.clock moves the reports with it.
--
-- No index is added. open_backorders, eta and simulate_receipt walk an item's queue
-- through order_line_sku_idx (sku, line_id) from item.queue_head on, reading the waiting
-- lines and the few cancelled ones between them; supply lookups use purchase_order_line_sku_idx
-- and the primary keys. ready_to_ship and backorder_rate read order_line sequentially:
-- an index for them (on allocated lines, or on placed_at) would cost every order insert
-- an extra index write, and the partial one would also turn every shipment's line update
-- into a non-HOT update, for reports that are run now and then.

CREATE FUNCTION backorder.engine_now() RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(NULLIF(pg_catalog.current_setting('backorder.clock', true), '')::timestamptz,
                    pg_catalog.now());
END;
COMMENT ON FUNCTION backorder.engine_now() IS
    'the engine''s clock: backorder.clock when that setting is non-empty, else now(); the default as_of of the promise functions and the "now" of the report views';

-- The supply walk. Waiting units of an item are filled head of queue first by whatever
-- arrives first, so promise dates come from lining up the supply of each sku by arrival:
--   stock   free stock (on_hand - allocated), here at as_of (normally none while lines wait);
--   issued  open quantity (qty - received_qty) of each issued purchase-order line, arriving
--           at the order's expected_at, even when that is already past (a late order is
--           still expected; supplier_performance reports the lateness);
--   draft   each draft purchase-order line, arriving lead_time after the draft's issue:
--           as_of when the draft already reaches the supplier's po_min_qty, else when its
--           oldest demand (min first_demand_at) has waited po_max_wait, but not before as_of
--           (a draft that is overdue is issued by the next issue_due_purchase_orders run);
--           unknown (NULL) when the supplier has no po_max_wait and the draft is below its
--           minimum. A supplier without lead_time delivers at issue time, as the engine's
--           expected_at = issued_at + COALESCE(lead_time, 0) assumes.
-- Order of the walk: stock first, then by arrival (unknown last), issued before draft on
-- a tie, then po_id. units_upto is the running total of units, so the unit number n of a
-- sku arrives with the row where units_before < n <= units_upto.
CREATE FUNCTION backorder.supply_schedule(as_of timestamptz DEFAULT backorder.engine_now())
    RETURNS TABLE (sku text, source text, po_id bigint, arrival timestamptz,
                   units bigint, units_before bigint, units_upto bigint)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.sku, s.source, s.po_id, s.arrival, s.units,
           (pg_catalog.sum(s.units) OVER w)::bigint - s.units,
           (pg_catalog.sum(s.units) OVER w)::bigint
      FROM (SELECT i.sku, 'stock'::text AS source, NULL::bigint AS po_id,
                   supply_schedule.as_of AS arrival, i.on_hand - i.allocated AS units, 0 AS step
              FROM backorder.item i
             WHERE i.on_hand > i.allocated
            UNION ALL
            SELECT pl.sku, 'issued'::text, p.po_id, p.expected_at, pl.qty - pl.received_qty, 1
              FROM backorder.purchase_order_line pl
              JOIN backorder.purchase_order p ON p.po_id = pl.po_id
             WHERE p.status = 'issued'::backorder.po_status AND pl.qty > pl.received_qty
            UNION ALL
            SELECT pl.sku, 'draft'::text, p.po_id,
                   CASE WHEN d.total >= su.po_min_qty THEN supply_schedule.as_of
                        WHEN d.first_demand + su.po_max_wait IS NULL THEN NULL
                        ELSE GREATEST(supply_schedule.as_of, d.first_demand + su.po_max_wait)
                   END + COALESCE(su.lead_time, '0'::interval),
                   pl.qty, 2
              FROM backorder.purchase_order_line pl
              JOIN backorder.purchase_order p ON p.po_id = pl.po_id
              JOIN backorder.supplier su ON su.supplier_id = p.supplier_id
              JOIN (SELECT dl.po_id, pg_catalog.sum(dl.qty) AS total,
                           pg_catalog.min(dl.first_demand_at) FILTER (WHERE dl.qty > 0) AS first_demand
                      FROM backorder.purchase_order dp
                      JOIN backorder.purchase_order_line dl ON dl.po_id = dp.po_id
                     WHERE dp.status = 'draft'::backorder.po_status
                     GROUP BY dl.po_id) d ON d.po_id = p.po_id
             WHERE p.status = 'draft'::backorder.po_status AND pl.qty > 0) s
    WINDOW w AS (PARTITION BY s.sku
                 ORDER BY s.step <> 0, s.arrival NULLS LAST, s.step, s.po_id
                 ROWS UNBOUNDED PRECEDING);
END;
COMMENT ON FUNCTION backorder.supply_schedule(timestamptz) IS
    'per sku, the supply that waiting units can expect, in the order it fills the queue: free stock (at as_of), open quantity of issued purchase orders (at expected_at, even when late), draft purchase-order lines (lead_time after the draft is due to be issued; NULL arrival when that is unknown); units_before/units_upto number the units: unit n arrives with the row where units_before < n <= units_upto';

CREATE FUNCTION backorder.eta(line_id bigint, as_of timestamptz DEFAULT backorder.engine_now())
    RETURNS timestamptz
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT CASE
               WHEN l.backordered_qty > 0 THEN
                   (SELECT s.arrival
                      FROM backorder.supply_schedule(eta.as_of) s
                     WHERE s.sku = l.sku
                       AND s.units_upto >= (SELECT pg_catalog.sum(q.backordered_qty)
                                              FROM backorder.order_line q
                                             WHERE q.sku = l.sku AND q.backordered_qty > 0
                                               AND q.line_id >= (SELECT i.queue_head FROM backorder.item i
                                                                  WHERE i.sku = l.sku)
                                               AND q.line_id <= l.line_id)
                     ORDER BY s.units_upto
                     LIMIT 1)
               WHEN l.allocated_qty > 0 THEN l.allocated_at
           END
      FROM backorder.order_line l
     WHERE l.line_id = eta.line_id;
END;
COMMENT ON FUNCTION backorder.eta(bigint, timestamptz) IS
    'when the line''s waiting units are expected: the waiting units of its sku up to and including its own (queue order) are matched against backorder.supply_schedule(as_of); the arrival of the supply that covers its last unit, NULL when supply is short or its time unknown; for a line with nothing waiting its allocated_at when it holds allocated units, else NULL';

-- The arguments of available_to_promise and simulate_receipt get the errors an order line or
-- a receipt of the same values gets: 23502 for NULL, 23514 for qty <= 0 or a sku over 200
-- characters, 23503 for an unknown sku. These two are PL/pgSQL (with a pinned search_path)
-- for that, and their queries are planned with the actual arguments, not inlined: a caller
-- asks about one item at a time.
CREATE FUNCTION backorder.check_sku_qty(sku text, qty bigint) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF sku IS NULL OR qty IS NULL THEN
        RAISE EXCEPTION '% must not be null', CASE WHEN sku IS NULL THEN 'sku' ELSE 'qty' END
            USING ERRCODE = 'not_null_violation';
    END IF;
    IF qty <= 0 THEN
        RAISE EXCEPTION 'qty must be positive' USING ERRCODE = 'check_violation',
            DETAIL = format('Failing value: %s.', qty);
    END IF;
    IF length(sku) > 200 THEN
        RAISE EXCEPTION 'sku is longer than 200 characters' USING ERRCODE = 'check_violation',
            DETAIL = format('It has %s characters.', length(sku));
    END IF;
    IF NOT EXISTS (SELECT FROM backorder.item i WHERE i.sku OPERATOR(pg_catalog.=) check_sku_qty.sku) THEN
        RAISE EXCEPTION 'item "%" does not exist', sku USING ERRCODE = 'foreign_key_violation';
    END IF;
END
$$;
COMMENT ON FUNCTION backorder.check_sku_qty(text, bigint) IS
    'the argument checks of available_to_promise and simulate_receipt: raises 23502 (NULL), 23514 (qty <= 0, sku over 200 characters) or 23503 (unknown sku)';

-- What a new order for qty units could get. The units it would have to wait for line up
-- behind every unit already waiting; if the item has a supplier they would also join the
-- supplier's draft at commit (the engine rounds the sku's draft line up to cover what
-- issued orders do not, in packs), which can bring the draft to its minimum and so get it
-- issued at once: the walk uses the draft as that order would leave it.
CREATE FUNCTION backorder.available_to_promise(sku text, qty bigint,
                                               as_of timestamptz DEFAULT backorder.engine_now())
    RETURNS TABLE (available_now bigint, promise_at timestamptz)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM backorder.check_sku_qty(available_to_promise.sku, available_to_promise.qty);
    IF available_to_promise.as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be null' USING ERRCODE = 'not_null_violation';
    END IF;
    RETURN QUERY
    WITH it AS (
        SELECT i.sku, i.policy, i.backorder_limit, i.backordered, i.pack_size, i.supplier_id,
               available_to_promise.qty AS want,
               LEAST(GREATEST(i.available, 0), available_to_promise.qty) AS now_units
          FROM backorder.item i
         WHERE i.sku = available_to_promise.sku),
    -- the item's supplier's draft, as the order would leave it
    draft AS (
        SELECT p.po_id,
               COALESCE(pg_catalog.sum(dl.qty) FILTER (WHERE dl.sku <> it.sku), 0) AS others_total,
               pg_catalog.min(dl.first_demand_at) FILTER (WHERE dl.sku <> it.sku AND dl.qty > 0)
                   AS others_first,
               pg_catalog.min(dl.first_demand_at) FILTER (WHERE dl.sku = it.sku) AS own_first
          FROM it
          JOIN backorder.purchase_order p
            ON p.supplier_id = it.supplier_id AND p.status = 'draft'::backorder.po_status
          LEFT JOIN backorder.purchase_order_line dl ON dl.po_id = p.po_id
         GROUP BY p.po_id, it.sku),
    wanted AS (
        SELECT it.sku, su.po_min_qty, su.po_max_wait, su.lead_time,
               d.po_id, d.others_total, d.others_first, d.own_first,
               CASE WHEN x.short <= 0 THEN 0
                    ELSE (x.short + it.pack_size - 1) / it.pack_size * it.pack_size
               END AS units
          FROM it
          JOIN backorder.supplier su ON su.supplier_id = it.supplier_id
          LEFT JOIN draft d ON true
          CROSS JOIN LATERAL (
              SELECT it.backordered + (it.want - it.now_units)
                     - COALESCE((SELECT pg_catalog.sum(pl.qty - pl.received_qty)
                                   FROM backorder.purchase_order_line pl
                                   JOIN backorder.purchase_order p ON p.po_id = pl.po_id
                                  WHERE pl.sku = it.sku
                                    AND p.status = 'issued'::backorder.po_status
                                    AND pl.qty > pl.received_qty)::bigint, 0) AS short) x),
    supply AS (
        SELECT s.source, s.po_id, s.arrival, s.units
          FROM backorder.supply_schedule(available_to_promise.as_of) s
         WHERE s.sku = available_to_promise.sku  -- a restriction: reaches the indexes
           AND NOT (s.source = 'draft'
                    AND s.po_id IS NOT DISTINCT FROM (SELECT w.po_id FROM wanted w))
        UNION ALL
        SELECT 'draft', w.po_id,
               CASE WHEN COALESCE(w.others_total, 0) + w.units >= w.po_min_qty
                        THEN available_to_promise.as_of
                    WHEN w.po_max_wait IS NULL THEN NULL
                    ELSE GREATEST(available_to_promise.as_of,
                                  LEAST(w.others_first,
                                        COALESCE(w.own_first, available_to_promise.as_of))
                                  + w.po_max_wait)
               END + COALESCE(w.lead_time, '0'::interval),
               w.units
          FROM wanted w
         WHERE w.units > 0),
    walk AS (
        SELECT s.arrival,
               pg_catalog.sum(s.units) OVER (
                   ORDER BY s.source <> 'stock', s.arrival NULLS LAST, s.source <> 'issued', s.po_id
                   ROWS UNBOUNDED PRECEDING) AS units_upto
          FROM supply s)
    SELECT it.now_units,
           CASE WHEN it.now_units >= it.want THEN available_to_promise.as_of
                WHEN it.policy = 'deny'::backorder.stock_policy THEN NULL
                WHEN it.backorder_limit IS NOT NULL
                     AND it.backordered + (it.want - it.now_units) > it.backorder_limit THEN NULL
                ELSE (SELECT k.arrival FROM walk k
                       WHERE k.units_upto >= it.backordered + it.want
                       ORDER BY k.units_upto LIMIT 1)
           END
      FROM it;
END
$$;
COMMENT ON FUNCTION backorder.available_to_promise(text, bigint, timestamptz) IS
    'for a new order of qty units: available_now = units that could be allocated at once (free stock not claimed by waiting lines, at most qty); promise_at = as_of when all qty are available now, else the arrival (backorder.supply_schedule walk) of the unit that completes it after every unit already waiting, with the item''s supplier''s draft as the order would leave it; NULL when the item would refuse the order (deny policy, backorder_limit) or supply is short or its time unknown. An unknown sku, a NULL or qty <= 0 fails as an order line would (23503, 23502, 23514)';

CREATE FUNCTION backorder.simulate_receipt(sku text, qty bigint)
    RETURNS TABLE (line_id bigint, order_ref text, fill bigint, waiting_after bigint)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM backorder.check_sku_qty(simulate_receipt.sku, simulate_receipt.qty);
    RETURN QUERY
    WITH u AS (
        SELECT LEAST(i.backordered,
                     GREATEST(i.on_hand - i.allocated, 0) + simulate_receipt.qty) AS units
          FROM backorder.item i
         WHERE i.sku = simulate_receipt.sku)
    SELECT w.line_id, w.order_ref,
           LEAST(w.backordered_qty, u.units - w.before),
           w.backordered_qty - LEAST(w.backordered_qty, u.units - w.before)
      FROM (SELECT l.line_id, l.order_ref, l.backordered_qty,
                   (pg_catalog.sum(l.backordered_qty) OVER (ORDER BY l.line_id ROWS UNBOUNDED PRECEDING))::bigint
                       - l.backordered_qty AS before
              FROM backorder.order_line l
             WHERE l.sku = simulate_receipt.sku AND l.backordered_qty > 0
               AND l.line_id >= (SELECT i.queue_head FROM backorder.item i
                                  WHERE i.sku = simulate_receipt.sku)
             ORDER BY l.line_id
             -- each line takes at least one unit: the walk never reads more lines than units
             LIMIT (SELECT COALESCE(pg_catalog.max(u.units), 0) FROM u)) w, u
     WHERE w.before < u.units
     ORDER BY w.line_id;
END
$$;
COMMENT ON FUNCTION backorder.simulate_receipt(text, bigint) IS
    'the waiting lines a receipt of qty units of sku would fill, in queue order, changing nothing: fill = units the line would get (the last one possibly partially), waiting_after = its waiting units left; the receipt fills least(backordered, free stock + qty) units. An unknown sku, a NULL or qty <= 0 fails as a receipt would (23503, 23502, 23514)';

CREATE VIEW backorder.stock_status AS
SELECT i.sku, i.supplier_id, i.policy, i.on_hand, i.allocated, i.backordered, i.available, i.incoming,
       (SELECT pg_catalog.min(p.expected_at)
          FROM backorder.purchase_order_line pl
          JOIN backorder.purchase_order p ON p.po_id = pl.po_id
         WHERE pl.sku = i.sku AND p.status = 'issued'::backorder.po_status
           AND pl.qty > pl.received_qty) AS next_expected_at,
       CASE WHEN i.policy = 'preorder'::backorder.stock_policy THEN 'preorder'
            WHEN i.available > 0 THEN 'in_stock'
            WHEN i.policy = 'deny'::backorder.stock_policy THEN 'out_of_stock'
            WHEN i.backorder_limit IS NOT NULL AND i.backordered >= i.backorder_limit THEN 'out_of_stock'
            WHEN i.incoming > 0 OR su.lead_time IS NOT NULL THEN 'backorder'
            ELSE 'out_of_stock'
       END AS status
  FROM backorder.item i
  LEFT JOIN backorder.supplier su ON su.supplier_id = i.supplier_id;
COMMENT ON VIEW backorder.stock_status IS
    'per item its counters, the earliest expected_at of an issued purchase order still bringing units (next_expected_at), and status: preorder for preorder items; in_stock when available > 0; else out_of_stock for deny items and items at their backorder_limit; backorder when a restock is expected (incoming > 0, or the supplier has a lead_time); else out_of_stock';

-- Set-based ETAs: the running total of waiting units per sku (queue order) is matched
-- against the running total of supply per sku. Every window is partitioned by sku, so a
-- "WHERE sku = ..." on the view is pushed into both sides and walks one item's queue
-- through order_line_sku_idx from its queue_head; without it every item's queue is walked
-- that way, in (sku, line_id) order.
CREATE VIEW backorder.open_backorders AS
SELECT q.line_id, q.order_ref, q.sku, q.qty, q.waiting, q.placed_at,
       backorder.engine_now() - q.placed_at AS age,
       q.units_upto - q.waiting AS units_ahead,
       s.arrival AS eta
  FROM (SELECT l.line_id, l.order_ref, l.sku, l.qty, l.backordered_qty AS waiting, l.placed_at,
               (pg_catalog.sum(l.backordered_qty) OVER (PARTITION BY l.sku ORDER BY l.line_id
                                                        ROWS UNBOUNDED PRECEDING))::bigint AS units_upto
          FROM backorder.item i
          JOIN backorder.order_line l ON l.sku = i.sku AND l.line_id >= i.queue_head
         WHERE l.backordered_qty > 0) q
  LEFT JOIN backorder.supply_schedule(backorder.engine_now()) s
         ON s.sku = q.sku AND q.units_upto > s.units_before AND q.units_upto <= s.units_upto;
COMMENT ON VIEW backorder.open_backorders IS
    'every line with waiting units: waiting = backordered_qty, age = engine_now() - placed_at, units_ahead = units of the same sku waiting ahead of it in the queue, eta = what backorder.eta(line_id) returns (computed for all lines at once)';

CREATE VIEW backorder.ready_to_ship AS
SELECT l.line_id, l.order_ref, l.sku, l.allocated_qty, COALESCE(o.ship_complete, false) AS ship_complete
  FROM backorder.order_line l
  LEFT JOIN backorder.customer_order o ON o.order_ref = l.order_ref
 WHERE l.allocated_qty > 0
   AND (o.ship_complete IS NOT TRUE
        OR NOT EXISTS (SELECT 1 FROM backorder.order_line w
                        WHERE w.order_ref = l.order_ref AND w.backordered_qty > 0));
COMMENT ON VIEW backorder.ready_to_ship IS
    'lines whose allocated units can ship now: every line holding allocated units, except the lines of a ship_complete order while any line of that order still waits';

CREATE FUNCTION backorder.backorder_rate(placed_from timestamptz, placed_to timestamptz)
    RETURNS TABLE (sku text, lines_ordered bigint, units_ordered bigint,
                   lines_backordered bigint, units_backordered bigint, share_waiting numeric,
                   avg_wait interval, p90_wait interval)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT l.sku,
           pg_catalog.count(*),
           pg_catalog.sum(l.qty)::bigint,
           pg_catalog.count(*) FILTER (WHERE w.waited),
           COALESCE(pg_catalog.sum(w.units), 0)::bigint,
           pg_catalog.round(pg_catalog.count(*) FILTER (WHERE w.waited)::numeric
                            / pg_catalog.count(*), 4),
           pg_catalog.avg(l.allocated_at - l.placed_at)
               FILTER (WHERE w.waited AND l.allocated_at IS NOT NULL),
           pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY l.allocated_at - l.placed_at)
               FILTER (WHERE w.waited AND l.allocated_at IS NOT NULL)
      FROM backorder.order_line l
      -- the placement's events: a line's first events, which together account for its qty
      -- (a stock loss in the same transaction sends units back with the same time stamp)
      LEFT JOIN (SELECT e.line_id, e.at,
                        pg_catalog.sum(e.qty) FILTER (WHERE e.kind = 'line_backordered') AS units
                   FROM (SELECT e.line_id, e.at, e.kind, e.qty,
                                pg_catalog.sum(e.qty) OVER (PARTITION BY e.line_id ORDER BY e.event_id)
                                    AS upto
                           FROM backorder.event e
                          WHERE e.kind IN ('line_allocated', 'line_backordered')
                            AND e.at >= backorder_rate.placed_from AND e.at < backorder_rate.placed_to) e
                   JOIN backorder.order_line pl ON pl.line_id = e.line_id AND e.upto <= pl.qty
                  GROUP BY e.line_id, e.at) ev
             ON ev.line_id = l.line_id AND ev.at = l.placed_at
      CROSS JOIN LATERAL (
          SELECT CASE WHEN ev.line_id IS NOT NULL THEN COALESCE(ev.units, 0) > 0
                      ELSE l.allocated_at IS DISTINCT FROM l.placed_at END AS waited,
                 ev.units) w
     WHERE l.placed_at >= backorder_rate.placed_from AND l.placed_at < backorder_rate.placed_to
     GROUP BY l.sku;
END;
COMMENT ON FUNCTION backorder.backorder_rate(timestamptz, timestamptz) IS
    'per sku, over the lines placed in [placed_from, placed_to): lines and units ordered; lines_backordered = lines whose placement queued units, units_backordered = the units they queued then (the qty of the line''s line_backordered event among its first events, those at its placed_at that account for its qty: units lost later to a stock adjustment, even in the same transaction, are not counted); share_waiting = lines_backordered / lines_ordered; avg_wait and p90_wait (percentile_cont) = allocated_at - placed_at over backordered lines that are now fully allocated or shipped. A line whose events were purged counts as backordered when it was not fully allocated at placed_at (allocated_at null or later), with no units';

CREATE VIEW backorder.backorder_rate AS
SELECT r.sku, r.lines_ordered, r.units_ordered, r.lines_backordered, r.units_backordered,
       r.share_waiting, r.avg_wait, r.p90_wait
  FROM backorder.backorder_rate('-infinity'::timestamptz, 'infinity'::timestamptz) r;
COMMENT ON VIEW backorder.backorder_rate IS
    'backorder.backorder_rate(placed_from, placed_to) over all time';

CREATE FUNCTION backorder.supplier_performance(as_of timestamptz DEFAULT backorder.engine_now())
    RETURNS TABLE (supplier_id text, name text, pos_issued bigint, pos_received bigint,
                   avg_promised_lead interval, avg_actual_lead interval,
                   worst_actual_lead interval, late_deliveries bigint, units_outstanding bigint)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT su.supplier_id, su.name,
           pg_catalog.count(p.po_id) FILTER (WHERE p.issued_at IS NOT NULL),
           pg_catalog.count(p.po_id) FILTER (WHERE p.status = 'received'::backorder.po_status),
           pg_catalog.avg(p.expected_at - p.issued_at) FILTER (WHERE p.issued_at IS NOT NULL),
           pg_catalog.avg(p.received_at - p.issued_at)
               FILTER (WHERE p.status = 'received'::backorder.po_status),
           pg_catalog.max(p.received_at - p.issued_at)
               FILTER (WHERE p.status = 'received'::backorder.po_status),
           pg_catalog.count(p.po_id)
               FILTER (WHERE (p.status = 'received'::backorder.po_status
                              AND p.received_at > p.expected_at)
                          OR (p.status = 'issued'::backorder.po_status
                              AND p.expected_at < supplier_performance.as_of)),
           COALESCE(pg_catalog.sum(o.units), 0)::bigint
      FROM backorder.supplier su
      LEFT JOIN backorder.purchase_order p ON p.supplier_id = su.supplier_id
      LEFT JOIN (SELECT pl.po_id, pg_catalog.sum(pl.qty - pl.received_qty) AS units
                   FROM backorder.purchase_order ip
                   JOIN backorder.purchase_order_line pl ON pl.po_id = ip.po_id
                  WHERE ip.status = 'issued'::backorder.po_status AND pl.qty > pl.received_qty
                  GROUP BY pl.po_id) o ON o.po_id = p.po_id
     GROUP BY su.supplier_id, su.name;
END;
COMMENT ON FUNCTION backorder.supplier_performance(timestamptz) IS
    'per supplier: purchase orders issued (ever, cancelled ones included) and received; avg_promised_lead = avg(expected_at - issued_at) over issued orders; avg_actual_lead and worst_actual_lead = received_at - issued_at over received orders; late_deliveries = received orders received after expected_at plus issued orders still open at as_of past their expected_at; units_outstanding = open quantity (qty - received_qty) of issued orders';

CREATE VIEW backorder.supplier_performance AS
SELECT p.supplier_id, p.name, p.pos_issued, p.pos_received, p.avg_promised_lead, p.avg_actual_lead,
       p.worst_actual_lead, p.late_deliveries, p.units_outstanding
  FROM backorder.supplier_performance(backorder.engine_now()) p;
COMMENT ON VIEW backorder.supplier_performance IS
    'backorder.supplier_performance(as_of) at backorder.engine_now()';

-- Everything here reads as its caller, who needs SELECT on the tables (or views) anyway, and
-- the views call these functions as their caller too: so EXECUTE is granted to PUBLIC
-- explicitly, and the reports work for a role granted SELECT also where default privileges
-- keep EXECUTE on new functions from PUBLIC (a common hardening).
GRANT EXECUTE ON FUNCTION backorder.engine_now(), backorder.supply_schedule(timestamptz),
    backorder.eta(bigint, timestamptz), backorder.check_sku_qty(text, bigint),
    backorder.available_to_promise(text, bigint, timestamptz),
    backorder.simulate_receipt(text, bigint),
    backorder.backorder_rate(timestamptz, timestamptz),
    backorder.supplier_performance(timestamptz), backorder.verify() TO PUBLIC;
