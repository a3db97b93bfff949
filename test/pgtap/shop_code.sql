-- shop_code.sql: what a shop adds to the engine's tables (here triggers on backorder.event)
-- runs when the engine writes those tables, as the tables' owner, on behalf of whichever role
-- inserted the ledger row. So it runs the way PostgreSQL runs a table owner's code for
-- another role: with search_path = pg_catalog, pg_temp (not the caller's), and as a
-- security-restricted operation.
--  1. a shop trigger naming its table without a schema fails instead of writing a look-alike
--     table of the application role's own schema (whose trigger would run as the owner);
--  2. written like a SECURITY DEFINER function (SET search_path = public, pg_temp), it writes
--     the shop's table even when the application has a temporary look-alike;
--  3. it cannot create temporary tables (security-restricted; changing the role is refused
--     anyway, as in a SECURITY DEFINER function).
-- psql settings, BEGIN (this file ends with ROLLBACK), SET CONSTRAINTS ALL IMMEDIATE, pg_temp.ln/it/lid
\ir helpers.psql
SELECT plan(11);
SET backorder.clock = '2026-03-01 08:00+00';

CREATE ROLE sc_app;
GRANT USAGE ON SCHEMA backorder TO sc_app;
GRANT SELECT ON ALL TABLES IN SCHEMA backorder TO sc_app;
GRANT INSERT (order_ref, sku, qty) ON backorder.order_line TO sc_app;
CREATE SCHEMA sc_app AUTHORIZATION sc_app;
INSERT INTO backorder.item (sku) VALUES ('SC1');
INSERT INTO backorder.receipt (sku, qty) VALUES ('SC1', 100);
CREATE TABLE public.hijack_log (who text);
GRANT INSERT, SELECT ON public.hijack_log TO PUBLIC;
CREATE TABLE public.outbox (event_id bigint, kind text, who text);
GRANT SELECT ON public.outbox TO PUBLIC;
CREATE FUNCTION public.to_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO outbox VALUES (NEW.event_id, NEW.kind, current_user); RETURN NULL; END $$;
CREATE TRIGGER to_outbox AFTER INSERT ON backorder.event FOR EACH ROW EXECUTE FUNCTION public.to_outbox();

-- the application role's look-alikes: a table "outbox" in its own schema and a temporary one,
-- each with a trigger that logs who ran it
SET ROLE sc_app;
CREATE FUNCTION sc_app.grab() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.hijack_log VALUES (current_user); RETURN NEW; END $$;
CREATE TABLE sc_app.outbox (event_id bigint, kind text, who text);
CREATE TRIGGER grab BEFORE INSERT ON sc_app.outbox FOR EACH ROW EXECUTE FUNCTION sc_app.grab();

-- 1. the shop's trigger without a search_path of its own
SET search_path = sc_app, public;
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc1', 'SC1', 1)$$,
                 '42P01', 'relation "outbox" does not exist',
                 'a shop trigger naming its table without a schema fails: the engine''s write runs with search_path pg_catalog, pg_temp');
SELECT is((SELECT count(*) FROM public.hijack_log), 0::bigint, 'the application''s look-alike was not written');
SELECT is((SELECT count(*) FROM backorder.order_line WHERE order_ref = 'sc1'), 0::bigint, 'and the order was not taken');
RESET search_path;
RESET ROLE;

-- 2. written like a SECURITY DEFINER function: pg_temp last
ALTER FUNCTION public.to_outbox() SET search_path = public, pg_temp;
SET ROLE sc_app;
CREATE TEMP TABLE outbox (event_id bigint, kind text, who text);
CREATE TRIGGER grab BEFORE INSERT ON pg_temp.outbox FOR EACH ROW EXECUTE FUNCTION sc_app.grab();
SET search_path = sc_app, public;
SELECT lives_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc2', 'SC1', 2)$$,
                'with search_path = public, pg_temp the shop''s trigger works for the application''s order');
RESET search_path;
SELECT is((SELECT count(*) FROM public.hijack_log), 0::bigint, 'neither look-alike was written');
SELECT is((SELECT count(*) FROM pg_temp.outbox), 0::bigint, 'the temporary one stays empty');
RESET ROLE;
SELECT is((SELECT string_agg(kind || ' by ' || who, ', ') FROM public.outbox),
          'line_allocated by ' || (SELECT relowner::regrole::text FROM pg_class WHERE oid = 'backorder.event'::regclass),
          'the shop''s outbox has the order''s event, written as the tables'' owner');
SELECT is(pg_temp.ln('sc2'), 'qty=2 alloc=2 back=0 ship=0 canc=0 allocated', 'the order was taken');

-- 3. security-restricted: no temporary tables
CREATE FUNCTION public.make_temp() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN CREATE TEMP TABLE IF NOT EXISTS scratch (n int); RETURN NULL; END $$;
CREATE TRIGGER make_temp AFTER INSERT ON backorder.event FOR EACH ROW EXECUTE FUNCTION public.make_temp();
SET ROLE sc_app;
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc3', 'SC1', 1)$$,
                 '42501', 'cannot create temporary table within security-restricted operation',
                 'a shop trigger fired by the engine''s write cannot create a temporary table');
RESET ROLE;
DROP TRIGGER make_temp ON backorder.event;
SELECT is(pg_temp.it('SC1'), 'on_hand=100 alloc=2 back=0 incoming=0 avail=98', 'SC1 has only the order that was taken');
SELECT is_empty($$SELECT * FROM backorder.verify()$$, 'verify() is empty');

SELECT * FROM finish();
ROLLBACK;
