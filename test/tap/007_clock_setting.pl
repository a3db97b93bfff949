# backorder.clock in the server's configuration, where a bad value must not take the server
# down: PostgreSQL 15 raises an error itself for an unknown time zone name, and in the
# postmaster (reading the configuration) an error is FATAL. A value written by hand (or by
# ALTER SYSTEM of an older build, which did not check it) is logged and ignored, on reload
# and at start; SET and ALTER SYSTEM refuse it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use BackorderTest;

my $node = PostgreSQL::Test::Cluster->new('clock');
$node->init;
$node->append_conf('postgresql.conf', qq(shared_preload_libraries = '$PRELOAD'\n));
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION backorder;
INSERT INTO backorder.item (sku) VALUES ('A');
});

# a good value from the configuration is used by the engine
$node->append_conf('postgresql.conf', qq(backorder.clock = '2026-01-05 09:00 Europe/Paris'\n));
$node->reload;
is($node->safe_psql('postgres', q{INSERT INTO backorder.receipt (sku, qty) VALUES ('A', 1) RETURNING received_at}),
	'2026-01-05 08:00:00+00', 'a clock in the configuration (Paris time) stamps a receipt');

# an unknown time zone name: reload logs it, keeps the old value, and the server stays up
my $log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', qq(backorder.clock = '2026-01-05 09:00 Europe/Pariss'\n));
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT true}), 'reload with a misspelt time zone: the server is up');
ok($node->wait_for_log(qr/invalid value for parameter "backorder.clock": "2026-01-05 09:00 Europe\/Pariss"/, $log_offset),
	'the bad value is logged');
is($node->safe_psql('postgres', 'SHOW backorder.clock'), '2026-01-05 09:00 Europe/Paris',
	'the previous value stays in force');

# and at start: the server starts, the setting is ignored (empty: the real clock)
$node->restart;
is($node->safe_psql('postgres', 'SHOW backorder.clock'), '', 'restart with the bad value: started, setting ignored');
is($node->safe_psql('postgres', q{INSERT INTO backorder.receipt (sku, qty) VALUES ('A', 1) RETURNING received_at = now()}),
	't', 'a receipt is stamped with the real time');

# SET and ALTER SYSTEM refuse bad values with the documented SQLSTATEs
my ($rc, $out, $err) = $node->psql('postgres', q{SET backorder.clock = 'now'});
like($err, qr/invalid value for parameter "backorder.clock": "now"/, "SET backorder.clock = 'now' is refused (it moves)");
($rc, $out, $err) = $node->psql('postgres', q{\set VERBOSITY verbose
ALTER SYSTEM SET backorder.clock = '2026-01-05 09:00 Mars/Olympus'});
like($err, qr/22023: invalid value for parameter "backorder.clock"/, 'ALTER SYSTEM with an unknown time zone: 22023');
($rc, $out, $err) = $node->psql('postgres', q{\set VERBOSITY verbose
SET backorder.clock = 'infinity'});
like($err, qr/22008: invalid value for parameter "backorder.clock": "infinity"/, 'SET backorder.clock = infinity: 22008');
verify_is_empty($node, 'postgres', 'verify() is empty');

$node->stop;
done_testing();
