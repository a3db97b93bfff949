
# BackorderTest: what the TAP tests of test/tap share. A test loads it with
#
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use BackorderTest;
#
# (test/run.sh also puts test/tap on prove's include path). Not named *.pl: test/run.sh runs
# each test/tap/*.pl as a test.
#
#   build_shop($node, $db, $who)
#       Runs shop_scenario.sql (next to this file) in database $db of $node, where backorder
#       must not be created yet, and asserts that the shop has purchase orders in every state
#       (one assertion, named "$who has purchase orders in every state").
#   $PRELOAD
#       What to put in shared_preload_libraries for backorder: 'backorder', or the path of
#       the staged library when test/run.sh runs with BACKORDER_DESTDIR (the preloaded file
#       must be the one CREATE EXTENSION loads).
#   verify_is_empty($node, $db, $name)
#       Asserts that backorder.verify() returns no row in database $db of $node (one
#       assertion, named $name); on failure it shows the first 20 rows verify() returned.
package BackorderTest;

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use PostgreSQL::Test::Utils qw(slurp_file);
use Test::More;

our @EXPORT = qw(build_shop verify_is_empty $PRELOAD);

our $PRELOAD = $ENV{BACKORDER_PRELOAD_NAME} // 'backorder';

my $scenario_file = File::Spec->catfile(File::Spec->rel2abs(dirname(__FILE__)), 'shop_scenario.sql');

sub build_shop
{
	my ($node, $db, $who) = @_;
	$node->safe_psql($db, slurp_file($scenario_file));
	is( $node->safe_psql(
			$db,
			q{SELECT string_agg(DISTINCT status::text, ',' ORDER BY status::text) FROM backorder.purchase_order}),
		'cancelled,draft,issued,received',
		"$who has purchase orders in every state");
}

sub verify_is_empty
{
	my ($node, $db, $name) = @_;
	is($node->safe_psql($db, 'SELECT count(*) FROM backorder.verify()'), '0', $name)
	  or diag($node->safe_psql($db, 'SELECT * FROM backorder.verify() LIMIT 20'));
}

1;
