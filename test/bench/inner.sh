#!/bin/bash
# Runs inside a pg_virtualenv cluster (started by run.sh): builds the variants plain, plbase and
# backorder side by side in database "bench", runs every workload for each of them (interleaved,
# BENCH_REPEAT times) and writes report.txt, raw.txt and bench.log into $BENCH_OUT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:?}

if [ "${QUICK:-0}" = 1 ]; then   # smoke test: everything tiny
    : "${BENCH_SECONDS:=2}" "${BENCH_REPEAT:=1}" "${BENCH_SKUS:=1000}" "${BENCH_BULK:=2000}" "${BENCH_TIMEOUT:=30}" "${BENCH_SHIP_LINES:=2000}"
fi
SECS=${BENCH_SECONDS:-8}       # pgbench seconds (8 and the 60 s timeout: a full run in ~15 min)
REPEAT=${BENCH_REPEAT:-3}
NSKU=${BENCH_SKUS:-10000}      # SKUs of workloads 1 and 6
NBULK=${BENCH_BULK:-100000}    # lines of the bulk inserts and of the receipt's queue
NSHIP=${BENCH_SHIP_LINES:-100000}  # lines workload 10 ships from
TIMEOUT=${BENCH_TIMEOUT:-60}   # statement_timeout (s) of the bulk and receipt statements
SCHEMA=${BENCH_SCHEMA:-$repo/src/sql/10_schema.sql}  # the tables, copied for plain and plbase
VARIANTS=${BENCH_VARIANTS:-plain plbase backorder}
WORKLOADS=${BENCH_WORKLOADS:-uniform hot8 hot32 bulk1 bulk1small bulkn receipt supplier_backorder supplier_stocked mixed_hot hot32_sync uniform_quiet hot32_quiet ship}

log=$out/bench.log raw=$out/raw.txt
: > "$log"; : > "$raw"
export PGDATABASE=bench
createdb bench
q() { psql -X -q -v ON_ERROR_STOP=1 "$@" >> "$log" 2>&1; }
say() { echo "$(date +%T) $*" | tee -a "$log" >&2; }

have_ext=0
if psql -X -q -c 'CREATE EXTENSION backorder' >> "$log" 2>&1; then have_ext=1
else say "CREATE EXTENSION backorder failed: the backorder column is n/a"; fi

# reset <variant> <items> [<stock per item> [<supplier: true/false>]]: fresh tables (dropped and
# created again), then seed.sql
reset() {
    local v=$1 n=$2 stock=${3:-5} sup=${4:-false}
    if [ "$v" = backorder ]; then
        q -c 'DROP EXTENSION IF EXISTS backorder CASCADE' -c 'DROP SCHEMA IF EXISTS backorder CASCADE' \
          -c 'CREATE EXTENSION backorder' || return
    else
        { echo "DROP SCHEMA IF EXISTS $v CASCADE; CREATE SCHEMA $v;"
          # (without the install script's guard of schema backorder, which holds the extension)
          sed -e '/^\\echo/d' -e '/pg_extension_config_dump/d' -e '/^DO \$guard\$/,/^\$guard\$;/d' \
              -e "s/backorder\./$v./g" "$SCHEMA"
          cat "$here/$v.sql"; } | q || return
    fi
    q -v v="$v" -v n="$n" -v stock="$stock" -v supplier="$sup" -v plain="$([ "$v" = plain ] && echo true || echo false)" -f "$here/seed.sql"
}

# script <name>: writes the pgbench script read from stdin to $out/<name>.pgb, prints its path
script() { cat > "$out/$1.pgb"; echo "$out/$1.pgb"; }

# bench <clients> <script> [<output file>]: runs pgbench; prints the tps (or error); pgbench's
# output goes to the log (or to the output file)
bench() {
    local o
    if o=$(pgbench -n -M prepared -c "$1" -j $(( $1 < 2 ? 1 : 2 )) -T "$SECS" -P 2 -f "$2" 2>&1); then
        awk '/^tps = / { printf "%.1f", $3; ok = 1 } END { if (!ok) print "error" }' <<< "$o"
    else echo error; fi
    echo "$o" >> "${3:-$log}"
}

