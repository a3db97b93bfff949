
# The notifier: NOTIFY with and without backorder in shared_preload_libraries.
#
# Without the preload every committing transaction sends its notifications itself; with it a
# background worker per database ("backorder notifier") sends them after the commit. The
# LISTEN/NOTIFY client (test/client/notify_roundtrip.py, which the client suite runs on a
# preloaded cluster) runs here on a cluster without the preload, and on a preloaded one
# after its worker was terminated (a new one starts on demand). Then the worker's life:
#  - it starts with the first notifying commit of a database and leaves after a second
#    without work, so DROP DATABASE is not kept waiting;
#  - there are 8 rings (databases served at once): a 9th and 10th database notify directly
#    while 8 workers are busy, and get a ring (and a worker) once the others have left;
#  - an order committed while the worker is gone is heard (checked by the client script).
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

my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
my $script = "$ENV{BACKORDER_ROOT}/test/client/notify_roundtrip.py";

# run the LISTEN/NOTIFY client script against database $db of $node
sub roundtrip
{
	my ($node, $db, $name) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGHOST}     = $node->host;
	local $ENV{PGPORT}     = $node->port;
	local $ENV{PGDATABASE} = $db;
	my $ok = IPC::Run::run([ $python, $script ], '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(300));
	ok($ok && $out =~ /^all checks passed$/m, $name)
	  or diag("stdout:\n$out\nstderr:\n$err");
	return $out;
}

# the notifier workers of a node: "datname" per worker, sorted
sub workers
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT coalesce(string_agg(datname, ',' ORDER BY datname), '')
		    FROM pg_stat_activity WHERE backend_type = 'backorder notifier'});
}

# wait (up to 20 s) until workers($node) returns $want
sub wait_workers
{
	my ($node, $want, $name) = @_;
	my $got;
	for (1 .. 200)
	{
		$got = workers($node);
		last if $got eq $want;
		usleep(100_000);
	}
	is($got, $want, $name);
}

sub order
{
	my ($node, $db, $ref) = @_;
	$node->safe_psql($db,
		qq{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('$ref', 'N1', 2)});
}

# a started cluster with backorder preloaded and the settings $conf
sub preloaded
{
	my ($name, $conf) = @_;
	my $n = PostgreSQL::Test::Cluster->new($name);
	$n->init;
	$n->append_conf('postgresql.conf', "shared_preload_libraries = '$PRELOAD'\n$conf");
	$n->start;
	return $n;
}

# a listener (listen_ids.py) on database $db of $node, started and listening
sub start_listener
{
	my ($node, $db) = @_;
	my $l = { stop => PostgreSQL::Test::Utils::tempdir() . '/stop', out => '', err => '' };
	$l->{run} = IPC::Run::start(
		[ $python, "$FindBin::RealBin/listen_ids.py", $node->connstr($db), $l->{stop} ],
		'<', \undef, '>', \$l->{out}, '2>', \$l->{err});
	$l->{run}->pump until $l->{out} =~ /^ready$/m || !$l->{run}->pumpable;
	return $l;
}

# stop listener $l once it heard every event of $db (or gave up) and check that it did
sub heard_all
{
	my ($l, $node, $db, $name) = @_;
	my @events = split /\n/, $node->safe_psql($db, 'SELECT event_id FROM backorder.event');
	PostgreSQL::Test::Utils::append_to_file($l->{stop}, scalar(@events));
	$l->{run}->finish;
	my ($count, @heard) = split /\n/, $l->{out} =~ s/\A.*?^ready\n//msr;
	my %heard = map { $_ => 1 } @heard;
	my @missing = grep { !$heard{$_} } @events;
	is(scalar(@missing), 0, $name)
	  or diag("not heard: @missing[0 .. (@missing > 20 ? 19 : $#missing)] ($l->{err})");
	note("$count; events: " . scalar(@events) . ', heard twice: ' . (@heard - keys %heard));
}

