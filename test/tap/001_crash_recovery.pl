
# Crash recovery: kill -9 the postmaster in the middle of a mixed load and check that
#  - every order line whose commit a client saw acknowledged survived the crash,
#  - the engine's invariants (backorder.verify()) hold after recovery,
#  - no event row outlived its order line (events are written in the line's transaction),
#  - the btree indexes of the extension's tables are sound (amcheck),
#  - the engine keeps working afterwards (line_ids keep growing, verify() stays empty).
#
# The load is a few psql sessions, each running a long script in autocommit mode with
# synchronous_commit = on. After each order INSERT the script prints "ack <order_ref>" when
# the statement succeeded (psql runs \echo only once the server has answered, i.e. after the
# commit was flushed), or "fail <order_ref>" when it did not. Receipts, shipments,
# cancellations and adjustments are mixed in; the guarded ones pick their line with a SELECT
# and may insert nothing, or fail on a race with another session (BO003/BO004/BO006): those
# errors are expected and only counted.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use BackorderTest;

my $SESSIONS      = $ENV{CRASH_SESSIONS}   // 4;
my $STATEMENTS    = $ENV{CRASH_STATEMENTS} // 20000;    # per session; the kill comes first
my $ACKS_BEFORE_KILL = $ENV{CRASH_ACKS}    // 3000;
my $MIN_LOAD_SECONDS = 3;
my $MAX_LOAD_SECONDS = 120;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# Cluster.pm turns fsync off for speed; a crash test wants the real thing (a kill -9 of
# the server does not lose the OS cache anyway, but this keeps the test honest). backorder is
# preloaded, so its notifier worker is busy sending notifications when the server dies.
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = '$PRELOAD'
fsync = on
synchronous_commit = on
max_connections = 30
restart_after_crash = off
log_min_messages = warning
));
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION backorder;
CREATE EXTENSION amcheck;
INSERT INTO backorder.supplier (supplier_id, name, lead_time, po_min_qty, po_max_wait)
VALUES ('ACME', 'Acme', '3 days', 40, '1 hour'),
       ('SLOW', 'Slow Ltd', '2 weeks', 100000, '1 day');
INSERT INTO backorder.item (sku, supplier_id, policy, pack_size) VALUES
    ('HOT',   'ACME', 'backorder', 5),
    ('SKU-1', 'ACME', 'backorder', 1),
    ('SKU-2', 'ACME', 'backorder', 10),
    ('SKU-3', 'SLOW', 'backorder', 1),
    ('SKU-4', 'SLOW', 'preorder',  1),
    ('SKU-5', NULL,   'backorder', 1),
    ('SKU-6', NULL,   'backorder', 1);
INSERT INTO backorder.receipt (sku, qty) SELECT sku, 25 FROM backorder.item;
});

my @skus = map { "SKU-$_" } 1 .. 6;

# A skewed choice: the hot item half of the time, the others uniformly.
sub pick_sku
{
	return rand() < 0.5 ? 'HOT' : $skus[ int(rand(@skus)) ];
}

# One order INSERT of the given lines ([order_ref, sku, qty] each), one transaction, then
# "ack <order_refs>" when it succeeded or "fail <order_refs>" when it did not.
sub order_statement
{
	my @lines = @_;
	my $values = join(', ', map { "('$_->[0]', '$_->[1]', $_->[2])" } @lines);
	my $refs = join(' ', map { $_->[0] } @lines);
	return "INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES $values;\n"
	  . "\\if :ERROR\n\\echo fail $refs\n\\else\n\\echo ack $refs\n\\endif\n";
}