# writes3 <clients> <highest sku>: the reference of an order's three writes (INSERT line, INSERT
# event, UPDATE item by key) in one plain SQL statement on plain's tables, no logic; prints the tps
writes3() {
    bench "$1" "$(script "ref3.$1.$2" <<EOF
\set sku random(1, $2)
\set qty random(1, 3)
WITH l AS (INSERT INTO plain.order_line (order_ref, sku, qty) VALUES ('c' || :client_id, 'S' || :sku, :qty)
           RETURNING line_id, sku, qty),
     e AS (INSERT INTO plain.event (at, kind, sku, line_id, qty)
           SELECT now(), 'line_backordered', sku, line_id, qty FROM l RETURNING sku, qty)
UPDATE plain.item SET backordered = backordered + (SELECT qty FROM e) WHERE sku = (SELECT sku FROM e);
EOF
)"
}

# pgb <variant> <clients> <highest sku>: one single-line order per transaction; sets val to tps
pgb() {
    val=$(bench "$2" "$(script "order.$1.$3" <<EOF
\set sku random(1, $3)
\set qty random(1, 3)
INSERT INTO $1.order_line (order_ref, sku, qty) VALUES ('c' || :client_id, 'S' || :sku, :qty);
EOF
)")
}

# mixed <variant>: 8 clients order S1 (as pgb) while one more client receives 1..5 units of S1
# per transaction (a second pgbench at the same time); sets val (orders tps) and val2 (receipts)
mixed() {
    local f
    f=$(script "receipt.$1" <<EOF
\set qty random(1, 5)
INSERT INTO $1.receipt (sku, qty) VALUES ('S1', :qty);
EOF
)
    bench 1 "$f" "$out/receipts.log" > "$out/receipts.tps" &
    pgb "$1" 8 1
    wait $! || true
    val2=$(cat "$out/receipts.tps"); cat "$out/receipts.log" >> "$log"; rm -f "$out"/receipts.*
}

# timed <sql>: runs one statement under statement_timeout; sets val to ms, timeout or error
timed() {
    local o
    o=$(psql -X -q -At 2>> "$log" <<EOF
SET statement_timeout = '${TIMEOUT}s';
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$1;
\if :ERROR
\echo ERR :SQLSTATE
\else
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric * 1000, 1) AS ms \gset
\echo MS :ms
\endif
EOF
)
    case $o in MS\ *) val=${o#MS } ;; "ERR 57014") val=timeout ;; *) val=error ;; esac
}

# queue <variant>: NBULK waiting lines of one unit each for item Q, in statements of 1000 lines
queue() {
    local b=$(( NBULK < 1000 ? NBULK : 1000 ))
    for ((i = 0; i < NBULK; i += b)); do
        echo "INSERT INTO $1.order_line (order_ref, sku, qty) SELECT 'q' || g, 'Q', 1 FROM generate_series($i + 1, $i + $b) g;"
    done | q &&
    q -c "VACUUM ANALYZE $1.item, $1.order_line, $1.event" -c CHECKPOINT
}

# shipping <variant>: NSHIP lines of 1000 units each over the NSKU items (all allocated: the
# items have ample stock), the lines workload 10 ships from
shipping() {
    q -c "INSERT INTO $1.order_line (order_ref, sku, qty)
          SELECT 'o' || g, 'S' || (1 + g % $NSKU), 1000 FROM generate_series(1, $NSHIP) g" &&
    q -c "VACUUM ANALYZE $1.item, $1.order_line" -c CHECKPOINT
}

bulk_sql() {  # bulk_sql <variant> <lines> <sku expression>
    echo "INSERT INTO $1.order_line (order_ref, sku, qty) SELECT 'b' || g, $3, 1 + g % 3 FROM generate_series(1, $2) g"
}