# 1. no preload: the committing backend notifies
my $plain = PostgreSQL::Test::Cluster->new('nopreload');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE DATABASE notify');
$plain->safe_psql('notify', 'CREATE EXTENSION backorder');
my $out = roundtrip($plain, 'notify', 'without the preload: the LISTEN/NOTIFY client passes');
like($out, qr/^# backorder is not preloaded/m, 'and it ran without the notifier');
is(workers($plain), '', 'no notifier worker runs without the preload');

# INSERT ... ON CONFLICT on a ledger table without the preload: a session's first statement
# loads the library while it runs, before the executor hook exists; the row triggers then
# check the client's statement themselves. Once loaded, the hook refuses it from PL/pgSQL too.
$plain->safe_psql('notify', q{INSERT INTO backorder.item (sku) VALUES ('OC')});
my (undef, undef, $oc_err) = $plain->psql('notify',
	q{INSERT INTO backorder.adjustment (sku, delta) VALUES ('OC', 5) ON CONFLICT DO NOTHING});
like($oc_err, qr/INSERT \.\.\. ON CONFLICT is not supported on backorder\.adjustment/,
	'without the preload: INSERT ... ON CONFLICT as a session\'s first statement is refused');
(undef, undef, $oc_err) = $plain->psql('notify',
	q{INSERT INTO backorder.adjustment (sku, delta) VALUES ('OC', 1);
	  DO $$ BEGIN INSERT INTO backorder.adjustment (sku, delta) VALUES ('OC', 5) ON CONFLICT DO NOTHING; END $$;});
like($oc_err, qr/INSERT \.\.\. ON CONFLICT is not supported on backorder\.adjustment/,
	'and, once the library is loaded, from PL/pgSQL');
is($plain->safe_psql('notify', q{SELECT on_hand || ' ' || (SELECT count(*) FROM backorder.adjustment)
		FROM backorder.item WHERE sku = 'OC'}),
	'1 1', 'only the plain adjustment changed stock');

# an engine error caught by a savepoint that was opened before the library was loaded: the
# guards must be on again after the rollback (the savepoint has no depth mark of its own)
$plain->safe_psql('notify', q{INSERT INTO backorder.item (sku, policy) VALUES ('DN', 'deny')});
(undef, undef, $oc_err) = $plain->psql('notify', q{BEGIN;
	SAVEPOINT s;
	INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('dn', 'DN', 1);
	ROLLBACK TO s;
	UPDATE backorder.order_line SET qty = qty;
	ROLLBACK;}, on_error_stop => 0);
like($oc_err, qr/not enough stock of item "DN".*rows of table "order_line" cannot be updated or deleted/s,
	'without the preload: after a caught engine error the ledger guard still refuses an UPDATE');
$plain->stop;

# 2. preload: a worker per database, on demand
my $node = preloaded('preload', "max_worker_processes = 16\n");
for my $k (1 .. 10)
{
	$node->safe_psql('postgres', "CREATE DATABASE shop$k");
	$node->safe_psql("shop$k", q{CREATE EXTENSION backorder;
		INSERT INTO backorder.item (sku) VALUES ('N1')});
}
is(workers($node), '', 'no worker before anything was notified');
# the preloaded library's executor hooks run in every database: one without backorder
# (no schema of that name) still takes inserts, plain and ON CONFLICT
is($node->safe_psql('postgres', q{CREATE TABLE plain_t (x int PRIMARY KEY);
	INSERT INTO plain_t VALUES (1), (2);
	INSERT INTO plain_t VALUES (2), (3) ON CONFLICT DO NOTHING;
	SELECT count(*) FROM plain_t}), '3', 'a database without backorder: INSERT and INSERT ... ON CONFLICT work');

order($node, 'shop1', 'w1');
wait_workers($node, 'shop1', 'the first notifying commit in shop1 starts its notifier');
wait_workers($node, '', 'the notifier leaves after a second without work');

order($node, 'shop2', 'w2');
wait_workers($node, 'shop2', 'shop2 gets a notifier');
my $t0 = time;
$node->safe_psql('postgres', 'DROP DATABASE shop2');
cmp_ok(time - $t0, '<=', 4, 'DROP DATABASE right after its notifier ran succeeds within seconds');

# 8 rings: shop3..shop10 order at once (8 databases), while they are busy shop1 is the 9th
my @busy = map { "shop$_" } 3 .. 10;
order($node, $_, 'r') for @busy;
my $all8 = workers($node);
order($node, 'shop1', 'w9');
is($node->safe_psql('shop1', q{SELECT count(*) FROM backorder.event WHERE order_ref = 'w9'}),
	'1', 'the 9th database commits its order while the 8 rings may all be taken');
wait_workers($node, '', 'all notifiers leave');
order($node, 'shop1', 'w10');
wait_workers($node, 'shop1', 'once the rings are free, the 9th database gets one (and a worker)');
note("workers while 8 databases were busy: $all8");

# a terminated worker: the next commit starts another, and everything is heard
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'backorder notifier'});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)") if $pid ne '';
roundtrip($node, 'shop1', 'with the preload, after its worker was terminated: the LISTEN/NOTIFY client passes');
# a database closed to new connections: the sessions still connected keep ordering, and
# its notifier (which may connect all the same) sends their events
$node->safe_psql('postgres', 'CREATE DATABASE closed');
$node->safe_psql('closed', q{CREATE EXTENSION backorder; INSERT INTO backorder.item (sku) VALUES ('N1')});
my $closed_listener = start_listener($node, 'closed');
my $closed_orders = repeat_sql($node, 'closed',
	q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('cl', 'N1', 1); SELECT pg_sleep(0.02);},
	20, "SELECT pg_sleep(2);\n");
