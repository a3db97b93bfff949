#!/bin/bash
# test/bench/run.sh: the backorder benchmark, one command. On a throwaway cluster it compares
#   plain      the same tables without triggers (the limit),
#   plbase     a straightforward PL/pgSQL trigger implementation (the baseline to beat),
#   backorder  the extension (column n/a when CREATE EXTENSION fails),
# and writes the table to test/bench/results/latest.txt (run log: latest.log, raw numbers: latest.raw;
# QUICK=1 writes latest-quick.*) and a dated copy.
# Knobs: BENCH_SECONDS (8), BENCH_REPEAT (3), QUICK=1 (tiny smoke test), BENCH_INSTALL=1 (make
# install first), BENCH_WORKLOADS, BENCH_VARIANTS, BENCH_SKUS, BENCH_BULK, BENCH_SHIP_LINES,
# BENCH_TIMEOUT, BENCH_SCHEMA: see inner.sh;
# BENCH_PG_OPTS: more pg_virtualenv options (e.g. "-o fsync=off" for a faster, less meaningful run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$here/results"

if [ "${BENCH_INSTALL:-0}" = 1 ]; then make -C "$repo" install >&2; fi
BENCH_GIT=$(git -C "$repo" log -1 --format='commit %h %cs' 2>/dev/null || echo 'no commit')
[ -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ] && BENCH_GIT="$BENCH_GIT + uncommitted changes"
export BENCH_GIT

out=$(mktemp -d /tmp/backorder-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
# fsync=on (pg_virtualenv's default is off): workload 8 (synchronous_commit=on) means nothing without it
opts=(-o shared_buffers=1GB -o synchronous_commit=off -o fsync=on -o max_wal_size=8GB -o checkpoint_timeout=30min)
# backorder preloaded, as the README recommends: its notifier worker sends the NOTIFYs after
# commit (BENCH_PRELOAD=0: every transaction notifies by itself); not when it is not installed
pgcfg=/usr/lib/postgresql/15/bin/pg_config; [ -x "$pgcfg" ] || pgcfg=pg_config
if [ "${BENCH_PRELOAD:-1}" = 1 ] && [ -e "$("$pgcfg" --pkglibdir)/backorder.so" ]; then
    opts+=(-o shared_preload_libraries=backorder)
fi
read -r -a extra <<< "${BENCH_PG_OPTS:-}"   # more pg_virtualenv options, e.g. "-o work_mem=64MB"
opts+=("${extra[@]}")
# root cannot run postgres: as root, run the cluster as postgres in its own temporary directory
# (pg_virtualenv run by root would use the shared cluster name 15/regress)
as=()
if [ "$(id -u)" = 0 ]; then chown postgres "$out"; as=(runuser -u postgres --); fi
status=0
(cd "$out" && BENCH_OUT=$out "${as[@]}" pg_virtualenv "${opts[@]}" bash "$here/inner.sh") || status=$?

name=latest; [ "${QUICK:-0}" = 1 ] && name=latest-quick   # a smoke test keeps latest.txt
cp "$out/bench.log" "$here/results/$name.log" 2>/dev/null || true
cp "$out/raw.txt" "$here/results/$name.raw" 2>/dev/null || true
if [ $status != 0 ] || [ ! -s "$out/report.txt" ]; then
    echo "benchmark failed (status $status), see $here/results/$name.log" >&2
    tail -n 20 "$out/bench.log" >&2 || true
    exit 1
fi
cp "$out/report.txt" "$here/results/$name.txt"
cp "$out/report.txt" "$here/results/$(date +%Y%m%d-%H%M%S)${name#latest}.txt"
cat "$here/results/$name.txt"