# The script of one session.
sub session_script
{
	my ($s) = @_;
	my $sql = "\\set VERBOSITY sqlstate\n";
	for my $i (1 .. $STATEMENTS)
	{
		my $r   = rand();
		my $sku = pick_sku();
		if ($r < 0.50)
		{
			my $qty = 1 + int(rand(4));
			$sql .= order_statement([ "s$s-$i", $sku, $qty ]);
		}
		elsif ($r < 0.58)
		{
			# two lines in one statement: one transaction, both acknowledged together.
			# Lines in sku order, as a shop should write them: each line locks its item
			# until commit, so two orders naming the same two items in opposite order
			# could deadlock (that would be the client's doing, not the engine's).
			my $sku2 = pick_sku();
			($sku, $sku2) = ($sku2, $sku) if $sku2 lt $sku;
			$sql .= order_statement([ "s$s-$i-a", $sku, 2 ], [ "s$s-$i-b", $sku2, 1 ]);
		}
		elsif ($r < 0.73)
		{
			my $qty = 1 + int(rand(8));
			$sql .= "INSERT INTO backorder.receipt (sku, qty) VALUES ('$sku', $qty);\n";
		}
		elsif ($r < 0.83)
		{
			$sql .=
			  "INSERT INTO backorder.shipment (line_id, qty) SELECT line_id, allocated_qty FROM backorder.order_line"
			  . " WHERE sku = '$sku' AND allocated_qty > 0 ORDER BY line_id LIMIT 1;\n";
		}
		elsif ($r < 0.90)
		{
			$sql .=
			  "INSERT INTO backorder.cancellation (line_id) SELECT line_id FROM backorder.order_line"
			  . " WHERE sku = '$sku' AND backordered_qty > 0 ORDER BY line_id DESC LIMIT 1;\n";
		}
		elsif ($r < 0.95)
		{
			$sql .=
			  "INSERT INTO backorder.cancellation (line_id, qty) SELECT line_id, 1 FROM backorder.order_line"
			  . " WHERE sku = '$sku' AND allocated_qty > 0 ORDER BY line_id DESC LIMIT 1;\n";
		}
		else
		{
			my $delta = rand() < 0.5 ? -1 : 2;
			$sql .=
			  "INSERT INTO backorder.adjustment (sku, delta, reason) VALUES ('$sku', $delta, 'cycle count');\n";
		}
	}
	return $sql;
}

srand(20260105);
my $dir = PostgreSQL::Test::Utils::tempdir;
my (@handles, @outfiles, @errfiles);
my $psql = $node->installed_command('psql');
for my $s (1 .. $SESSIONS)
{
	my $script = "$dir/session$s.sql";
	open my $fh, '>', $script or die "cannot write $script: $!";
	print $fh session_script($s);
	close $fh;
	push @outfiles, "$dir/session$s.out";
	push @errfiles, "$dir/session$s.err";
	push @handles,
	  IPC::Run::start(
		[
			$psql, '-X', '-q', '-d', $node->connstr('postgres'),
			'-f', $script
		],
		'<', \undef, '>', $outfiles[-1], '2>', $errfiles[-1]);
}

sub count_acks
{
	my $n = 0;
	for my $f (@outfiles)
	{
		next unless -e $f;
		open my $fh, '<', $f or next;
		while (<$fh>) { $n++ if /^ack /; }
		close $fh;
	}
	return $n;
}

# Let the load run until enough commits were acknowledged, then pull the plug.
my $started = time;
while ((count_acks() < $ACKS_BEFORE_KILL || time - $started < $MIN_LOAD_SECONDS)
	&& time - $started < $MAX_LOAD_SECONDS)
{
	usleep(100_000);
}
my $load_seconds = time - $started;
my $postmaster_pid = $node->{_pid};
$node->kill9;
# until the killed postmaster is gone, its postmaster.pid still looks valid
my $waited = 0;
usleep(50_000) while kill(0, $postmaster_pid) && $waited++ < 600;

