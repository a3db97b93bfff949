#!/usr/bin/env bash
# The test command:  bash test/run.sh
#
# Installs what is missing (apt), builds and installs the extension, then runs every suite and
# ends with one line "N passed, N failed" (the sum over all suites). Exits non-zero when anything
# failed, including a suite that crashed or could not start, or a build that failed.
#
# Suites (all by default; pick some with SUITES="regress pgtap"):
#   regress    pg_regress: sql/*.sql vs expected/*.out            counted per test file
#   isolation  isolation specs: test/specs/*.spec vs test/expected  counted per spec
#   pgtap      pg_prove: test/pgtap/*.sql, each in a fresh database  counted per assertion
#   client     python3 test/client/*.py, each with its own database  counted per script
#   tap        prove: test/tap/*.pl (PostgreSQL::Test::Cluster)       counted per assertion
# regress, isolation, pgtap and client share one throw-away cluster made by pg_virtualenv
# (locale C.UTF-8, TimeZone UTC, a free random port). A pgTAP file runs in a fresh database
# where pgtap and backorder are created; a client script gets the libpq variables (PGHOST,
# PGPORT, PGUSER, PGPASSWORD) and PGDATABASE naming a fresh database where backorder is
# created. The tap tests start their own clusters and run as user postgres in a copy of the
# repository, with TESTDIR and BACKORDER_ROOT set to that copy, PG_REGRESS, and PATH starting
# with the PostgreSQL 15 bin directory.
#
# Environment:
#   SUITES                  the suites to run (space separated)
#   BACKORDER_TEST_TIMEOUT  seconds one test file (or one pg_regress run) may take; default 1200
#   BACKORDER_PYTHON        the interpreter for test/client/*.py; default /usr/bin/python3
#   BACKORDER_PGOPTIONS     extra "guc=value ..." settings for the shared throw-away cluster
#   BACKORDER_PGPORT        its port, instead of a free one picked at random
#   BACKORDER_DESTDIR       install into this (absolute) staging directory instead of the system
#                           and load the extension from there (Debian's extension_destdir)
#   TAP_TESTS               a glob of the tap tests to run (default *: all), e.g. "00[15]_*"
#   BACKORDER_KEEP_TMP=1    keep the temporary directory (logs, tap copy) and print its path
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/lib.sh"
shopt -s nullglob

ALL_SUITES="regress isolation pgtap client tap"
CLUSTER_SUITES="regress isolation pgtap client"
SUITES=${SUITES:-$ALL_SUITES}
TIMEOUT=${BACKORDER_TEST_TIMEOUT:-1200}
PYTHON=${BACKORDER_PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
export SUITES

header() {
    echo
    echo "==================== $* ===================="
}

# One result line per suite (or per part of one) in $RESULTS: "<suite> <passed> <failed>".
record() {
    echo "$1 $2 $3" >>"$RESULTS"
}

wants() {
    case " $SUITES " in *" $1 "*) return 0 ;; esac
    return 1
}

# Print a file for the CI log, bounded so that a runaway diff cannot drown everything else.
show_file() {
    local f=$1 max=${2:-3000}
    [ -f "$f" ] || return 0
    echo "----- $f -----"
    head -n "$max" "$f"
    local n
    n=$(wc -l <"$f")
    [ "$n" -gt "$max" ] && echo "... ($((n - max)) more lines in $f)"
    echo "----- end of $f -----"
}

