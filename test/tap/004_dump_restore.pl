
# pg_dump / pg_restore of a database that uses backorder.
#
# The extension registers every table and sequence with pg_extension_config_dump, so a dump
# carries CREATE EXTENSION backorder plus all the rows. This test builds a state with every
# kind of ledger row and purchase orders in each state, dumps it (-Fc), restores it into a
# fresh database the way the README says (createdb, then pg_restore --single-transaction with
# session_replication_role = replica, so that the engine's triggers leave the restored rows
# exactly as they were dumped), and checks:
#  - pg_restore succeeds; without the setting it fails with a hint, and leaves nothing behind
#    with --single-transaction (a half-restored database without it);
#  - every table of the schema is identical row for row, and so is every sequence;
#  - verify() is empty on the restored database;
#  - new work in the restored database behaves exactly as the same work in the original:
#    line_ids (and the other ids) continue after the old ones, the supplier's existing draft
#    keeps buffering, and both databases end up identical, with verify() still empty.
#
# A restore without that setting must fail loudly (the guards refuse the maintained columns),
# never half-succeed silently: checked too.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use BackorderTest;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE shop');
# A day in the life of a small shop (shop_scenario.sql, shared with 002_hot_standby.pl).
build_shop($node, 'shop', 'the original');
is( $node->safe_psql(
		'shop', q{
SELECT (SELECT count(*) > 0 FROM backorder.shipment) AND (SELECT count(*) > 0 FROM backorder.cancellation)
   AND (SELECT count(*) > 0 FROM backorder.adjustment) AND (SELECT count(*) > 0 FROM backorder.event)
   AND (SELECT count(*) > 0 FROM backorder.customer_order)}),
	't',
	'the original has shipments, cancellations, adjustments, events and order headers');
verify_is_empty($node, 'shop', 'verify() is empty on the original');

my $dump = PostgreSQL::Test::Utils::tempdir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'shop', '-f', $dump ],
	'pg_dump -Fc of the database');

# Each table and sequence of the schema, as one line of text per table.
my @tables = split /\n/, $node->safe_psql(
	'shop', q{
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'backorder'::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY c.relname});
cmp_ok(scalar(@tables), '>=', 11, 'the schema has its tables');

sub table_digest
{
	my ($db, $table) = @_;
	return $node->safe_psql($db,
		qq{SELECT count(*) || ' rows, md5 ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-')
		     FROM backorder.$table t});
}

sub sequences
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT string_agg(format('%s=%s', sequencename, coalesce(last_value::text, 'unused')), ', ' ORDER BY sequencename)
		    FROM pg_sequences WHERE schemaname = 'backorder'});
}

sub same_databases
{
	my ($a, $b, $what) = @_;
	my @different;
	for my $t (@tables)
	{
		my ($da, $db) = (table_digest($a, $t), table_digest($b, $t));
		push @different, "$t ($a: $da; $b: $db)" if $da ne $db;
	}
	is(join('; ', @different), '', "$what: every table is identical row for row");
	is(sequences($b), sequences($a), "$what: every sequence is where it was");
}

# The same new work, with the same engine clock, in any database.
my $new_work = q{
SET backorder.clock = '2026-02-01 10:00+00';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('n-1', 'A', 7), ('n-2', 'B', 2);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('n-3', 'D', 5);
INSERT INTO backorder.receipt (sku, qty) VALUES ('A', 4), ('C', 2);
INSERT INTO backorder.shipment (line_id, qty)
SELECT line_id, allocated_qty FROM backorder.order_line WHERE order_ref = 'o-2';
INSERT INTO backorder.cancellation (line_id) SELECT line_id FROM backorder.order_line WHERE order_ref = 'o-5';
INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('F', -2, 'stock count');
};

my $old_max = $node->safe_psql('shop', 'SELECT max(line_id) FROM backorder.order_line');
my $old_draft = $node->safe_psql('shop',
	q{SELECT po_id FROM backorder.purchase_order p WHERE supplier_id = 'ACME' AND status = 'draft'});

# The original gets the new work only after both restores were compared to it.
my @restores = (
	[
		'restored_replica', 'pg_restore with session_replication_role = replica',
		{ PGOPTIONS => '-c session_replication_role=replica' }
	]);