# record <workload> <variant> <value>: one raw result
record() {
    say "rep $rep $1 $2: $3"
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$rep" "$3" >> "$raw"
}

declare -A capped   # workload.variant that hit the statement timeout: not run again
measure() {  # measure <workload> <variant>: runs one workload on one variant, records the result(s)
    local w=$1 v=$2 val= val2= ref= ref3= items=$NSKU stock=5 sup=false
    if [ "$v" = backorder ] && [ $have_ext = 0 ]; then record "$w" "$v" n/a; return; fi
    case $w.$v in   # plain has no receipt logic, plain and plbase no purchase orders
        supplier_*.plain | supplier_*.plbase | *_quiet.plbase) record "$w" "$v" -; return ;;
        receipt.plain)   # no receipt logic; its reference: writing the receipt's event rows alone
            if reset plain 1; then
                timed "INSERT INTO plain.event (at, kind, sku, order_ref, line_id, qty)
                       SELECT now(), 'line_allocated', 'Q', 'q' || g, g, 1 FROM generate_series(1, $NBULK) g"
                [[ $val =~ ^[0-9.]+$ ]] && val=$(awk -v ms="$val" -v n="$NBULK" 'BEGIN { printf "%.2f", ms * 1000 / n }')
                record receipt_ref plain "$val"
            fi
            record "$w" "$v" -; return ;;
    esac
    if [ -n "${capped[$w.$v]:-}" ]; then record "$w" "$v" timeout; return; fi
    case $w in
        bulkn) items=$NBULK ;;
        supplier_backorder) stock=0 sup=true ;;
        supplier_stocked | ship) stock=1000000 ;;&
        supplier_stocked) sup=true ;;
    esac
    if ! { reset "$v" "$items" "$stock" "$sup" && { [ "$w" != receipt ] || queue "$v"; } &&
           { [ "$w" != ship ] || shipping "$v"; }; }; then
        say "WARNING: setting up $w/$v failed, see the log"; record "$w" "$v" error; return
    fi
    case $w in
        supplier_*) pgb "$v" 8 "$NSKU" ;;
        uniform)    pgb "$v" 8 "$NSKU"
                    if [ "$v" = plain ]; then   # the reference: the three writes of an order in one statement
                        ref=$(writes3 8 "$NSKU")
                    fi ;;
        hot8 | hot32)
                    pgb "$v" "${w#hot}" 1
                    if [ "$v" = plain ]; then   # the reference: a bare update of one row per transaction
                        ref=$(bench "${w#hot}" "$(script "ref.$w" <<< "UPDATE plain.item SET on_hand = on_hand + 1 WHERE sku = 'S1';")")
                        # and the three writes of an order on the hot item
                        ref3=$(writes3 "${w#hot}" 1)
                    fi ;;
        uniform_quiet) PGOPTIONS='-c backorder.notify=off' pgb "$v" 8 "$NSKU" ;;
        hot32_quiet)   PGOPTIONS='-c backorder.notify=off' pgb "$v" 32 1 ;;
        mixed_hot)  mixed "$v" ;;
        hot32_sync) export PGOPTIONS='-c synchronous_commit=on'
                    pgb "$v" 32 1
                    if [ "$v" = plain ]; then   # the reference: a bare update of one row per transaction
                        ref=$(bench 32 "$(script ref.sync <<< "UPDATE plain.item SET on_hand = on_hand + 1 WHERE sku = 'S1';")")
                    fi
                    unset PGOPTIONS ;;
        bulk1)      timed "$(bulk_sql "$v" "$NBULK" "'S1'")" ;;
        bulk1small) timed "$(bulk_sql "$v" $((NBULK / 10)) "'S1'")" ;;
        bulkn)      timed "$(bulk_sql "$v" "$NBULK" "'S' || g")" ;;
        receipt)    timed "INSERT INTO $v.receipt (sku, qty) VALUES ('Q', $NBULK)"
                    [[ $val =~ ^[0-9.]+$ ]] && val=$(awk -v ms="$val" -v n="$NBULK" 'BEGIN { printf "%.2f", ms * 1000 / n }') ;;
        ship)       first=$(psql -X -At -c "SELECT min(line_id) - 1 FROM $v.order_line")
                    val=$(bench 8 "$(script "ship.$v" <<EOF
\set line random(1, $NSHIP) + $first
INSERT INTO $v.shipment (line_id, qty) VALUES (:line, 1);
EOF
)") ;;
        *) echo "unknown workload $w" >&2; exit 2 ;;
    esac
    [ "$val" = timeout ] && capped[$w.$v]=1
    local bad
    bad=$(psql -X -At -v v="$v" -v plain="$([ "$v" = plain ] && echo true || echo false)" \
               -v ext="$([ "$v" = backorder ] && echo true || echo false)" -f "$here/check.sql" 2>> "$log") || bad=error
    if [ "$bad" != 0 ]; then say "WARNING: $w/$v: invariant check: $bad broken"; echo "$w $v check $bad" >> "$out/warnings.txt"; fi
    record "$w" "$v" "$val"
    if [ -n "$val2" ]; then record "${w}_receipts" "$v" "$val2"; fi
    if [ -n "$ref" ]; then record "${w}_ref" plain "$ref"; fi
    if [ -n "$ref3" ]; then record "${w}_ref3" plain "$ref3"; fi
}

