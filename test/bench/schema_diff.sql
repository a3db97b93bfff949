-- Columns, indexes and constraints in which the tables of plbase and backorder differ
-- (names of the schemas stripped); none expected but plbase's own queue index.
WITH d AS (
    SELECT n.nspname AS v, c.relname AS t, 'column ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END AS def
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r'
    UNION ALL
    SELECT n.nspname, c.relname, 'index ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    UNION ALL
    SELECT n.nspname, c.relname, 'constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE k.contype <> 't'   -- constraint triggers are the engine's, not the table's
), s AS (
    SELECT v, t, regexp_replace(def, '\m(plbase|backorder)\.', '', 'g') AS def FROM d
     WHERE v IN ('plbase', 'backorder') AND t IN (SELECT tablename FROM pg_tables WHERE schemaname = 'plbase')
)
SELECT 'only in ' || v || ': ' || t || ' ' || def FROM s
 WHERE NOT EXISTS (SELECT 1 FROM s s2 WHERE s2.t = s.t AND s2.def = s.def AND s2.v <> s.v)
   AND def NOT LIKE 'index CREATE INDEX order_line_queue_idx %'   -- plbase's queue (plbase.sql)
 ORDER BY 1;