# The clients see their connection drop and exit; psql flushes its output on exit.
# psql exits with status 2 when it loses its connection.
my $cut = 0;
for my $h (@handles)
{
	eval { $h->finish; };
	$cut++ if ($h->result // -1) == 2;
}

# Backends orphaned by the dead postmaster notice its death and exit; until they have, the
# old shared memory is in use and a new postmaster refuses to start: retry for a while.
my $restarted = 0;
for my $try (1 .. 30)
{
	if ($node->start(fail_ok => 1))
	{
		$restarted = 1;
		last;
	}
	# a failed start may have taken the old pid file for a running server
	$node->{_pid} = undef;
	sleep 1;
}
ok($restarted, 'the server restarts after kill -9 of the postmaster');
BAIL_OUT('the server did not restart after the crash') unless $restarted;

# What the clients saw.
my (%acked, %failed);
my %errors;
for my $i (0 .. $#outfiles)
{
	open my $fh, '<', $outfiles[$i] or die "cannot read $outfiles[$i]: $!";
	while (<$fh>)
	{
		chomp;
		my ($what, @refs) = split / /;
		next unless defined $what;
		if ($what eq 'ack')     { $acked{$_}  = 1 for @refs; }
		elsif ($what eq 'fail') { $failed{$_} = 1 for @refs; }
	}
	close $fh;
	open $fh, '<', $errfiles[$i] or die "cannot read $errfiles[$i]: $!";
	while (<$fh>)
	{
		if (/ERROR:\s+(\S+)/) { $errors{$1}++; }
		elsif (/(connection to server was lost|server closed the connection)/) { $errors{'connection lost'}++; }
	}
	close $fh;
}

my %present = map { $_ => 1 } split /\n/,
  $node->safe_psql('postgres', 'SELECT order_ref FROM backorder.order_line');
my @missing = sort grep { !$present{$_} } keys %acked;
my $survived = grep { $present{$_} } keys %acked;
my $unacked_present = grep { !$acked{$_} } grep { /^s\d/ } keys %present;
my $failed_present = grep { $present{$_} } keys %failed;

note sprintf('load ran %d s in %d sessions before the kill', $load_seconds, $SESSIONS);
note sprintf('acknowledged order lines: %d, of which survived: %d, missing: %d',
	scalar(keys %acked), $survived, scalar(@missing));
note sprintf('lines present without an ack (committed, ack lost in the crash): %d',
	$unacked_present);
note sprintf('lines reported failed: %d (present anyway: %d)', scalar(keys %failed), $failed_present);
note 'client errors by SQLSTATE: '
  . join(', ', map { "$_ x$errors{$_}" } sort keys %errors);
note 'after recovery: ' . $node->safe_psql('postgres', q{
SELECT format('%s lines, %s receipts, %s shipments, %s cancellations, %s adjustments, %s events, %s purchase orders',
    (SELECT count(*) FROM backorder.order_line), (SELECT count(*) FROM backorder.receipt),
    (SELECT count(*) FROM backorder.shipment), (SELECT count(*) FROM backorder.cancellation),
    (SELECT count(*) FROM backorder.adjustment), (SELECT count(*) FROM backorder.event),
    (SELECT count(*) FROM backorder.purchase_order))});

is($cut, $SESSIONS, 'every load session was still running when the server died');
cmp_ok(scalar(keys %acked), '>=', 100, 'the load got a fair number of commits acknowledged before the crash');
is(scalar(@missing), 0, 'every acknowledged order line survived the crash')
  or diag('missing: ' . join(' ', @missing[0 .. ($#missing < 20 ? $#missing : 19)]));

# Errors other than the expected races mean the load itself was broken.
my @unexpected = grep { !/^(BO003|BO004|BO006|40P01|connection lost)$/ } keys %errors;
is(join(',', sort @unexpected), '', 'the clients saw no error beyond the expected races');
ok(!$errors{'40P01'}, 'no deadlock between sessions')
  or diag("deadlocks: $errors{'40P01'}");

verify_is_empty($node, 'postgres', 'verify() is empty after recovery');

is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM backorder.event e
 WHERE e.line_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM backorder.order_line l WHERE l.line_id = e.line_id)}),
	'0',
	'no event refers to a line that did not survive');

is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM backorder.order_line l
 WHERE l.backordered_qty > 0
   AND NOT EXISTS (SELECT 1 FROM backorder.event e
                    WHERE e.line_id = l.line_id AND e.kind = 'line_backordered')}),
	'0',
	'every waiting line has its line_backordered event');

is( $node->safe_psql(
		'postgres', q{
SELECT concat_ws(' ',
    nullif((SELECT count(*) FROM backorder.receipt)
           - (SELECT count(*) FROM backorder.event WHERE kind = 'stock_received'), 0)::text,
    nullif((SELECT count(*) FROM backorder.shipment)
           - (SELECT count(*) FROM backorder.event WHERE kind = 'line_shipped'), 0)::text,
    nullif((SELECT count(*) FROM backorder.cancellation)
           - (SELECT count(*) FROM backorder.event WHERE kind = 'line_cancelled'), 0)::text,
    nullif((SELECT count(*) FROM backorder.adjustment)
           - (SELECT count(*) FROM backorder.event WHERE kind = 'stock_adjusted'), 0)::text)}),
	'',
	'receipts, shipments, cancellations and adjustments match their events one for one');

# amcheck: every btree index of the extension's tables, heap included.
my $amcheck = $node->psql(
	'postgres', q{
SELECT bt_index_check(c.oid, true)
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_am am ON am.oid = c.relam AND am.amname = 'btree'
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'backorder'},
	stderr => \my $amcheck_err);
is($amcheck, 0, 'amcheck finds the indexes of the backorder tables sound')
  or diag($amcheck_err);

# The engine keeps working after recovery, and the line_id sequence never goes back.
my $max_before = $node->safe_psql('postgres', 'SELECT max(line_id) FROM backorder.order_line');
$node->safe_psql('postgres', q{
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('after-1', 'HOT', 500);
INSERT INTO backorder.receipt (sku, qty) VALUES ('HOT', 7);
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('after-2', 'SKU-5', 1);
});
my $after = $node->safe_psql('postgres',
	q{SELECT min(line_id) FROM backorder.order_line WHERE order_ref IN ('after-1', 'after-2')});
cmp_ok($after, '>', $max_before, 'new lines get line_ids after every surviving line');
is( $node->safe_psql(
		'postgres', q{SELECT backordered_qty > 0 FROM backorder.order_line WHERE order_ref = 'after-1'}),
	't',
	'a large order after recovery waits in the queue');
verify_is_empty($node, 'postgres', 'verify() is still empty after new work');

$node->stop;
done_testing();
