# Two-phase commit (PREPARE TRANSACTION), as an application server's transaction manager
# uses it:
#  - with backorder.notify on (the default), PREPARE of a transaction that wrote events fails
#    (0A000, backorder's own error naming the setting: PostgreSQL refuses to prepare a
#    transaction that sends NOTIFY), and nothing of it stays;
#  - with backorder.notify = off (what the README tells such a role to set), the prepared
#    order keeps its item locked until COMMIT PREPARED, which makes it visible with its
#    counters, events and draft purchase order; ROLLBACK PREPARED leaves no trace;
#  - the session that prepared goes on with a clean engine state (the next transaction does
#    not take the prepared transaction's item locks for its own);
#  - without the preload, PostgreSQL's own refusal (the events were sent as NOTIFYs).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use BackorderTest;

my $node = PostgreSQL::Test::Cluster->new('twophase');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = '$PRELOAD'
max_prepared_transactions = 5
));
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION backorder;
INSERT INTO backorder.supplier (supplier_id, lead_time, po_min_qty) VALUES ('SUP', '5 days', 100);
INSERT INTO backorder.item (sku, supplier_id) VALUES ('A', 'SUP'), ('B', NULL);
INSERT INTO backorder.receipt (sku, qty) VALUES ('A', 5), ('B', 5);
});

sub sql { return $node->safe_psql('postgres', $_[0]); }
my $counters = q{SELECT format('on_hand=%s alloc=%s back=%s incoming=%s', on_hand, allocated, backordered, incoming)
                   FROM backorder.item WHERE sku = 'A'};
my $before = sql($counters);
is($before, 'on_hand=5 alloc=0 back=0 incoming=0', 'item A before: 5 on hand');

# 1. notify on: PREPARE is refused, and nothing of the transaction stays
my ($rc, $out, $err) = $node->psql('postgres', q{
\set VERBOSITY verbose
BEGIN;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('n1', 'A', 2);
PREPARE TRANSACTION 'n1';
}, on_error_stop => 1);
like($err, qr/ERROR:  0A000: cannot PREPARE a transaction with backorder events to notify/,
	'notify on: PREPARE TRANSACTION of an order is refused (0A000)');
like($err, qr/DETAIL:  .*backorder.notify was on when the events were written/,
	'notify on: the refusal names backorder.notify');
like($err, qr/HINT:  Set backorder.notify = off for the role whose transactions are prepared/,
	'notify on: the refusal says what to do');
is(sql(q{SELECT count(*) FROM pg_prepared_xacts}), '0', 'notify on: no prepared transaction left');
is(sql(q{SELECT count(*) FROM backorder.order_line WHERE order_ref = 'n1'}) . ' ' . sql($counters),
	'0 ' . $before, 'notify on: the refused order left no line and no counter change');

# 2. notify off: the prepared order holds its item until COMMIT PREPARED; the session goes on
$out = sql(q{
SET backorder.notify = off;
BEGIN;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('p1', 'A', 8);
PREPARE TRANSACTION 'p1';
-- the same session, next transaction: another item, its own lock
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('s1', 'B', 1)
    RETURNING allocated_qty || ' ' || status;
});
is($out, '1 allocated', 'notify off: PREPARE works, and the same session then orders another item normally');
is(sql(q{SELECT gid FROM pg_prepared_xacts}), 'p1', 'the order is prepared');
is(sql($counters), $before, 'before COMMIT PREPARED nobody sees the prepared order\'s counters');
($rc, $out, $err) = $node->psql('postgres', q{
SET lock_timeout = '300ms';
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('w1', 'A', 1);
});
like($err, qr/lock timeout/, 'an order for the same item waits for the prepared transaction (its item lock)');
sql(q{COMMIT PREPARED 'p1'});
is(sql($counters), 'on_hand=5 alloc=5 back=3 incoming=3',
	'COMMIT PREPARED: 5 allocated, 3 wait, and the draft purchase order covers them');
is(sql(q{SELECT string_agg(kind || ':' || qty, ', ' ORDER BY event_id) FROM backorder.event WHERE order_ref = 'p1'}),
	'line_allocated:5, line_backordered:3', 'COMMIT PREPARED: the order\'s events');
is(sql(q{SELECT status || ' ' || total_qty FROM backorder.purchase_order WHERE supplier_id = 'SUP'}),
	'draft 3', 'COMMIT PREPARED: the purchase-order work done before PREPARE (the deferred trigger)');

# 3. ROLLBACK PREPARED leaves no trace
sql(q{
SET backorder.notify = off;
BEGIN;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('p2', 'A', 4);
INSERT INTO backorder.receipt (sku, qty) VALUES ('B', 7);
PREPARE TRANSACTION 'p2';
});
my $after_p1 = sql($counters);
sql(q{ROLLBACK PREPARED 'p2'});
is(sql($counters) . ' ' . sql(q{SELECT count(*) FROM backorder.order_line WHERE order_ref = 'p2'})
	  . ' ' . sql(q{SELECT on_hand FROM backorder.item WHERE sku = 'B'}),
	$after_p1 . ' 0 5', 'ROLLBACK PREPARED: no line, no counter change on either item');
is(sql(q{SELECT draft FROM (SELECT string_agg(status || ' ' || total_qty, ', ') AS draft
                              FROM backorder.purchase_order WHERE supplier_id = 'SUP') d}),
	'draft 3', 'ROLLBACK PREPARED: the draft is as before');

# 4. and the engine is sound
$out = sql(q{
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('w2', 'A', 1) RETURNING backordered_qty;
});
is($out, '1', 'after both, a new order for the item queues behind p1');
verify_is_empty($node, 'postgres', 'verify() is empty after prepared orders committed and rolled back');

# 5. without the preload, each event is a NOTIFY sent by the transaction itself, so the refusal
# is PostgreSQL's own (as the README says), and again nothing of the transaction stays
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->restart;
my $b_before = sql(q{SELECT on_hand || '/' || allocated FROM backorder.item WHERE sku = 'B'});
($rc, $out, $err) = $node->psql('postgres', q{
\set VERBOSITY verbose
BEGIN;
INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('np', 'B', 1);
PREPARE TRANSACTION 'np';
}, on_error_stop => 1);
like($err, qr/ERROR:  0A000: cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY/,
	'no preload: PREPARE of an order is refused by PostgreSQL (0A000)');
is(sql(q{SELECT count(*) FROM pg_prepared_xacts}) . ' '
	  . sql(q{SELECT count(*) FROM backorder.order_line WHERE order_ref = 'np'}) . ' '
	  . sql(q{SELECT on_hand || '/' || allocated FROM backorder.item WHERE sku = 'B'}),
	"0 0 $b_before", 'no preload: nothing prepared, no line, no counter change');

$node->stop;
done_testing();
