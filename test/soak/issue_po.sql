-- test/soak/issue_po.sql: the scheduler's call: issue the drafts that are due.
-- It must never fail; any error is caught here only so that one failing call does not
-- abort the pgbench client (and the rest of the soak): it is recorded in soak_caught with
-- its message, and the test asserts that there is none.
DO $$
DECLARE
    n int;
BEGIN
    SELECT count(*) INTO n FROM backorder.issue_due_purchase_orders();
EXCEPTION WHEN OTHERS THEN
    INSERT INTO soak_caught (script, sqlstate, message) VALUES ('issue_po', SQLSTATE, SQLERRM);
END $$;
