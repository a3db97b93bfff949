# test/tap/010_soak.pl: a mixed soak of the backorder engine under pgbench.
#
# 32 clients (SOAK_CLIENTS) for SOAK_SECONDS (default 20; the long form is
# SOAK_SECONDS=600) run a weighted mix of pgbench scripts from test/soak/: multi-line orders
# (skewed: three hot skus take most lines), receipts with and without a purchase order,
# shipments, cancellations, stock gains and losses, the purchase-order scheduler, and the
# soak's own housekeeping. test/soak/README.md describes the world and each script.
#
# Every order commits together with a soak_ack row written by the same transaction from
# the client's own input (lines, units). Afterwards the test reconciles: pgbench's count of
# committed order transactions (from its per-transaction logs) = acks + rejects; every ack has exactly its lines and units;
# no line, header or event exists for an order that did not commit; verify() is empty; the
# counters, ledger sums and events agree when recomputed here independently; business
# rules held ('deny' items never queued, capped items stayed under their cap); no deadlock
# and no unexpected error in the server log.
#
# synchronous_commit = off: nothing here crashes the server, and every check compares what
# committed transactions left in the database, which does not depend on when WAL reaches
# disk; the 2-core test machines then spend their time in the engine, not in WAL flushes.
# (The test framework already runs with fsync = off.)

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use BackorderTest;

my $seconds = $ENV{SOAK_SECONDS} || 20;
my $clients = $ENV{SOAK_CLIENTS} || 32;
my $threads = $ENV{SOAK_THREADS} || 2;

my $root = $ENV{BACKORDER_ROOT}
  // File::Spec->rel2abs(File::Spec->catdir(dirname(__FILE__), '..', '..'));
my $soak = "$root/test/soak";
-d $soak or BAIL_OUT("no directory $soak");

# script => weight (pgbench -f file@weight): per 100 transactions
my @scripts = (
	[ 'orders',     44 ],
	[ 'savepoint',  3 ],
	[ 'savepoint_again', 2 ],
	[ 'receipt',    8 ],
	[ 'receipt_po', 6 ],
	[ 'ship',       20 ],
	[ 'cancel',     6 ],
	[ 'adjust',     5 ],
	[ 'issue_po',   1 ],
	[ 'floors',     4 ],
	[ 'supplier',   1 ],);

my $node = PostgreSQL::Test::Cluster->new('soak');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = '$PRELOAD'
max_connections = 64
synchronous_commit = off
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
log_min_messages = warning
log_statement = none
log_min_error_statement = error
log_lock_waits = off
deadlock_timeout = 200ms
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION backorder');
$node->safe_psql('postgres', slurp_file("$soak/setup.sql"));

my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM backorder.verify()');
is($before, '0', 'setup: verify() is empty before the soak');

# Remember where the server log stands, to scan only what the soak wrote.
my $log_offset = -s $node->logfile;

# ------------------------------------------------------------------------ the soak
# pgbench -l writes one line per transaction (per thread, one file each): the exact
# count of committed transactions per script. The per-script sections of pgbench's report
# are not exact with -j > 1 (its threads add to shared per-script counters without a lock:
# a 600 s run reported 4 transactions fewer per script than in total), so the
# reconciliation counts the log lines instead.
my $logdir = PostgreSQL::Test::Utils::tempdir('soak_pgbench_log');
my @cmd = (
	'pgbench', '-n',
	'-h', $node->host, '-p', $node->port,
	'-c', $clients, '-j', $threads, '-T', $seconds,
	'--max-tries=10', '--failures-detailed',
	'-P', ($seconds >= 60 ? 10 : 2),
	'-D', 'seq=0',
	'-l', "--log-prefix=$logdir/tx",
	(map { ('-f', "$soak/$_->[0].sql\@$_->[1]") } @scripts),
	'postgres');