usleep(500_000);    # psql has connected and sleeps
$node->safe_psql('postgres', 'ALTER DATABASE closed ALLOW_CONNECTIONS false');
ok($closed_orders->finish, 'a database closed to new connections: a session connected before orders 20 times');
$node->safe_psql('postgres', 'ALTER DATABASE closed ALLOW_CONNECTIONS true');
heard_all($closed_listener, $node, 'closed',
	'every event was heard, sent by its notifier while the database refused new connections');
unlike(slurp_file($node->logfile), qr/database "closed" is not currently accepting connections/,
	'and the notifier never failed to connect to it');
# the worker reloads its configuration on SIGHUP, as a backend does. A stream of orders keeps
# one worker of shop1 busy; log_min_messages = debug5 is then set and reloaded, and that same
# worker (the same pid) logs its transactions: PostgreSQL logs every transaction's start at
# DEBUG5, and the cluster's log_line_prefix holds the pid
my $stream = repeat_sql($node, 'shop1',
	q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('hup', 'N1', 1); SELECT pg_sleep(0.02);},
	300);
my $hup_pid = '';
for (1 .. 100)
{
	$hup_pid = $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'backorder notifier' AND datname = 'shop1'});
	last if $hup_pid ne '';
	usleep(50_000);
}
isnt($hup_pid, '', 'a worker serves the stream of orders');
my $log_from = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER SYSTEM SET log_min_messages = debug5; SELECT pg_reload_conf()');
my $logged = 0;
for (1 .. 100)
{
	my $log = substr(slurp_file($node->logfile), $log_from);
	$logged = $log =~ /\[$hup_pid\] .*DEBUG:  StartTransaction/;
	last if $logged;
	usleep(50_000);
}
$node->safe_psql('postgres', 'ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf()');
ok($logged, 'after a reload the worker logs at the new log_min_messages');
is($node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'backorder notifier' AND datname = 'shop1'}),
	$hup_pid, 'and it is the worker that was running before the reload');
$stream->kill_kill;
verify_is_empty($node, "shop$_", "verify() is empty in shop$_") for (1, 3 .. 10);
verify_is_empty($node, 'closed', 'verify() is empty in closed');

$node->stop;

