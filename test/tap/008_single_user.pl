# Single-user mode (postgres --single), where a DBA repairs a cluster by hand: with backorder
# preloaded, orders, a receipt and a shipment there take effect as in a normal session. No
# background worker can start without a postmaster, so the engine sends its notifications
# itself (nobody listens in single-user mode); the server started again afterwards finds the
# lines, counters and events, verify() empty, and its notifier serves the next order.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use BackorderTest;

my $node = PostgreSQL::Test::Cluster->new('single');
$node->init;
$node->append_conf('postgresql.conf', qq(shared_preload_libraries = '$PRELOAD'));
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION backorder;
INSERT INTO backorder.item (sku) VALUES ('S');
INSERT INTO backorder.receipt (sku, qty) VALUES ('S', 3);
});
$node->stop;

# one statement per line: single-user mode runs each line as a statement of its own
my $stdin = join("\n",
	q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('s1', 'S', 2)},
	q{INSERT INTO backorder.order_line (order_ref, sku, qty) SELECT 's' || g, 'S', 1 FROM generate_series(2, 4) g},
	q{INSERT INTO backorder.receipt (sku, qty) VALUES ('S', 1)},
	q{INSERT INTO backorder.shipment (line_id, qty) SELECT line_id, 2 FROM backorder.order_line WHERE order_ref = 's1'},
	'');
my ($stdout, $stderr);
my $ok = IPC::Run::run(
	[ 'postgres', '--single', '-D', $node->data_dir, '-c', 'exit_on_error=on', 'postgres' ],
	'<', \$stdin, '>', \$stdout, '2>', \$stderr);
ok($ok, 'single-user mode: the orders, the receipt and the shipment ran without an error')
  or diag("stdout:\n$stdout\nstderr:\n$stderr");
unlike($stdout . $stderr, qr/ERROR|FATAL|PANIC/, 'single-user mode: no error reported');

$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]); }
is( sql(q{SELECT string_agg(format('%s %s/%s/%s/%s', order_ref, qty, allocated_qty, backordered_qty, shipped_qty),
                            ', ' ORDER BY line_id) FROM backorder.order_line}),
	's1 2/0/0/2, s2 1/1/0/0, s3 1/1/0/0, s4 1/0/1/0',
	'the lines: s1 allocated then shipped, s2 allocated, s3 filled by the receipt, s4 waits');
is( sql(q{SELECT format('on_hand=%s alloc=%s back=%s', on_hand, allocated, backordered) FROM backorder.item}),
	'on_hand=2 alloc=2 back=1', 'the item counters');
is( sql(q{SELECT string_agg(kind, ',' ORDER BY event_id) FROM backorder.event WHERE at >= (SELECT min(placed_at) FROM backorder.order_line)}),
	'line_allocated,line_allocated,line_backordered,line_backordered,stock_received,line_allocated,line_shipped',
	'the events of single-user mode, in order');
verify_is_empty($node, 'postgres', 'verify() is empty after single-user mode');

# the notifier of the restarted server serves the next order
my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
my $stop = PostgreSQL::Test::Utils::tempdir() . '/stop';
my ($lout, $lerr) = ('', '');
my $listener = IPC::Run::start(
	[ $python, "$FindBin::RealBin/listen_ids.py", $node->connstr('postgres'), $stop ],
	'<', \undef, '>', \$lout, '2>', \$lerr);
$listener->pump until $lout =~ /^ready$/m || !$listener->pumpable;
sql(q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('n1', 'S', 1)});
my $id = sql(q{SELECT max(event_id) FROM backorder.event});
PostgreSQL::Test::Utils::append_to_file($stop, '1');
$listener->finish;
like($lout, qr/^$id$/m, 'after the restart, a listener hears the next order\'s event')
  or diag("listener: $lout $lerr");
is(sql(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'backorder notifier'}), '1',
	'the notifier worker sent it');

$node->stop;
done_testing();
