-- shop_code.sql: what a shop adds to the engine's tables (here triggers on backorder.event)
-- runs when the engine writes those tables, as the tables' owner, on behalf of whichever role
-- inserted the ledger row. So it runs the way PostgreSQL runs a table owner's code for
-- another role: with search_path = pg_catalog, pg_temp (not the caller's), and as a
-- security-restricted operation.
--  1. a shop trigger function without a search_path that ends with pg_temp is refused
--     (the application role's look-alike tables, in its own schema or temporary, with
--     triggers of their own, would otherwise run as the owner);
--  2. written like a SECURITY DEFINER function (SET search_path = public, pg_temp), it writes
--     the shop's table even when the application has a temporary look-alike;
--  3. a deferred shop trigger on a table the engine writes is queued and fires later;
--  4. a shop's index expression that the engine's direct writes evaluate sees the engine's
--     search_path too.
-- Not checked: functions that a shop's CHECK, default or index expression calls (the README
-- says to write them as SECURITY DEFINER ones).
-- psql settings, BEGIN (this file ends with ROLLBACK), SET CONSTRAINTS ALL IMMEDIATE, pg_temp.ln/it/lid
\ir helpers.psql
SELECT plan(23);
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
CREATE TEMP TABLE outbox (event_id bigint, kind text, who text);
CREATE TRIGGER grab BEFORE INSERT ON pg_temp.outbox FOR EACH ROW EXECUTE FUNCTION sc_app.grab();

-- 1. the shop's trigger without a search_path of its own, or with one where pg_temp is not
-- last (then searched first): the engine's write refuses to run it
SET search_path = sc_app, public;
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc1', 'SC1', 1)$$,
                 '55000', 'trigger "to_outbox" on table "event" would run function public.to_outbox() as the owner of the backorder tables without a search_path of its own',
                 'a shop trigger function without a search_path of its own is refused');
RESET ROLE;
ALTER FUNCTION public.to_outbox() SET search_path = public;
SET ROLE sc_app;
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc1', 'SC1', 1)$$,
                 '55000', NULL, 'so is one whose search_path does not end with pg_temp');
SELECT is((SELECT count(*) FROM public.hijack_log), 0::bigint, 'the application''s look-alikes were not written');
SELECT is((SELECT count(*) FROM backorder.order_line WHERE order_ref = 'sc1'), 0::bigint, 'and the order was not taken');
RESET search_path;
RESET ROLE;

-- 2. written like a SECURITY DEFINER function: pg_temp last
ALTER FUNCTION public.to_outbox() SET search_path = public, pg_temp;
SET ROLE sc_app;
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

-- 3. a deferred shop trigger on a table the engine writes (an outbox filled at commit) is
-- queued by the engine's write (not refused, as in a security-restricted operation, where
-- PostgreSQL queues no deferred trigger) and fires at commit as the committing role, as any
-- deferred trigger does: written as a SECURITY DEFINER function, it writes as its owner
DELETE FROM public.outbox;
DROP TRIGGER to_outbox ON backorder.event;
ALTER FUNCTION public.to_outbox() SECURITY DEFINER;
CREATE CONSTRAINT TRIGGER to_outbox_at_commit AFTER INSERT ON backorder.event
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.to_outbox();
SET CONSTRAINTS backorder.to_outbox_at_commit DEFERRED;
SET ROLE sc_app;
SELECT lives_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc3', 'SC1', 1)$$,
                'a deferred shop trigger on event: the engine''s write queues it');
SELECT is((SELECT count(*) FROM public.outbox), 0::bigint, 'it has not fired yet');
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is((SELECT string_agg(kind || ' by ' || who, ',') FROM public.outbox),
          'line_allocated by ' || (SELECT relowner::regrole::text FROM pg_class WHERE oid = 'backorder.event'::regclass),
          'and fires when the constraints are checked (at commit), still as the application''s role: SECURITY DEFINER writes as its owner');
RESET ROLE;
DROP TRIGGER to_outbox_at_commit ON backorder.event;

-- 4. a shop's index expression evaluated by the engine's direct writes (here on the draft
-- lines, which the engine writes straight into the heap and its indexes) runs with the
-- engine's search_path too, not the application's
INSERT INTO backorder.supplier (supplier_id, po_min_qty) VALUES ('scs', 1000);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('SC2', 'scs');
CREATE FUNCTION public.path_checked(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF pg_catalog.current_setting('search_path') <> 'pg_catalog, pg_temp' THEN
        RAISE EXCEPTION 'the shop''s index expression ran with search_path %', pg_catalog.current_setting('search_path');
    END IF;
    RETURN t;
END $$;
CREATE INDEX shop_po_line_expr ON backorder.purchase_order_line (public.path_checked(sku));
SET ROLE sc_app;
SET search_path = sc_app, public;
SELECT lives_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc5', 'SC2', 2)$$,
                'an order that puts demand on a draft line indexed by a shop expression');
