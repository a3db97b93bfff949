
# Scheduling the purchase-order buffer with pg_cron.
#
# A draft purchase order is issued at once when it reaches its supplier's po_min_qty; a draft
# that stays below it is issued once its oldest demand has waited the supplier's po_max_wait,
# by backorder.issue_due_purchase_orders(), which something has to call now and then. With
# pg_cron (Debian: postgresql-15-cron) a shop schedules it like this:
#
#   -- postgresql.conf (pg_cron must be preloaded; it runs its jobs in one database)
#   shared_preload_libraries = 'pg_cron'
#   cron.database_name = 'shop'            -- the database where backorder is installed
#
#   -- in database shop, as a role that may execute backorder.issue_due_purchase_orders
#   -- (EXECUTE is revoked from PUBLIC; the job runs as the role that scheduled it)
#   CREATE EXTENSION pg_cron;
#   SELECT cron.schedule('backorder-issue', '* * * * *',
#                        'SELECT backorder.issue_due_purchase_orders()');
#   -- what it did:  SELECT * FROM cron.job_run_details ORDER BY start_time DESC LIMIT 10;
#   -- to stop it:   SELECT cron.unschedule('backorder-issue');
#
# pg_cron 1.4 has a granularity of one minute, so a draft is issued at most about a minute
# after it became due. This test waits (up to ~90 s plus slack) for the first run to issue a
# due draft, and checks that the run succeeded and that a draft that is not due yet stayed
# a draft.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use BackorderTest;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
# pg_cron runs each job through a libpq connection to cron.host; the test server listens
# on a Unix socket only, so point cron.host at the socket directory.
my $host = $node->host;
# backorder is preloaded too (its notifier next to pg_cron's scheduler)
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_cron,$PRELOAD'
cron.database_name = 'postgres'
cron.host = '$host'
));
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_cron;
CREATE EXTENSION backorder;
-- DUE: far below its minimum, but demand may wait only one second
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty, po_max_wait)
VALUES ('DUE', 'Due Supplies', '4 days', 100000, '1 second'),
       ('LATER', 'Later Ltd', '4 days', 100000, '1 day');
INSERT INTO backorder.item (sku, supplier_id) VALUES ('cron-widget', 'DUE'), ('cron-gadget', 'LATER');
INSERT INTO backorder.receipt (sku, qty) VALUES ('cron-widget', 2);
});
# Each order commits on its own: at commit the backordered units go to the supplier's draft.
$node->safe_psql('postgres',
	q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('cron-1', 'cron-widget', 5)});
$node->safe_psql('postgres',
	q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('cron-2', 'cron-gadget', 3)});

my $due_po = $node->safe_psql('postgres',
	q{SELECT po_id FROM backorder.purchase_order WHERE supplier_id = 'DUE' AND status = 'draft'});
my $later_po = $node->safe_psql('postgres',
	q{SELECT po_id FROM backorder.purchase_order WHERE supplier_id = 'LATER' AND status = 'draft'});
like($due_po, qr/^\d+$/, 'the backordered order created a draft purchase order');
like($later_po, qr/^\d+$/, 'and so did the order for the other supplier');
is( $node->safe_psql(
		'postgres', qq{SELECT qty FROM backorder.purchase_order_line WHERE po_id = $due_po AND sku = 'cron-widget'}),
	'3', 'the draft covers the 3 waiting units');

my $jobid = $node->safe_psql('postgres',
	q{SELECT cron.schedule('backorder-issue', '* * * * *', 'SELECT backorder.issue_due_purchase_orders()')});
like($jobid, qr/^\d+$/, 'the job is scheduled');
my $scheduled_at = time;

# Wait for a run of the job to finish and for the draft to be issued: at most a minute
# until the next minute boundary, plus the run itself.
# A failed run ends the wait (the next ones would fail the same way).
my ($issued, $ran, $failed) = ('', 0, 0);
while (time - $scheduled_at < 100)
{
	($ran, $failed) = split /\|/, $node->safe_psql('postgres',
		qq{SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')), count(*) FILTER (WHERE status = 'failed')
		     FROM cron.job_run_details WHERE jobid = $jobid});
	$issued = $node->safe_psql('postgres',
		qq{SELECT status FROM backorder.purchase_order WHERE po_id = $due_po});
	last if $ran > 0 && ($issued ne 'draft' || $failed > 0);
	usleep(500_000);
}
note sprintf('waited %d s for pg_cron', time - $scheduled_at);
note $node->safe_psql('postgres',
	qq{SELECT string_agg(format('run %s: %s, %s', runid, status, return_message), E'\\n' ORDER BY runid)
	     FROM cron.job_run_details WHERE jobid = $jobid});

cmp_ok($ran, '>', 0, 'pg_cron ran the job');
is( $node->safe_psql(
		'postgres',
		qq{SELECT status FROM cron.job_run_details WHERE jobid = $jobid ORDER BY runid LIMIT 1}),
	'succeeded',
	'its first run succeeded');
is($issued, 'issued', 'the due draft was issued by the scheduled job');
is( $node->safe_psql(
		'postgres', qq{SELECT expected_at - issued_at FROM backorder.purchase_order WHERE po_id = $due_po}),
	'4 days',
	'expected_at is issued_at plus the lead time');
is( $node->safe_psql(
		'postgres', qq{SELECT count(*) FROM backorder.event WHERE kind = 'po_issued' AND po_id = $due_po}),
	'1',
	'a po_issued event was written');
is( $node->safe_psql(
		'postgres', qq{SELECT status FROM backorder.purchase_order WHERE po_id = $later_po}),
	'draft',
	'a draft whose demand may still wait stays a draft');
is( $node->safe_psql(
		'postgres', q{SELECT incoming FROM backorder.item WHERE sku = 'cron-widget'}),
	'3',
	'the issued purchase order still counts as incoming');
verify_is_empty($node, 'postgres', 'verify() is empty');

is($node->safe_psql('postgres', q{SELECT cron.unschedule('backorder-issue')}),
	't', 'the job is unscheduled');

$node->stop;
done_testing();