note('running: ' . join(' ', @cmd));
my ($out, $err) = ('', '');
my $t0 = time;
my $ok = eval {
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err, IPC::Run::timeout($seconds + 300));
};
my $rc = $@ ? -1 : $? >> 8;
diag("pgbench did not finish: $@") if $@;
note("pgbench ran for " . (time - $t0) . " s, exit code $rc");
note("pgbench stdout:\n$out");
my @progress = grep { /^progress:/ } split /\n/, $err;
my @stderr = grep { !/^progress:/ && /\S/ } split /\n/, $err;
note("pgbench progress:\n" . join("\n", @progress)) if @progress;
note("pgbench stderr (" . scalar(@stderr) . " lines, the last 40):\n"
	  . join("\n", @stderr[ ($#stderr > 39 ? $#stderr - 39 : 0) .. $#stderr ]))
  if @stderr;

ok($ok && $rc == 0, 'pgbench exited with status 0 (no client aborted)')
  or diag("exit code $rc; stderr:\n$err");
unlike($out . $err, qr/Run was aborted|client \d+ aborted/, 'no pgbench client aborted');

# Totals and per-script sections of pgbench's report.
sub num_after
{
	my ($text, $label) = @_;
	return $text =~ /^\s*(?:- )?\Q$label\E:?\s*=?\s*([0-9.]+)/m ? $1 : undef;
}
my $processed = num_after($out, 'number of transactions actually processed');
my $failed    = num_after($out, 'number of failed transactions');
my $ser_fail  = num_after($out, 'number of serialization failures');
my $dl_fail   = num_after($out, 'number of deadlock failures');
my $retried   = num_after($out, 'number of transactions retried') // 0;
my $retries   = num_after($out, 'total number of retries') // 0;
my ($tps) = $out =~ /^tps = ([0-9.]+)/m;

my %per_script;    # name => { tx, failed, retried }
while ($out =~ /^SQL script \d+: \S*\/(\w+)\.sql\n(.*?)(?=^SQL script|\z)/msg)
{
	my ($name, $body) = ($1, $2);
	# PG15: " - N transactions (...)" counts the successful ones; newer pgbench prints
	# " - number of transactions actually processed: N" for those.
	my $tx = num_after($body, 'number of transactions actually processed');
	($tx) = $body =~ /^ - (\d+) transactions/m unless defined $tx;
	$per_script{$name} = {
		tx      => $tx,
		failed  => num_after($body, 'number of failed transactions') // 0,
		retried => num_after($body, 'number of transactions retried') // 0,
	};
}

# Per-transaction log: "client_id transaction_no time script_no time_epoch time_us [retries]";
# time is the latency in microseconds, or a word (failed, serialization, deadlock, skipped).
my %logged;    # script name => committed transactions
my $log_lines = 0;
my $log_failed = 0;
for my $f (glob("$logdir/tx.*"))
{
	open(my $fh, '<', $f) or die "could not read $f: $!";
	while (my $line = <$fh>)
	{
		my @c = split ' ', $line;
		next unless @c >= 4;
		$log_lines++;
		if ($c[2] =~ /^\d+$/) { $logged{ $scripts[ $c[3] ][0] }++; }
		else                  { $log_failed++; }
	}
	close $fh;
}

ok(defined $processed && $processed > 0, 'pgbench processed transactions')
  or diag("could not read pgbench's report:\n$out");
is($log_lines - $log_failed, $processed,
	'the per-transaction logs hold every transaction pgbench counted');
is($failed, 0, 'pgbench: no failed transaction (only retried ones)');
is(scalar(keys %per_script), scalar(@scripts), 'pgbench reported every script')
  or diag(explain \%per_script);
for my $s (@scripts)
{
	my $tx = $logged{ $s->[0] } // 0;
	my $want = $s->[1] >= 4 ? 10 : 1;    # even a 5-second smoke run gets that many
	cmp_ok($tx, '>=', $want, "script $s->[0] ran ($tx transactions)");
}

# ------------------------------------------------------------------------ reconciliation
sub q1
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

# A query that must return no rows: the rows (at most 20) go to the diagnostics.
sub no_rows
{
	my ($name, $sql) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $n = q1("SELECT count(*) FROM ($sql) x");
	is($n, '0', $name)
	  or diag(q1("SELECT * FROM ($sql) x LIMIT 20"));
}

my $acks    = q1('SELECT count(*) FROM soak_ack');
my $rejects = q1('SELECT count(*) FROM soak_reject');
my $order_tx = ($logged{orders} // -1) + ($logged{savepoint} // 0) + ($logged{savepoint_again} // 0);
is($acks + $rejects, $order_tx,
	"every order transaction pgbench counted as committed left an ack or a reject ($acks + $rejects)"
);

no_rows('every acknowledged order has exactly its lines and units', q{
	SELECT a.order_ref, a.lines, a.units, count(l.line_id) AS got_lines, sum(l.qty) AS got_units
	  FROM soak_ack a LEFT JOIN backorder.order_line l ON l.order_ref = a.order_ref
	 GROUP BY a.order_ref, a.lines, a.units
	HAVING count(l.line_id) <> a.lines OR coalesce(sum(l.qty), 0) <> a.units});

no_rows('no phantom order line (every line belongs to an acknowledged order)', q{
	SELECT l.* FROM backorder.order_line l
	 WHERE NOT EXISTS (SELECT 1 FROM soak_ack a WHERE a.order_ref = l.order_ref)});

no_rows('a refused order left no line and no header', q{
	SELECT r.order_ref, r.sqlstate FROM soak_reject r
	 WHERE EXISTS (SELECT 1 FROM backorder.order_line l WHERE l.order_ref = r.order_ref)
	    OR EXISTS (SELECT 1 FROM backorder.customer_order o WHERE o.order_ref = r.order_ref)
	    OR EXISTS (SELECT 1 FROM soak_ack a WHERE a.order_ref = r.order_ref)});

no_rows('refusals: BO001 only for orders with a deny item, BO002 only with a capped item', q{
	SELECT r.* FROM soak_reject r
	 WHERE NOT (r.sqlstate = 'BO001'
	            AND EXISTS (SELECT 1 FROM backorder.item i
	                         WHERE i.sku = ANY (r.skus) AND i.policy = 'deny'))
	   AND NOT (r.sqlstate = 'BO002'
	            AND EXISTS (SELECT 1 FROM backorder.item i
	                         WHERE i.sku = ANY (r.skus) AND i.backorder_limit IS NOT NULL))});

no_rows('ship-complete headers match the acknowledged ship-complete orders', q{
	(SELECT order_ref FROM soak_ack WHERE ship_complete
	 EXCEPT SELECT order_ref FROM backorder.customer_order WHERE ship_complete)
	UNION ALL
	(SELECT order_ref FROM backorder.customer_order
	 EXCEPT SELECT order_ref FROM soak_ack WHERE ship_complete)});

is(q1('SELECT coalesce(sum(qty), 0) FROM backorder.order_line'),
	q1('SELECT coalesce(sum(units), 0) FROM soak_ack'),
	'units ordered = units acknowledged');

no_rows('backorder.issue_due_purchase_orders() never failed', q{
	SELECT sqlstate, message, count(*) FROM soak_caught WHERE script = 'issue_po' GROUP BY 1, 2});

# ------------------------------------------------------------------------ invariants
my $verify = q1('SELECT count(*) FROM backorder.verify()');
is($verify, '0', 'backorder.verify() returns no rows after the soak')
  or diag(q1('SELECT * FROM backorder.verify() LIMIT 40'));

# The same facts recomputed here, independently of verify()'s code.
no_rows('every line: qty = allocated + backordered + shipped + cancelled, none negative', q{
	SELECT line_id, qty, allocated_qty, backordered_qty, shipped_qty, cancelled_qty
	  FROM backorder.order_line
	 WHERE qty <> allocated_qty + backordered_qty + shipped_qty + cancelled_qty
	    OR allocated_qty < 0 OR backordered_qty < 0 OR shipped_qty < 0 OR cancelled_qty < 0});

no_rows('every line: status agrees with its quantities', q{
	SELECT line_id, status, allocated_qty, backordered_qty, shipped_qty, cancelled_qty
	  FROM backorder.order_line
	 WHERE status <> CASE
	         WHEN backordered_qty > 0 AND allocated_qty + shipped_qty > 0 THEN 'partially_allocated'
	         WHEN backordered_qty > 0 THEN 'backordered'
	         WHEN allocated_qty > 0 THEN 'allocated'
	         WHEN shipped_qty > 0 THEN 'shipped'
	         ELSE 'cancelled' END::backorder.line_status});

no_rows('every line: shipped_qty / cancelled_qty = its shipment / cancellation rows', q{
	SELECT l.line_id, l.shipped_qty, s.units AS shipments, l.cancelled_qty, c.units AS cancellations
	  FROM backorder.order_line l
	  LEFT JOIN (SELECT line_id, sum(qty) AS units FROM backorder.shipment GROUP BY 1) s USING (line_id)
	  LEFT JOIN (SELECT line_id, sum(qty) AS units FROM backorder.cancellation GROUP BY 1) c USING (line_id)
	 WHERE l.shipped_qty <> coalesce(s.units, 0) OR l.cancelled_qty <> coalesce(c.units, 0)});

no_rows('every item: allocated / backordered = sums over its lines, by status', q{
	SELECT i.sku, i.allocated, i.backordered, s.*
	  FROM backorder.item i
	  LEFT JOIN (SELECT sku,
	                    sum(allocated_qty) AS alloc_all,
	                    sum(allocated_qty) FILTER (WHERE status IN ('allocated', 'partially_allocated')) AS alloc_by_status,
	                    sum(backordered_qty) AS back_all,
	                    sum(backordered_qty) FILTER (WHERE status IN ('backordered', 'partially_allocated')) AS back_by_status
	               FROM backorder.order_line GROUP BY sku) s ON s.sku = i.sku
	 WHERE i.allocated <> coalesce(s.alloc_all, 0) OR i.allocated <> coalesce(s.alloc_by_status, 0)
	    OR i.backordered <> coalesce(s.back_all, 0) OR i.backordered <> coalesce(s.back_by_status, 0)});

no_rows('every item: on_hand = receipts + adjustments - shipments, and allocated <= on_hand', q{
	SELECT i.sku, i.on_hand, i.allocated, r.units AS received, a.units AS adjusted, s.units AS shipped
	  FROM backorder.item i
	  LEFT JOIN (SELECT sku, sum(qty) AS units FROM backorder.receipt GROUP BY 1) r ON r.sku = i.sku
	  LEFT JOIN (SELECT sku, sum(delta) AS units FROM backorder.adjustment GROUP BY 1) a ON a.sku = i.sku
	  LEFT JOIN (SELECT l.sku, sum(x.qty) AS units FROM backorder.shipment x
	               JOIN backorder.order_line l USING (line_id) GROUP BY 1) s ON s.sku = i.sku
	 WHERE i.on_hand <> coalesce(r.units, 0) + coalesce(a.units, 0) - coalesce(s.units, 0)
	    OR i.allocated > i.on_hand OR i.on_hand < 0
	    OR i.available <> i.on_hand - i.allocated - i.backordered});

no_rows('no item has free stock while lines wait', q{
	SELECT sku, on_hand, allocated, backordered FROM backorder.item
	 WHERE backordered > 0 AND on_hand > allocated});

no_rows('FIFO: no line waits while a later line of its item holds allocated units', q{
	SELECT w.sku, w.line_id AS waiting, a.line_id AS later_allocated
	  FROM (SELECT sku, min(line_id) AS line_id FROM backorder.order_line
	         WHERE backordered_qty > 0 GROUP BY sku) w
	  JOIN LATERAL (SELECT max(line_id) AS line_id FROM backorder.order_line l
	                 WHERE l.sku = w.sku AND l.allocated_qty > 0) a ON a.line_id > w.line_id});

no_rows("'deny' items never queued a unit (their stock is never lost)", q{
	SELECT l.* FROM backorder.order_line l JOIN backorder.item i USING (sku)
	 WHERE i.policy = 'deny' AND (l.backordered_qty > 0 OR l.status IN ('backordered', 'partially_allocated'))});

no_rows('capped items stay within their backorder_limit', q{
	SELECT sku, backordered, backorder_limit FROM backorder.item
	 WHERE backordered > backorder_limit});

no_rows('receipt.allocated_qty never exceeds the receipt', q{
	SELECT * FROM backorder.receipt WHERE allocated_qty < 0 OR allocated_qty > qty});

no_rows('every item with a supplier: waiting units are covered by open purchase orders', q{
	SELECT i.sku, i.backordered, i.incoming, o.units
	  FROM backorder.item i
	  LEFT JOIN (SELECT pl.sku, sum(CASE WHEN p.status = 'draft' THEN pl.qty
	                                     ELSE greatest(pl.qty - pl.received_qty, 0) END) AS units
	               FROM backorder.purchase_order_line pl JOIN backorder.purchase_order p USING (po_id)
	              WHERE p.status IN ('draft', 'issued') GROUP BY 1) o ON o.sku = i.sku
	 WHERE i.incoming <> coalesce(o.units, 0)
	    OR (i.supplier_id IS NOT NULL AND i.backordered > i.incoming)
	    OR (i.supplier_id IS NULL AND i.incoming <> 0)});

no_rows('purchase orders: one draft per supplier; issued ones expected after the lead time', q{
	SELECT p.po_id, p.status, p.issued_at, p.expected_at, s.lead_time
	  FROM backorder.purchase_order p JOIN backorder.supplier s USING (supplier_id)
	 WHERE (p.status <> 'draft' AND p.issued_at IS NULL)
	    OR (p.issued_at IS NOT NULL AND p.expected_at <> p.issued_at + s.lead_time)
	    OR (p.status = 'draft' AND (SELECT count(*) FROM backorder.purchase_order d
	                                 WHERE d.supplier_id = p.supplier_id AND d.status = 'draft') > 1)
	    OR (p.status = 'received' AND EXISTS (SELECT 1 FROM backorder.purchase_order_line l
	                                          WHERE l.po_id = p.po_id AND l.received_qty < l.qty))
	    OR EXISTS (SELECT 1 FROM backorder.purchase_order_line l JOIN backorder.item i USING (sku)
	                WHERE l.po_id = p.po_id AND i.supplier_id IS DISTINCT FROM p.supplier_id)});

no_rows('no issued purchase order has every line received (the last receipt marks it received)', q{
	SELECT p.po_id FROM backorder.purchase_order p
	 WHERE p.status = 'issued'
	   AND NOT EXISTS (SELECT 1 FROM backorder.purchase_order_line l
	                    WHERE l.po_id = p.po_id AND l.received_qty < l.qty)});

no_rows('no draft at or above its supplier\'s minimum (a commit or a supplier change that made it due issued it)', q{
	SELECT p.po_id, p.total_qty, s.po_min_qty
	  FROM backorder.purchase_order p JOIN backorder.supplier s USING (supplier_id)
	 WHERE p.status = 'draft' AND p.total_qty >= s.po_min_qty});

no_rows('purchase-order lines are whole packs', q{
	SELECT l.* FROM backorder.purchase_order_line l JOIN backorder.item i USING (sku)
	  JOIN backorder.purchase_order p USING (po_id)
	 WHERE p.status = 'draft' AND l.qty % i.pack_size <> 0});

# ------------------------------------------------------------------------ events
no_rows('events match the ledger: one per shipment, cancellation, receipt, adjustment', q{
	SELECT e.kind, e.n, e.units, g.n AS ledger_n, g.units AS ledger_units
	  FROM (SELECT kind, count(*) AS n, sum(qty) AS units FROM backorder.event
	         WHERE kind IN ('line_shipped', 'line_cancelled', 'stock_received', 'stock_adjusted')
	         GROUP BY kind) e
	  FULL JOIN (SELECT 'line_shipped' AS kind, count(*) AS n, sum(qty) AS units FROM backorder.shipment
	             UNION ALL SELECT 'line_cancelled', count(*), sum(qty) FROM backorder.cancellation
	             UNION ALL SELECT 'stock_received', count(*), sum(qty) FROM backorder.receipt
	             UNION ALL SELECT 'stock_adjusted', count(*), sum(delta) FROM backorder.adjustment) g
	    USING (kind)
	 WHERE e.n IS DISTINCT FROM g.n OR e.units IS DISTINCT FROM g.units});

no_rows('every line has its placement events (allocated + backordered at insert = qty)', q{
	SELECT l.line_id, l.qty, e.units
	  FROM backorder.order_line l
	  LEFT JOIN (SELECT line_id, sum(qty) AS units FROM backorder.event
	              WHERE kind IN ('line_allocated', 'line_backordered')
	                AND event_id IN (SELECT min(event_id) FROM backorder.event
	                                  WHERE kind IN ('line_allocated', 'line_backordered')
	                                  GROUP BY line_id, kind)
	              GROUP BY line_id) e USING (line_id)
	 WHERE e.units IS NULL OR e.units < l.qty});

no_rows('no event of an order that did not commit', q{
	SELECT e.* FROM backorder.event e
	 WHERE e.order_ref IS NOT NULL
	   AND NOT EXISTS (SELECT 1 FROM backorder.order_line l
	                    WHERE l.order_ref = e.order_ref AND l.line_id = e.line_id)});

no_rows('po_issued / po_received events match the purchase orders', q{
	SELECT k, ev, po FROM (
	  SELECT 'po_issued' AS k,
	         (SELECT count(DISTINCT po_id) FROM backorder.event WHERE kind = 'po_issued') AS ev,
	         (SELECT count(*) FROM backorder.purchase_order WHERE issued_at IS NOT NULL) AS po
	  UNION ALL
	  SELECT 'po_received',
	         (SELECT count(DISTINCT po_id) FROM backorder.event WHERE kind = 'po_received'),
	         (SELECT count(*) FROM backorder.purchase_order WHERE status = 'received')) x
	 WHERE ev <> po});

# ------------------------------------------------------------------------ the server log
my $log = slurp_file($node->logfile, $log_offset);
my $deadlocks = () = $log =~ /ERROR:\s+deadlock detected/g;
my $serialization = () = $log =~ /ERROR:\s+could not serialize access/g;
my @unexpected =
  grep { !/deadlock detected|could not serialize access/ }
  ($log =~ /^.*(?:ERROR|FATAL|PANIC|TRAP|terminated by signal).*$/mg);
is($deadlocks, 0, 'no deadlock (lines go in in sku order, suppliers are locked in order)')
  or diag(join("\n", ($log =~ /^.*(?:deadlock detected|DETAIL|CONTEXT|STATEMENT).*$/mg)[0 .. 39]));
is(scalar(@unexpected), 0, 'no unexpected error, crash or assertion failure in the server log')
  or diag(join("\n", @unexpected[0 .. ($#unexpected < 29 ? $#unexpected : 29)]));

# ------------------------------------------------------------------------ figures
my %f = map { split /=/, $_, 2 } split /\n/, q1(q{
	SELECT 'lines=' || count(*) FROM backorder.order_line
	UNION ALL SELECT 'units=' || coalesce(sum(qty), 0) FROM backorder.order_line
	UNION ALL SELECT 'rej_bo001=' || count(*) FILTER (WHERE sqlstate = 'BO001') FROM soak_reject
	UNION ALL SELECT 'rej_bo002=' || count(*) FILTER (WHERE sqlstate = 'BO002') FROM soak_reject
	UNION ALL SELECT 'caught=' || coalesce(string_agg(script || ' ' || sqlstate || ' x' || n, ', '), 'none')
	            FROM (SELECT script, sqlstate, count(*) AS n FROM soak_caught GROUP BY 1, 2 ORDER BY 1, 2) c
	UNION ALL SELECT 'status=' || string_agg(status || ' ' || n || ' lines', ', ')
	            FROM (SELECT status, count(*) AS n FROM backorder.order_line GROUP BY 1 ORDER BY 1) s
	UNION ALL SELECT 'shipments=' || count(*) || ' (' || coalesce(sum(qty), 0) || ' units)' FROM backorder.shipment
	UNION ALL SELECT 'cancellations=' || count(*) || ' (' || coalesce(sum(qty), 0) || ' units)' FROM backorder.cancellation
	UNION ALL SELECT 'receipts=' || count(*) || ' (' || count(po_id) || ' against a PO, '
	                 || coalesce(sum(qty), 0) || ' units)' FROM backorder.receipt
	UNION ALL SELECT 'adjustments=' || count(*) || ' (' || count(*) FILTER (WHERE delta < 0) || ' losses)'
	            FROM backorder.adjustment
	UNION ALL SELECT 'pos=' || string_agg(status || ' ' || n, ', ')
	            FROM (SELECT status, count(*) AS n FROM backorder.purchase_order GROUP BY 1 ORDER BY 1) p
	UNION ALL SELECT 'over=' || count(*) FROM backorder.event WHERE kind = 'po_over_received'
	UNION ALL SELECT 'hot=' || string_agg(sku || ' ' || n, ', ')
	            FROM (SELECT sku, count(*) AS n FROM backorder.order_line GROUP BY 1 ORDER BY 2 DESC LIMIT 3) h
	UNION ALL SELECT 'hotshare=' || round(100.0 * count(*) FILTER (WHERE sku IN ('S001', 'S002', 'S003'))
	                 / greatest(count(*), 1)) FROM backorder.order_line
	UNION ALL SELECT 'waiting=' || coalesce(sum(backordered), 0) || ' units on ' || count(*) FILTER (WHERE backordered > 0)
	                 || ' items' FROM backorder.item
	UNION ALL SELECT 'events=' || count(*) FROM backorder.event
});

note("figures: $processed transactions, tps $tps, $retried transactions retried ($retries retries), "
	  . "$deadlocks deadlocks and $serialization serialization failures in the server log; "
	  . "failures after retries: serialization " . ($ser_fail // '?') . ", deadlock " . ($dl_fail // '?'));
note(sprintf('per script: %s',
	join(', ', map { "$_->[0] " . ($logged{ $_->[0] } // 0) . ' tx / '
		  . ($per_script{ $_->[0] }{retried} // '?') . ' retried' } @scripts)));
{
	my $sum = 0;
	$sum += $_->{tx} // 0 for values %per_script;
	note("pgbench's per-script report adds up to $sum transactions, its total is $processed"
		  . " (the per-transaction logs: $log_lines lines, $log_failed failed)");
}
note("orders: $acks acknowledged, $rejects refused (BO001 $f{rej_bo001}, BO002 $f{rej_bo002}); "
	  . "$f{lines} lines, $f{units} units; hot skus $f{hot} ($f{hotshare}% of lines)");
note("lines by status: $f{status}");
note("caught business errors: $f{caught}");
note("ledger: shipments $f{shipments}, cancellations $f{cancellations}, receipts $f{receipts}, "
	  . "adjustments $f{adjustments}; $f{waiting} still waiting; $f{events} events");
note("purchase orders: $f{pos}; over-received deliveries: $f{over}");
if (@progress >= 4)
{
	my @tps = map { /, ([0-9.]+) tps/ ? $1 : 0 } @progress;
	my $k = int(@tps / 4) || 1;
	my $avg = sub { my $s = 0; $s += $_ for @_; sprintf('%.0f', $s / @_) };
	note('throughput: first quarter of the run ' . $avg->(@tps[ 0 .. $k - 1 ])
		  . ' tps, last quarter ' . $avg->(@tps[ $#tps - $k + 1 .. $#tps ]) . ' tps');
}
note(sprintf('soak: %d clients, %d s, %.0f tps, %d deadlocks, %d retries, %d orders reconciled',
	$clients, $seconds, $tps // 0, $deadlocks, $retries, $acks + $rejects));

$node->stop;
done_testing();