# Count the top-level assertions of verbose prove/pg_prove output: sets TAP_OK, TAP_NOTOK, TAP_PLAN.
# "not ok ... # TODO" is an expected failure and counts as passed, as prove itself judges it.
count_tap() {
    read -r TAP_OK TAP_NOTOK TAP_PLAN < <(awk '
        /^ok [0-9]+/                                   { ok++; next }
        /^not ok [0-9]+/ { if ($0 ~ /#[ \t]*[Tt][Oo][Dd][Oo]/) ok++; else nok++; next }
        /^1\.\.[0-9]+/ { p = $0; sub(/^1\.\./, "", p); sub(/[^0-9].*$/, "", p); plan = p + 0 }
        END { printf "%d %d %d\n", ok, nok, (plan == "" ? -1 : plan) }' "$1")
}

# Turn a pass count, a fail count, the number expected and an exit code into the final
# pass/fail pair: missing results are failures, and so is a non-zero exit with no failure seen.
settle() {
    local ok=$1 bad=$2 expect=$3 rc=$4
    if [ "$expect" -ge 0 ] && [ $((ok + bad)) -lt "$expect" ]; then
        bad=$((expect - ok))
    fi
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1
    fi
    echo "$ok $bad"
}

# ---------------------------------------------------------------- pg_regress and isolation
# Runs `make installcheck` restricted to one kind of test (the other list emptied on the command
# line), so that a failing regress run does not keep the isolation specs from running. Our
# TAP_TESTS (a glob) is kept from make: PGXS reads a TAP_TESTS of its own and would then run
# prove on t/*.pl, which this repository does not have, and fail the suite.
run_installcheck() {
    local suite=$1 expect=$2 outdir=$3 log=$WORK/$1.log rc
    shift 3
    rm -rf "$outdir/results" "$outdir/regression.diffs" "$outdir/regression.out"
    (cd "$BACKORDER_ROOT" && timeout -k 30 "$TIMEOUT" env -u TAP_TESTS make installcheck PG_CONFIG="$PG_CONFIG" "$@") \
        >"$log" 2>&1
    rc=$?
    cat "$log"
    [ $rc -eq 124 ] && echo "!! $suite: timed out after ${TIMEOUT}s"
    local ok bad
    # pg_regress prints one line per test: "test name ... ok 12 ms", "     name ... FAILED 9 ms"
    # (in a parallel group), "... failed (ignored)" for an ignored test.
    ok=$(grep -cE '\.\.\. +(ok|failed \(ignored\))' "$log")
    bad=$(grep -E '\.\.\. +(FAILED|failed)' "$log" | grep -vc 'failed (ignored)')
    read -r ok bad < <(settle "$ok" "$bad" "$expect" "$rc")
    if [ "$bad" -gt 0 ]; then
        echo "!! $suite: $bad of $expect failed (make exit code $rc)"
        show_file "$outdir/regression.diffs"
    fi
    echo "-- $suite: passed=$ok failed=$bad"
    record "$suite" "$ok" "$bad"
}

suite_regress() {
    header "regress: pg_regress, sql/*.sql vs expected/*.out"
    local tests=("$BACKORDER_ROOT"/sql/*.sql)
    if [ ${#tests[@]} -eq 0 ]; then
        echo "no files in sql/: skipped"
        record regress 0 0
        return
    fi
    run_installcheck regress ${#tests[@]} "$BACKORDER_ROOT" ISOLATION=
}

suite_isolation() {
    header "isolation: pg_isolation_regress, test/specs/*.spec vs test/expected/*.out"
    local specs=("$BACKORDER_ROOT"/test/specs/*.spec)
    if [ ${#specs[@]} -eq 0 ]; then
        echo "no files in test/specs/: skipped"
        record isolation 0 0
        return
    fi
    run_installcheck isolation ${#specs[@]} "$BACKORDER_ROOT/output_iso" REGRESS=
    local perms
    perms=$(cat "$BACKORDER_ROOT"/output_iso/results/*.out 2>/dev/null | grep -c '^starting permutation')
    echo "   (the specs ran $perms permutations in all)"
}

# Wait (up to a minute) until the throw-away cluster accepts connections again.
wait_for_server() {
    local _
    for _ in $(seq 60); do
        psql -X -q -At -c 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 1
    done
    echo "!! the server does not accept connections"
    return 1
}

# A fresh database named after a test file, with the given extensions created in it.
fresh_db() {
    local db=$1 ext
    shift
    dropdb --if-exists --force "$db" >/dev/null 2>&1
    createdb "$db" || return 1
    for ext in "$@"; do
        psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION $ext" || return 1
    done
}

db_name() {
    local n
    n=$(basename "$2")
    n=${n%.*}
    echo "${1}_$(echo "$n" | tr -c 'A-Za-z0-9_\n' '_' | cut -c1-50)"
}

# ---------------------------------------------------------------- pgTAP
suite_pgtap() {
    header "pgtap: pg_prove, test/pgtap/*.sql (each in a fresh database)"
    local files=("$BACKORDER_ROOT"/test/pgtap/*.sql)
    if [ ${#files[@]} -eq 0 ]; then
        echo "no files in test/pgtap/: skipped"
        record pgtap 0 0
        return
    fi
    local f rel db log rc ok bad total_ok=0 total_bad=0
    for f in "${files[@]}"; do
        rel=test/pgtap/$(basename "$f")
        db=$(db_name pgtap "$f")
        log=$WORK/pgtap_$(basename "$f").log
        if ! fresh_db "$db" pgtap backorder >"$log" 2>&1; then
            echo "!! $rel: could not create database $db with extensions pgtap, backorder"
            cat "$log"
            total_bad=$((total_bad + 1))
            continue
        fi
        (cd "$BACKORDER_ROOT" && timeout -k 30 "$TIMEOUT" pg_prove --verbose -d "$db" "$rel") \
            >"$log" 2>&1
        rc=$?
        count_tap "$log"
        read -r ok bad < <(settle "$TAP_OK" "$TAP_NOTOK" "$TAP_PLAN" "$rc")
        total_ok=$((total_ok + ok))
        total_bad=$((total_bad + bad))
        if [ "$bad" -gt 0 ]; then
            [ $rc -eq 124 ] && echo "!! $rel: timed out after ${TIMEOUT}s"
            echo "!! $rel: $bad of $((ok + bad)) assertions failed (pg_prove exit code $rc):"
            sed 's/^/   /' "$log"
        else
            echo "ok   $rel ($ok assertions)"
        fi
        dropdb --if-exists --force "$db" >/dev/null 2>&1
    done
    echo "-- pgtap: passed=$total_ok failed=$total_bad"
    record pgtap "$total_ok" "$total_bad"
}

# ---------------------------------------------------------------- client scripts
# Each script runs with Debian's python3 (the one python3-psycopg2 is for, not whichever python3
# comes first in PATH) from the repository root, with the libpq variables of the
# throw-away cluster and PGDATABASE set to a fresh database in which backorder is created.
suite_client() {
    header "client: python3 test/client/*.py (each with a fresh database)"
    local files=("$BACKORDER_ROOT"/test/client/*.py)
    if [ ${#files[@]} -eq 0 ]; then
        echo "no files in test/client/: skipped"
        record client 0 0
        return
    fi
    local f rel db log rc ok=0 bad=0
    for f in "${files[@]}"; do
        rel=test/client/$(basename "$f")
        db=$(db_name client "$f")
        log=$WORK/client_$(basename "$f").log
        if ! fresh_db "$db" backorder >"$log" 2>&1; then
            echo "!! $rel: could not create database $db with extension backorder"
            cat "$log"
            bad=$((bad + 1))
            continue
        fi
        (cd "$BACKORDER_ROOT" && PGDATABASE=$db timeout -k 30 "$TIMEOUT" "$PYTHON" "$rel" </dev/null) \
            >"$log" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
            ok=$((ok + 1))
            echo "ok   $rel"
            sed 's/^/   | /' "$log" | tail -n 40
        else
            bad=$((bad + 1))
            [ $rc -eq 124 ] && echo "!! $rel: timed out after ${TIMEOUT}s"
            echo "!! $rel: FAILED (exit code $rc):"
            sed 's/^/   | /' "$log"
        fi
        dropdb --if-exists --force "$db" >/dev/null 2>&1
    done
    echo "-- client: passed=$ok failed=$bad"
    record client "$ok" "$bad"
}

# ---------------------------------------------------------------- Perl TAP
# PostgreSQL::Test::Cluster runs initdb and the server itself, which PostgreSQL refuses as root:
# the tests run as user postgres, from a copy of the repository owned by postgres (TESTDIR is
# that copy, so each test's clusters and logs land in its tmp_check/).
suite_tap() {
    header "tap: prove, test/tap/*.pl (PostgreSQL::Test::Cluster, as user postgres)"
    local files=("$BACKORDER_ROOT"/test/tap/${TAP_TESTS:-*}.pl)
    if [ ${#files[@]} -eq 0 ]; then
        echo "no files in test/tap/: skipped"
        record tap 0 0
        return
    fi
    local copy=$WORK/tap-repo runas=()
    mkdir -p "$copy"
    tar -C "$BACKORDER_ROOT" --exclude=./.git --exclude=./tmp_check --exclude=./results \
        --exclude=./output_iso -cf - . | tar -C "$copy" -xf -
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres:postgres "$copy"
        chmod 755 "$WORK"
        runas=(runuser -u postgres --)
    fi
    # Cluster.pm appends $TEMP_CONFIG to every node's postgresql.conf
    local temp_config=
    if [ -n "${BACKORDER_DESTDIR:-}" ] || [ -n "${TEMP_CONFIG:-}" ]; then
        temp_config=$WORK/tap_temp_config.conf
        { [ -n "${TEMP_CONFIG:-}" ] && cat "$TEMP_CONFIG"
          [ -n "${BACKORDER_DESTDIR:-}" ] && echo "extension_destdir = '$BACKORDER_DESTDIR'"
        } >"$temp_config"
        chmod 644 "$temp_config"
    fi
    local f rel name log rc ok bad total_ok=0 total_bad=0
    for f in "${files[@]}"; do
        rel=test/tap/$(basename "$f")
        name=$(basename "$f" .pl)
        log=$WORK/tap_$name.log
        (cd "$copy" && "${runas[@]}" env \
            PATH="$PG_BINDIR:$PATH" \
            LANG=C.UTF-8 \
            TESTDIR="$copy" \
            PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
            PG_CONFIG="$PG_CONFIG" \
            BACKORDER_ROOT="$copy" \
            BACKORDER_PRELOAD_NAME="${BACKORDER_DESTDIR:+$BACKORDER_DESTDIR$("$PG_CONFIG" --pkglibdir)/}backorder" \
            ${temp_config:+TEMP_CONFIG="$temp_config"} \
            timeout -k 30 "$TIMEOUT" \
            prove --verbose -I "$PGXS_DIR/src/test/perl" -I "$copy/test/tap" "$rel" </dev/null) \
            >"$log" 2>&1
        rc=$?
        # a test killed by the timeout (or dying oddly) leaves its servers running: stop them
        local pid_file
        for pid_file in "$copy"/tmp_check/t_"${name}"_*_data/pgdata/postmaster.pid; do
            echo "   (stopping a server the test left running: ${pid_file%/postmaster.pid})"
            "${runas[@]}" "$PG_BINDIR/pg_ctl" -D "${pid_file%/postmaster.pid}" -m immediate -w stop \
                >/dev/null 2>&1
        done
        count_tap "$log"
        read -r ok bad < <(settle "$TAP_OK" "$TAP_NOTOK" "$TAP_PLAN" "$rc")
        total_ok=$((total_ok + ok))
        total_bad=$((total_bad + bad))
        if [ "$bad" -gt 0 ]; then
            [ $rc -eq 124 ] && echo "!! $rel: timed out after ${TIMEOUT}s"
            echo "!! $rel: $bad of $((ok + bad)) assertions failed (prove exit code $rc):"
            sed 's/^/   /' "$log"
            local l
            show_file "$copy/tmp_check/log/regress_log_$name" 400
            for l in "$copy"/tmp_check/log/"${name}"_*.log; do
                echo "----- last lines of $l -----"
                tail -n 60 "$l"
            done
        else
            echo "ok   $rel ($ok assertions)"
        fi
    done
    echo "-- tap: passed=$total_ok failed=$total_bad"
    record tap "$total_ok" "$total_bad"
}

# ---------------------------------------------------------------- inside the throw-away cluster
if [ "${1:-}" = "--in-cluster" ]; then
    echo "throw-away cluster: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER"
    psql -X -At -c 'SELECT version()'
    for s in $CLUSTER_SUITES; do
        wants "$s" || continue
        # after a crash in the previous suite the server restarts itself: give it a moment
        if [ -s "$RESULTS" ] && [ "$(tail -n 1 "$RESULTS" | cut -d' ' -f3)" != 0 ]; then
            sleep 2
        fi
        wait_for_server
        "suite_$s"
    done
    exit 0
fi

# ---------------------------------------------------------------- main
for s in $SUITES; do
    case " $ALL_SUITES " in
        *" $s "*) ;;
        *) echo "unknown suite '$s' in SUITES (known: $ALL_SUITES)" >&2; exit 2 ;;
    esac
done

WORK=$(mktemp -d /tmp/backorder-test.XXXXXX)
RESULTS=$WORK/results
: >"$RESULTS"
export WORK RESULTS
if [ "${BACKORDER_KEEP_TMP:-}" = 1 ]; then
    trap 'echo "logs kept in $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi

header "setup: packages, build, install"
echo "repository: $BACKORDER_ROOT"
echo "suites: $SUITES"
if ! ensure_packages; then
    echo "!! could not install the packages" >&2
    record setup 0 1
elif ! build_and_install; then
    echo "!! the build or install failed" >&2
    record build 0 1
else
    cluster_wanted=
    for s in $CLUSTER_SUITES; do wants "$s" && cluster_wanted=1; done
    if [ -n "$cluster_wanted" ]; then
        in_throwaway_cluster bash "$HERE/run.sh" --in-cluster
        rc=$?
        # a suite that never reported (the cluster did not start, the runner died) failed
        for s in $CLUSTER_SUITES; do
            if wants "$s" && ! grep -q "^$s " "$RESULTS"; then
                echo "!! $s: did not run (pg_virtualenv exit code $rc)"
                record "$s" 0 1
            fi
        done
    fi
    wants tap && suite_tap
fi

header "summary"
awk '{ p[$1] += $2; f[$1] += $3; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
     END { for (i = 0; i < n; i++) printf "  %-10s passed=%-6d failed=%d\n", order[i], p[order[i]], f[order[i]] }' \
    "$RESULTS"
read -r PASSED FAILED < <(awk '{ p += $2; f += $3 } END { printf "%d %d\n", p, f }' "$RESULTS")
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