if [ $have_ext = 1 ]; then   # plbase must have the columns, indexes and constraints of the extension
    if reset plbase 1; then psql -X -At -f "$here/schema_diff.sql" > "$out/schema_diff.txt" 2>> "$log"
    else echo "(could not build plbase, see the log)" > "$out/schema_diff.txt"; fi
fi

uptime_start=$(cut -d' ' -f1-3 /proc/loadavg)
nv=$(wc -w <<< "$VARIANTS")
for ((rep = 1; rep <= REPEAT; rep++)); do
    for w in $WORKLOADS; do
        read -r -a vs <<< "$VARIANTS"
        for ((k = 0; k < nv; k++)); do      # rotate the variant order from one repetition to the next
            measure "$w" "${vs[$(( (k + rep - 1) % nv ))]}"
        done
    done
done

# the report
{
    echo "backorder benchmark, $(date -u "+%Y-%m-%d %H:%M UTC")$([ "${QUICK:-0}" = 1 ] && echo ", QUICK=1 (smoke test)")"
    echo "machine:  nproc=$(nproc), cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
         "mem=$(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), load avg at start $uptime_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "server:   $(psql -X -At -c "SELECT version()" | cut -d' ' -f1-2);" \
         "$(psql -X -At -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings
             WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'max_wal_size', 'checkpoint_timeout', 'autovacuum', 'shared_preload_libraries')")"
    echo "bench:    BENCH_SECONDS=$SECS BENCH_REPEAT=$REPEAT (median of the repetitions), pgbench -n -M prepared -j 2 -P 2" \
         "(rates over time in the log), synchronous_commit=on only in workload 8," \
         "BENCH_SKUS=$NSKU BENCH_BULK=$NBULK BENCH_SHIP_LINES=$NSHIP BENCH_TIMEOUT=${TIMEOUT}s"
    echo "code:     ${BENCH_GIT:-unknown}; backorder extension: $([ $have_ext = 1 ] && echo installed || echo 'not available (n/a)')"
    echo
    psql -X -q -P footer=off -v raw="$raw" -v timeout="$TIMEOUT" -v nsku="$NSKU" -v nbulk="$NBULK" -f "$here/summary.sql"
    echo
    cat "$here/legend.txt"
    if [ -s "$out/schema_diff.txt" ]; then echo; echo "WARNING: plbase's tables differ from the extension's:"; cat "$out/schema_diff.txt"; fi
    if [ -s "$out/warnings.txt" ]; then echo; echo "WARNINGS (invariant checks):"; cat "$out/warnings.txt"; fi
} > "$out/report.txt"