# 3. terminated while busy: the worker leaves between its transactions, never inside a
# commit (a SIGTERM raising FATAL there is a PANIC, "cannot abort transaction ..., it was
# already committed", and the postmaster restarts the whole server). One session streams
# single-line orders, so that the worker commits a small transaction of its own for nearly
# every one; another terminates the worker (SIGTERM, as a shutdown does) every few
# milliseconds, 2000 times; the next order starts a new one each time. A listener hears
# every event all the same: a worker takes ids off its ring only after the transaction that
# sent them committed, so a worker terminated inside its transaction leaves them for the
# next one (at worst they are sent twice). To have terminations land inside the worker's
# transactions, a third session commits NOTIFYs of its own on another channel (with a row
# written, so that each commit is flushed, with a commit_delay of 5 ms): PostgreSQL's
# NOTIFY queue lock, which a notifying commit holds to its end, is then often held when
# the worker wants it, and the termination interrupts its wait. (Before ids stayed on the
# ring until sent, 10,051 of 20,001 events went unheard here.)
my $busy = preloaded('busy', "synchronous_commit = off\nfsync = on\n");
$busy->safe_psql('postgres', q{CREATE EXTENSION backorder;
	INSERT INTO backorder.item (sku) VALUES ('N1')});
my $orders = PostgreSQL::Test::Utils::tempdir() . '/orders.sql';
PostgreSQL::Test::Utils::append_to_file($orders,
	join('', map { "INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('s$_', 'N1', 1);\n" }
		1 .. 20000));
my $listener = start_listener($busy, 'postgres');
my ($lout, $lerr) = ('', '');
my $load = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $orders, '-d', $busy->connstr('postgres') ],
	'<', \undef, '>', \$lout, '2>', \$lerr);
my $others = PostgreSQL::Test::Utils::tempdir() . '/others.sql';
PostgreSQL::Test::Utils::append_to_file($others,
	"CREATE TABLE noise (x int);\n"
	  . "SET synchronous_commit = on;\nSET commit_delay = 5000;\nSET commit_siblings = 0;\n"
	  . "BEGIN; INSERT INTO noise VALUES (1); NOTIFY other_channel; COMMIT;\n" x 2000);
my ($oout, $oerr) = ('', '');
my $other = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $others, '-d', $busy->connstr('postgres') ],
	'<', \undef, '>', \$oout, '2>', \$oerr);
$busy->safe_psql('postgres', q{
	DO $$
	DECLARE p int;
	BEGIN
	    FOR i IN 1 .. 2000 LOOP
	        PERFORM pg_stat_clear_snapshot();
	        FOR p IN SELECT pid FROM pg_stat_activity WHERE backend_type = 'backorder notifier' LOOP
	            PERFORM pg_terminate_backend(p);
	        END LOOP;
	        PERFORM pg_sleep(0.002);
	    END LOOP;
	END $$});
ok($load->finish, 'the ordering session ran to its end') or diag($lerr);
ok($other->finish, 'and the session notifying on another channel') or diag($oerr);
my $log = slurp_file($busy->logfile);
my $kills = () = $log =~ /terminating background worker "backorder notifier"/g;
unlike($log, qr/PANIC|terminated by signal|all server processes terminated/,
	'the notifier terminated while busy never takes the server down');
cmp_ok($kills, '>=', 50, 'and it was terminated many times');
note("the notifier was terminated $kills times");
is($busy->safe_psql('postgres', q{SELECT count(*) FROM backorder.order_line}), '20000',
	'every order was committed');
verify_is_empty($busy, 'postgres', 'verify() is empty');

# the last worker may have been terminated with ids still on its ring: the next
# notifying commit starts one that sends them
order($busy, 'postgres', 'last');
heard_all($listener, $busy, 'postgres',
	'every event of the orders was heard, however often the worker was terminated');
$busy->stop;