RESET search_path;
RESET ROLE;
SELECT is((SELECT qty FROM backorder.purchase_order_line WHERE sku = 'SC2'), 2::bigint, 'the draft line is there');
SELECT is((SELECT count(*) FROM backorder.purchase_order_line WHERE public.path_checked(sku) = 'SC2'), 1::bigint,
          'and found through the shop''s index expression');
DROP INDEX backorder.shop_po_line_expr;
-- 5. a shop trigger that a foreign-key action of the shop's runs (here a note per purchase
-- order, deleted with its draft when the engine drops the emptied draft) is checked too
INSERT INTO backorder.supplier (supplier_id, po_min_qty) VALUES ('scn', 1000);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('SC3', 'scn');
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc6', 'SC3', 1);
CREATE TABLE public.po_notes (po_id bigint REFERENCES backorder.purchase_order ON DELETE CASCADE, note text);
INSERT INTO public.po_notes SELECT po_id, 'call them' FROM backorder.purchase_order WHERE supplier_id = 'scn';
CREATE FUNCTION public.note_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO hijack_log VALUES ('note gone'); RETURN OLD; END $$;
CREATE TRIGGER note_gone AFTER DELETE ON public.po_notes FOR EACH ROW EXECUTE FUNCTION public.note_gone();
GRANT INSERT (line_id, qty) ON backorder.cancellation TO sc_app;
SET ROLE sc_app;
SELECT throws_ok(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, 1)', pg_temp.lid('sc6')),
                 '55000', 'trigger "note_gone" on table "po_notes" would run function public.note_gone() as the owner of the backorder tables without a search_path of its own',
                 'a shop trigger that a foreign-key cascade from the engine''s delete of an emptied draft would fire is refused');
RESET ROLE;
SELECT is((SELECT count(*) FROM public.po_notes), 1::bigint, 'the note and its draft stay');
DROP TABLE public.po_notes;

-- a table of the shop's that references itself (replies to notes) is checked once (it gave
-- an internal error), and its triggers on UPDATE are not in the way: the engine never changes
-- a key, so an ON UPDATE action never runs
CREATE TABLE public.po_notes2 (id int PRIMARY KEY,
    po_id bigint REFERENCES backorder.purchase_order ON DELETE CASCADE ON UPDATE CASCADE,
    reply_to int REFERENCES public.po_notes2 ON DELETE CASCADE);
INSERT INTO public.po_notes2 SELECT 1, po_id, NULL FROM backorder.purchase_order WHERE supplier_id = 'scn';
INSERT INTO public.po_notes2 SELECT 2, po_id, 1 FROM public.po_notes2 WHERE id = 1;
CREATE FUNCTION public.note_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER note_changed AFTER UPDATE ON public.po_notes2 FOR EACH ROW EXECUTE FUNCTION public.note_changed();
SET ROLE sc_app;
SELECT lives_ok(format('INSERT INTO backorder.cancellation (line_id, qty) VALUES (%s, 1)', pg_temp.lid('sc6')),
                'a self-referencing table of notes, with an UPDATE trigger: the emptied draft is dropped');
RESET ROLE;
SELECT is((SELECT count(*) FROM public.po_notes2), 0::bigint, 'and its notes went with it');
DROP TABLE public.po_notes2;

-- 6. a rule of the shop's on a table the engine writes is refused: the direct writes would
-- skip it, and through the executor it breaks the engine's own statements
CREATE TABLE public.ev_log (event_id bigint, kind text);
CREATE RULE ev_copy AS ON INSERT TO backorder.event DO ALSO INSERT INTO public.ev_log VALUES (NEW.event_id, NEW.kind);
SET ROLE sc_app;
SELECT throws_ok($$INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('sc7', 'SC1', 1)$$,
                 '55000', 'table "event" has a rule, and the engine does not write tables with rules',
                 'a shop rule on event is refused');
RESET ROLE;
SELECT is((SELECT count(*) FROM public.ev_log), 0::bigint, 'and nothing was copied');
DROP RULE ev_copy ON backorder.event;

SELECT is(pg_temp.it('SC1'), 'on_hand=100 alloc=3 back=0 incoming=0 avail=97', 'SC1 has only the orders that were taken');
SELECT is_empty($$SELECT * FROM backorder.verify()$$, 'verify() is empty');

SELECT * FROM finish();
ROLLBACK;
