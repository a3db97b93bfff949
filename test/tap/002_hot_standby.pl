
# Reports on a hot standby: a primary with the extension and a streaming replica.
#  - every report view of the contract and every read-only function returns on the standby
#    what it returns on the primary (a view that does not exist yet is skipped by name, so
#    this test tightens by itself as the views arrive);
#  - verify() is empty on both;
#  - writing to the ledger on the standby fails cleanly with SQLSTATE 25006
#    (read-only transaction), and so does issuing purchase orders; the standby keeps
#    serving and keeps following the primary afterwards.
#
# Reports that depend on "now" (ages, ETAs, promise dates) use the engine's clock, so both
# sides are queried with the same backorder.clock and compared in full, row for row.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use BackorderTest;

my @report_views =
  qw(stock_status open_backorders ready_to_ship backorder_rate supplier_performance);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;

# A day in the life of a small shop (shop_scenario.sql, shared with 004_dump_restore.pl).
build_shop($primary, 'postgres', 'the primary');
verify_is_empty($primary, 'postgres', 'verify() is empty on the primary');

# The standby: a base backup of the primary, streaming from it.
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# More work after the backup, so the standby has to replay it through streaming.
$primary->safe_psql('postgres', q{
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o-7', 'C', 4), ('o-7', 'E', 2);
INSERT INTO backorder.receipt (sku, qty) VALUES ('F', 2);
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'the standby is in recovery');
is( $standby->safe_psql('postgres', q{SELECT count(*) FROM backorder.order_line WHERE order_ref = 'o-7'}),
	'2', 'the standby replayed the work done after the base backup');

# One query text per relation: its rows as text, sorted.
sub rows_query
{
	my ($rel) = @_;
	return qq{SELECT coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')
  FROM backorder.$rel r};
}

# Both sides answer as of the same engine time (backorder.clock), so that results that
# depend on "now" (an ETA, a promise date) can be compared.
sub same_on_both
{
	my ($sql, $name, $nonempty) = @_;
	$sql = "SET backorder.clock = '2026-01-21 10:00+00';\n$sql";
	my $p = $primary->safe_psql('postgres', $sql);
	my ($rc, $s, $err) = (0, '', '');
	$rc = $standby->psql('postgres', $sql, stdout => \$s, stderr => \$err);
	if ($rc != 0)
	{
		fail("$name: runs on the standby");
		diag($err);
		return;
	}
	is($s, $p, "$name: the standby returns what the primary returns");
	if ($nonempty)
	{
		isnt($s, '', "$name: has rows");
	}
}

# The tables themselves.
for my $t (
	qw(supplier item customer_order order_line receipt shipment cancellation adjustment
	purchase_order purchase_order_line event))
{
	same_on_both(rows_query($t), "table $t", 1);
}

# The report views: those that exist are compared, the others are skipped by name.
for my $v (@report_views)
{
	my $exists = $primary->safe_psql('postgres',
		qq{SELECT to_regclass('backorder.$v') IS NOT NULL});
  SKIP:
	{
		skip "view backorder.$v does not exist yet", 2 unless $exists eq 't';
		same_on_both(rows_query($v), "view $v", 1);
	}
}

# The read-only functions of the contract (by name, with their default arguments), where
# they exist.
my @functions = (
	[ 'verify', 'SELECT count(*) FROM backorder.verify()' ],
	[
		'eta',
		q{SELECT coalesce(string_agg(line_id || '=' || coalesce(backorder.eta(line_id)::text, 'null'), ',' ORDER BY line_id), '')
		    FROM backorder.order_line}
	],
	[
		'available_to_promise',
		q{SELECT string_agg(sku || ':' || coalesce((SELECT string_agg(r::text, ';' ORDER BY r::text)
		                                               FROM backorder.available_to_promise(sku, 5) r), ''), ',' ORDER BY sku)
		    FROM backorder.item}
	],
	[
		'simulate_receipt',
		q{SELECT string_agg(sku || ':' || coalesce((SELECT string_agg(r::text, ';' ORDER BY r::text)
		                                               FROM backorder.simulate_receipt(sku, 4) r), ''), ',' ORDER BY sku)
		    FROM backorder.item}
	],
	[
		'supply_schedule',
		q{SELECT coalesce(string_agg(r::text, E'\n' ORDER BY r::text), '') FROM backorder.supply_schedule() r}
	]);
for my $f (@functions)
{
	my ($sig, $sql) = @$f;
	my $exists = $primary->safe_psql('postgres',
		qq{SELECT count(*) > 0 FROM pg_proc WHERE pronamespace = 'backorder'::regnamespace AND proname = '$sig'});
  SKIP:
	{
		skip "function backorder.$sig does not exist yet", 1 unless $exists eq 't';
		same_on_both($sql, "function backorder.$sig", 0);
	}
}
verify_is_empty($standby, 'postgres', 'verify() is empty on the standby');

# Writes on the standby fail cleanly: SQLSTATE 25006, nothing else.
sub fails_read_only
{
	my ($sql, $name) = @_;
	my ($out, $err) = ('', '');
	my $rc = $standby->psql(
		'postgres', "\\set VERBOSITY verbose\n$sql",
		stdout => \$out,
		stderr => \$err);
	ok($rc != 0 && $err =~ /ERROR:\s+25006:/, "$name on the standby fails with 25006")
	  or diag("exit code $rc, stderr: $err");
}
fails_read_only(q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('standby-1', 'A', 1)},
	'an order');
fails_read_only(q{INSERT INTO backorder.receipt (sku, qty) VALUES ('C', 1)}, 'a receipt');
fails_read_only(q{INSERT INTO backorder.cancellation (line_id) SELECT min(line_id) FROM backorder.order_line WHERE backordered_qty > 0},
	'a cancellation');
fails_read_only(q{BEGIN; INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('standby-2', 'B', 1); COMMIT;},
	'an order in an explicit transaction');
fails_read_only(q{SELECT * FROM backorder.issue_due_purchase_orders('2030-01-01')},
	'issue_due_purchase_orders()');

# The standby still serves and still follows the primary.
$primary->safe_psql('postgres',
	q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('o-8', 'A', 2)});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is( $standby->safe_psql(
		'postgres',
		q{SELECT string_agg(order_ref, ',' ORDER BY line_id) FROM backorder.order_line WHERE order_ref IN ('o-8', 'standby-1', 'standby-2')}),
	'o-8',
	'the standby follows the primary, and its failed writes left nothing');
same_on_both(rows_query('item'), 'table item after more work', 1);
verify_is_empty($standby, 'postgres', 'verify() is still empty on the standby');

$standby->stop;
$primary->stop;
done_testing();
