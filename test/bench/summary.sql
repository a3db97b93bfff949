-- The results table (psql -v raw=<raw.txt> -v timeout=<s> -v nsku=<n> -v nbulk=<n>):
-- median per workload and variant; a run that hit the timeout counts as +infinity.
CREATE TEMP TABLE raw (w text, v text, rep int, val text);
COPY raw FROM :'raw';
-- cap: the timeout in the unit of the workload
CREATE TEMP TABLE workload (ord float8, w text, label text, unit text, cap float8);
INSERT INTO workload VALUES
    (1, 'uniform',    format('1 uniform, %s SKUs, 8 clients (tps)', :nsku), 'tps', NULL),
    (1.1, 'uniform_ref', '1b   ref: its 3 writes in 1 plain SQL statement (tps)', 'tps', NULL),
    (2, 'hot8',       '2 one hot SKU, 8 clients (tps)', 'tps', NULL),
    (2.1, 'hot8_ref', '2b   ref: bare 1-row UPDATE (tps)', 'tps', NULL),
    (3, 'hot32',      '3 one hot SKU, 32 clients (tps)', 'tps', NULL),
    (2.2, 'hot8_ref3', '2d   ref: its 3 writes in 1 plain SQL statement (tps)', 'tps', NULL),
    (3.1, 'hot32_ref', '3b   ref: bare 1-row UPDATE (tps)', 'tps', NULL),
    (3.2, 'hot32_ref3', '3d   ref: its 3 writes in 1 plain SQL statement (tps)', 'tps', NULL),
    (4, 'bulk1',      format('4a bulk %s lines, one SKU (ms)', :nbulk), 'ms', :timeout * 1e3),
    (5, 'bulk1small', format('4b bulk %s lines, one SKU (ms)', :nbulk / 10), 'ms', :timeout * 1e3),
    (6, 'bulkn',      format('4c bulk %s lines, %s SKUs (ms)', :nbulk, :nbulk), 'ms', :timeout * 1e3),
    (7, 'receipt',    format('5 receipt filling %s lines (us/line)', :nbulk), 'us', :timeout * 1e6 / :nbulk),
    (7.1, 'receipt_ref', '5b   ref: its event rows alone (us/line)', 'us', :timeout * 1e6 / :nbulk),
    (8, 'supplier_backorder', format('6a %s SKUs of one supplier, no stock, 8 clients (tps)', :nsku), 'tps', NULL),
    (9, 'supplier_stocked',   '6b the same SKUs, ample stock, 8 clients (tps)', 'tps', NULL),
    -- 10: 6a / 6b, below
    (11, 'mixed_hot',          '7a one hot SKU, 8 clients ordering (tps)', 'tps', NULL),
    (12, 'mixed_hot_receipts', '7b   while 1 client receives (tps)', 'tps', NULL),
    (13, 'hot32_sync',         '8a one hot SKU, 32 clients, sync commit (tps)', 'tps', NULL),
    (14, 'hot32_sync_ref',   '8b   ceiling: bare 1-row UPDATE (tps)', 'tps', NULL),
    (15, 'uniform_quiet',      '9a as 1, backorder.notify = off (tps)', 'tps', NULL),
    (16, 'hot32_quiet',        '9b as 3, backorder.notify = off (tps)', 'tps', NULL),
    (17, 'ship',               '10 shipments of 1 unit, 8 clients (tps)', 'tps', NULL);

CREATE FUNCTION pg_temp.fmt(x float8, unit text, cap float8) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN x = 'Infinity' AND unit = 'ms' THEN '>' || cap / 1000 || ' s'
                WHEN x = 'Infinity' THEN '>' || round(cap::numeric, 2)
                WHEN unit = 'tps' THEN round(x::numeric)::text
                WHEN unit = 'ms' THEN round(x::numeric, 1)::text
                ELSE round(x::numeric, 2)::text END $$;
-- a / b; when one of them hit the timeout only a bound is known
CREATE FUNCTION pg_temp.ratio(a float8, b float8, cap float8) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN a = 'Infinity' AND b = 'Infinity' THEN '?'
                WHEN b = 'Infinity' THEN '<' || round((a / cap)::numeric, 3)
                WHEN a = 'Infinity' THEN '>' || round((cap / b)::numeric, 1)
                ELSE round((a / b)::numeric, 2)::text END $$;

WITH med AS (
    SELECT w, v,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY CASE WHEN val = 'timeout' THEN 'Infinity'
                                                            WHEN val ~ '^[0-9.]+$' THEN val::float8 END) AS m,
           CASE WHEN bool_or(val = 'error') THEN 'error' ELSE min(val) END AS mark
      FROM raw GROUP BY w, v
), cell AS (
    SELECT wl.*, med.v, med.m,
           CASE WHEN med.mark = 'error' OR med.m IS NULL THEN med.mark ELSE pg_temp.fmt(med.m, wl.unit, wl.cap) END AS txt
      FROM workload wl JOIN med USING (w)
), tab AS (
    SELECT ord, label,
           max(txt) FILTER (WHERE v = 'plain')     AS plain,
           max(txt) FILTER (WHERE v = 'plbase')    AS plbase,
           max(txt) FILTER (WHERE v = 'backorder') AS backorder,
           -- a reference row (in the plain column) compares its workload's backorder with it
           pg_temp.ratio(CASE WHEN w ~ '_ref3?$'
                              THEN (SELECT m FROM med c
                                     WHERE c.w = regexp_replace(cell.w, '_ref3?$', '') AND c.v = 'backorder')
                              ELSE max(m) FILTER (WHERE v = 'backorder') END,
                         max(m) FILTER (WHERE v = 'plain'), cap) AS bp,
           pg_temp.ratio(max(m) FILTER (WHERE v = 'backorder'), max(m) FILTER (WHERE v = 'plbase'), cap) AS bb
      FROM cell GROUP BY ord, w, label, cap
    UNION ALL   -- (synchronous_commit off) a reference rate against the plain insert's
    -- (label 2b gives 2c, 2d gives 2e)
    SELECT wl.ord + 0.05, substr(wl.label, 1, 1) || chr(ascii(substr(wl.label, 2, 1)) + 1) || '   '
                          || substr(wl.label, 1, 2) || ' / plain', NULL, NULL, NULL,
           pg_temp.ratio(c.m, p.m, NULL), NULL
      FROM workload wl JOIN med c ON c.w = wl.w AND c.v = 'plain'
      JOIN med p ON p.w = regexp_replace(wl.w, '_ref3?$', '') AND p.v = 'plain'
     WHERE wl.w IN ('uniform_ref', 'hot8_ref', 'hot8_ref3', 'hot32_ref', 'hot32_ref3')
       AND c.m IS NOT NULL AND p.m IS NOT NULL
    UNION ALL   -- the purchase-order hot spot: supplier_backorder / supplier_stocked
    SELECT 10, '6c   6a / 6b (below 1: purchase orders cost)', NULL, NULL, pg_temp.ratio(a.m, b.m, NULL), NULL, NULL
      FROM med a JOIN med b ON b.v = a.v AND b.w = 'supplier_stocked'
     WHERE a.w = 'supplier_backorder' AND a.v = 'backorder' AND a.m IS NOT NULL AND b.m IS NOT NULL
)
SELECT label AS workload, plain, plbase, backorder, bp AS "backorder/plain", bb AS "backorder/plbase"
  FROM tab ORDER BY ord;