# 4. a worker that fails inside its transaction, and nobody commits after it: its successor
# (registered as it leaves, started a second later) sends what it left. Databases shop and
# gone set lock_timeout = 5ms, so their worker fails ("canceling statement due to lock
# timeout") when it waits that long for PostgreSQL's NOTIFY lock, and a noise session keeps
# that lock taken (each of its commits holds it through a commit_delay of 50 ms).
# Then a database dropped WITH (FORCE) while its ring holds unsent ids: nothing will ever
# send them, and its ring is freed when another database needs it (r1 .. r7 keep seven
# rings busy, r8 needs the eighth).
my $stuck = preloaded('stuck', "synchronous_commit = off\nfsync = on\nmax_worker_processes = 20\n");
$stuck->safe_psql('postgres', 'CREATE TABLE noise (x int)');
for my $db ('shop', 'gone', map { "r$_" } 1 .. 8)
{
	$stuck->safe_psql('postgres', "CREATE DATABASE $db");
	$stuck->safe_psql($db, q{CREATE EXTENSION backorder;
		INSERT INTO backorder.item (sku) VALUES ('N1')});
}
$stuck->safe_psql('postgres', "ALTER DATABASE $_ SET lock_timeout = '5ms'") for ('shop', 'gone');

# orders in $db until its ring holds ids with no worker on it for 0.3 s (a worker failed
# since the last order and its successor waits out its second; a worker that a commit
# starts attaches at once); returns $db then, '' when that never came
sub hold_ids
{
	my ($node, $db) = @_;
	my $where = qq{d.datname = '$db' AND r.waiting_runs > 0 AND r.worker_pid IS NULL};
	for my $k (1 .. 40)
	{
		order($node, $db, "h$k");
		for (1 .. 20)
		{
			if (rings($node, $where))
			{
				usleep(300_000);
				return $db if rings($node, $where);
			}
			usleep(25_000);
		}
	}
	return '';
}

# psql running $sql $n times in database $db of $node, in the background
sub repeat_sql
{
	my ($node, $db, $sql, $n, $setup) = @_;
	my $f = PostgreSQL::Test::Utils::tempdir() . '/repeat.sql';
	PostgreSQL::Test::Utils::append_to_file($f, ($setup // '') . "$sql\n" x $n);
	my ($o, $e) = ('', '');
	return IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $f, '-d', $node->connstr($db) ],
		'<', \undef, '>', \$o, '2>', \$e);
}
sub rings
{
	my ($node, $where) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT coalesce(string_agg(coalesce(d.datname, '(dropped)'), ',' ORDER BY d.datname), '')
		     FROM backorder.notifier_rings() r LEFT JOIN pg_database d ON d.oid = r.datid
		    WHERE $where});
}
my $noise_sql = 'BEGIN; INSERT INTO noise VALUES (1); NOTIFY other_channel; COMMIT;';
my $noise_setup = "SET synchronous_commit = on;\nSET commit_delay = 50000;\nSET commit_siblings = 0;\n";

my $listen4 = start_listener($stuck, 'shop');
$stuck->safe_psql('postgres', 'CREATE EXTENSION backorder');    # for notifier_rings()
my $noise = repeat_sql($stuck, 'postgres', $noise_sql, 400, $noise_setup);    # about 20 s
my $shop_orders = repeat_sql($stuck, 'shop',
	q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('s', 'N1', 1); SELECT pg_sleep(0.01);},
	200);
ok($shop_orders->finish, 'shop: 200 orders while its worker keeps failing');
# orders until the ring holds ids and no worker (one failed since the last order), then no
# commit in shop any more: those ids can only go out with a successor
my $held = hold_ids($stuck, 'shop');
is($held, 'shop', "shop's ring holds ids after its last order, its worker failed");
$noise->kill_kill;
heard_all($listen4, $stuck, 'shop', 'every event of shop was heard, with no commit after the last failure');
my $fails = () = slurp_file($stuck->logfile) =~ /canceling statement due to lock timeout/g;
cmp_ok($fails, '>=', 1, 'the worker did fail inside its transaction');
note("shop's worker failed $fails times");

