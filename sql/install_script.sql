-- Checks on the install script itself (PostgreSQL's rules for extension scripts).
-- Each query lists offenders: an empty result is the pass.

-- every table and sequence holding shop data is dumped by pg_dump (pg_extension_config_dump)
SELECT c.relname AS not_dumped
  FROM pg_depend d
  JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'backorder'
 WHERE d.deptype = 'e' AND c.relkind IN ('r', 'S')
   AND c.oid <> ALL (e.extconfig)
 ORDER BY 1;

-- SECURITY DEFINER functions pin their search_path (none today; any new one must)
SELECT p.proname AS definer_without_search_path
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'backorder' AND p.prosecdef
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
 ORDER BY 1;

-- SQL functions are parsed at creation (BEGIN ATOMIC) or pin their search_path
SELECT p.proname AS sql_function_open_to_search_path
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang AND l.lanname IN ('sql', 'plpgsql')
 WHERE n.nspname = 'backorder' AND p.prosqlbody IS NULL
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
 ORDER BY 1;

-- functions that change data or issue purchase orders are not executable by PUBLIC
SELECT p.proname AS public_may_execute
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'backorder'
   AND p.proname IN ('issue_due_purchase_orders', 'cancel_purchase_order', 'purge_events')
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1;

-- PUBLIC has no privilege on any table of the extension
SELECT c.relname AS public_privilege
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'backorder'
 WHERE c.relkind IN ('r', 'v', 'S')
   AND (c.relacl IS NOT NULL AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0))
 ORDER BY 1;

-- every version a server may have installed has an update path to the default version
SELECT a.version AS no_update_path
  FROM pg_available_extension_versions a, pg_available_extensions x
 WHERE a.name = 'backorder' AND x.name = 'backorder' AND a.version <> x.default_version
   AND NOT EXISTS (SELECT 1 FROM pg_extension_update_paths('backorder') p
                    WHERE p.source = a.version AND p.target = x.default_version AND p.path IS NOT NULL);
ALTER EXTENSION backorder UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'backorder')
       AS at_default_version
  FROM pg_extension WHERE extname = 'backorder';