for my $r (@restores)
{
	my ($db, $how, $env) = @$r;
	# command_ok runs the command with PGHOST and PGPORT of the node
	$node->command_ok([ 'createdb', $db ], "createdb $db");
	{
		local %ENV = (%ENV, %$env);
		$node->command_ok([ 'pg_restore', '--single-transaction', '-d', $db, $dump ],
			"$how into a fresh database succeeds");
	}
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'backorder'}),
		$node->safe_psql('shop', q{SELECT extversion FROM pg_extension WHERE extname = 'backorder'}),
		"$how: the dump recreated the extension");
	same_databases('shop', $db, $how);
	verify_is_empty($node, $db, "$how: verify() is empty on the restored database");
}

# Without session_replication_role = replica the engine's guards refuse the dumped rows
# (maintained columns written by COPY): pg_restore fails and says why and what to do. With
# --single-transaction, as the README restores, the failure leaves nothing behind; without
# it pg_restore goes on past the errors and leaves the tables whose rows the guards let in
# (suppliers, events), which is why the README says to use it.
$node->command_ok([ 'createdb', 'restored_plain' ], 'createdb restored_plain');
$node->command_fails_like(
	[ 'pg_restore', '--single-transaction', '-d', 'restored_plain', $dump ],
	qr/is maintained by backorder.*\n.*(?:\n.*)*session_replication_role=replica/,
	'a restore without session_replication_role = replica fails, with a hint');
is( $node->safe_psql(
		'restored_plain',
		q{SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'backorder') + }
		  . q{(SELECT count(*) FROM pg_namespace WHERE nspname = 'backorder')}),
	'0',
	'... and with --single-transaction it leaves no extension, schema or rows behind');
$node->command_ok([ 'createdb', 'restored_half' ], 'createdb restored_half');
$node->command_fails([ 'pg_restore', '-d', 'restored_half', $dump ],
	'without --single-transaction the failing restore goes on past its errors ...');
is( $node->safe_psql(
		'restored_half',
		q{SELECT (SELECT count(*) > 0 FROM backorder.event) AND }
		  . q{(SELECT count(*) = 0 FROM backorder.order_line)}),
	't',
	'... and leaves events without their lines, as the README warns');
is( $node->safe_psql(
		'restored_half',
		q{SELECT count(*) = (SELECT count(*) FROM backorder.event WHERE line_id IS NOT NULL) }
		  . q{FROM backorder.verify() WHERE invariant = 'event line'}),
	't',
	'... which verify() reports, one row per event of a missing line');

# New work, the same in the original and in each restored copy.
for my $db ('shop', map { $_->[0] } @restores)
{
	my ($rc, $out, $err) = $node->psql($db, $new_work, on_error_stop => 1);
	is($rc, 0, "$db: new orders, receipts, shipments, cancellations and adjustments work")
	  or diag($err);
}
for my $r (@restores)
{
	my ($db, $how) = @$r;
	cmp_ok(
		$node->safe_psql($db, q{SELECT min(line_id) FROM backorder.order_line WHERE order_ref LIKE 'n-%'}),
		'>', $old_max, "$how: new line_ids continue after the old ones");
	is( $node->safe_psql(
			$db,
			q{SELECT string_agg(order_ref, ',' ORDER BY line_id) FROM backorder.order_line WHERE line_id > }
			  . $old_max),
		'n-1,n-2,n-3',
		"$how: and in the order the lines were placed");
	# The supplier's draft held B 3; the new work adds 2 waiting units of B and 2 of A
	# (rounded up to A's pack of 5): 10 units reach ACME's po_min_qty, so that same
	# purchase order is issued, and no other one appears.
	is( $node->safe_psql(
			$db, q{
SELECT string_agg(format('%s %s %s', p.po_id, p.status, (SELECT string_agg(l.sku || '=' || l.qty, ' ' ORDER BY l.sku)
                                                          FROM backorder.purchase_order_line l WHERE l.po_id = p.po_id)),
                  ', ' ORDER BY p.po_id)
  FROM backorder.purchase_order p WHERE p.supplier_id = 'ACME' AND p.po_id >= } . $old_draft),
		"$old_draft issued A=5 B=5",
		"$how: new demand for the supplier goes to its existing draft, which is then issued");
	same_databases('shop', $db, "$how, after the same new work in both");
	verify_is_empty($node, $db, "$how: verify() is still empty");
}
verify_is_empty($node, 'shop', 'verify() is still empty on the original');

$node->stop;
done_testing();