# gone: its ring keeps ids no worker will send once the database is dropped. Orders in
# gone until its ring holds ids with no worker on it (between two failed attempts), then
# the drop.
$noise = repeat_sql($stuck, 'postgres', $noise_sql, 400, $noise_setup);    # about 20 s
is(hold_ids($stuck, 'gone'), 'gone', "gone's ring holds ids, its worker failed");
$stuck->safe_psql('postgres', 'DROP DATABASE gone WITH (FORCE)');
$noise->kill_kill;
my $stranded = '';
for (1 .. 100)
{
	$stranded = rings($stuck, q{d.datname IS NULL AND r.waiting_runs > 0 AND r.worker_pid IS NULL AND NOT r.starting});
	last if $stranded;
	usleep(100_000);
}
is($stranded, '(dropped)', 'after the drop its ring still holds them, with no worker to come');
# seven databases keep their workers busy, and shop's ring is free (its worker leaves a second
# after its last work; on a loaded machine that may take longer): r1 .. r7 take shop's and six
# free rings; the eighth database needs the ring gone left behind
my $shop_ring = 'shop';
for (1 .. 200)
{
	$shop_ring = rings($stuck,
		q{d.datname = 'shop' AND (r.worker_pid IS NOT NULL OR r.starting OR r.waiting_runs > 0)});
	last if $shop_ring eq '';
	usleep(100_000);
}
is($shop_ring, '', "shop's worker left, and its ring is free to be taken");
my @busy7 = map { repeat_sql($stuck, "r$_",
	q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('b', 'N1', 1); SELECT pg_sleep(0.02);},
	400) } 1 .. 7;
my $have7 = '';
for (1 .. 200)
{
	$have7 = rings($stuck, q{d.datname LIKE 'r_' AND r.worker_pid IS NOT NULL});
	last if $have7 eq 'r1,r2,r3,r4,r5,r6,r7';
	usleep(100_000);
}
is($have7, 'r1,r2,r3,r4,r5,r6,r7', 'r1 .. r7 have their rings, each with its worker');
order($stuck, 'r8', 'last');
is(rings($stuck, 'true'), 'r1,r2,r3,r4,r5,r6,r7,r8',
	'r8 got a ring: the one the dropped database left was freed (8 rings, no other free)');
$_->kill_kill for @busy7;
verify_is_empty($stuck, $_, "verify() is empty in $_") for ('shop', 'r8');
$stuck->stop;

# 5. no worker can start (max_worker_processes = 0): every commit notifies by itself, and
# gives back the ring positions it reserved, so the ring does not fill with void ones
my $noslot = preloaded('noslot', "max_worker_processes = 0\n");
$noslot->safe_psql('postgres', q{CREATE EXTENSION backorder; INSERT INTO backorder.item (sku) VALUES ('N1')});
my $noslot_listener = start_listener($noslot, 'postgres');
order($noslot, 'postgres', "ns$_") for 1 .. 20;
heard_all($noslot_listener, $noslot, 'postgres', 'no worker slot: every event was heard (notified by the committing sessions)');
is($noslot->safe_psql('postgres', q{SELECT coalesce(sum(waiting_runs), 0) FROM backorder.notifier_rings()}),
	'0', 'and no position is left on the ring');

# the same with commits at the same time (eight sessions, an item each, so that their commits
# overlap): a commit that reserved on the ring while another tried to register a worker, and
# that other then could not, left its ids on the ring for a later commit (about 0.5% of them)
$noslot->safe_psql('postgres', 'CREATE DATABASE conc');
$noslot->safe_psql('conc', q{CREATE EXTENSION backorder;
	INSERT INTO backorder.item (sku) SELECT 'C' || g FROM generate_series(1, 8) g});
$noslot_listener = start_listener($noslot, 'conc');
$noslot->pgbench(
	'--no-vacuum --client=8 --jobs=2 --transactions=500',
	0, [qr{processed: 4000/4000}], [qr{^$}],
	'no worker slot: eight sessions order at once',
	{ 'noslot_orders' => q{INSERT INTO backorder.order_line (order_ref, sku, qty) VALUES ('c' || :client_id, 'C' || (:client_id + 1), 1);} },
	'conc');
heard_all($noslot_listener, $noslot, 'conc',
	'no worker slot, commits at the same time: every event was heard');
is($noslot->safe_psql('conc', q{SELECT coalesce(sum(waiting_runs), 0) FROM backorder.notifier_rings()}),
	'0', 'and no position is left on the ring');
$noslot->stop;
done_testing();
