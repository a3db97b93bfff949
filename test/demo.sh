#!/usr/bin/env bash
# The demo:  bash test/demo.sh
#
# Installs what is missing (apt), builds and installs the extension, then runs test/demo.sql
# (a flash sale: stock, orders, backorders, a receipt that fills the queue) with psql on a
# throw-away PostgreSQL 15 cluster and prints what it shows. The cluster is dropped afterwards.
# BACKORDER_DESTDIR works as for test/run.sh (install into a staging directory instead).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/lib.sh"

ensure_packages || { echo "demo: could not install the packages" >&2; exit 1; }

# keep the compiler's chatter out of the demo unless the build fails
build_log=$(mktemp /tmp/backorder-demo-build.XXXXXX)
trap 'rm -f "$build_log"' EXIT
echo "building and installing the extension ..."
if ! build_and_install >"$build_log" 2>&1; then
    cat "$build_log"
    echo "demo: the build or install failed" >&2
    exit 1
fi

in_throwaway_cluster psql -X -v ON_ERROR_STOP=1 -f "$HERE/demo.sql"
