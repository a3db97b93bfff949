# shellcheck shell=bash disable=SC2034
# Shared by test/run.sh and test/demo.sh: install what is missing, build and install the
# extension. Source it; it defines functions and a few variables, runs nothing, and sets the
# locale to C.UTF-8 (always present on Debian): pg_createcluster refuses a locale that the
# environment names but the host lacks, and expected output must not depend on the host.
#
#   BACKORDER_ROOT   the repository (the parent of this file's directory)
#   PG_MAJOR         15
#   PG_BINDIR        /usr/lib/postgresql/15/bin
#   PG_CONFIG        $PG_BINDIR/pg_config
#   PGXS_DIR         /usr/lib/postgresql/15/lib/pgxs

BACKORDER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BINDIR/pg_config
PGXS_DIR=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs
export PG_CONFIG
for _v in $(compgen -e | grep '^LC_'); do unset "$_v"; done
unset _v LANGUAGE
export LANG=C.UTF-8 LC_ALL=C.UTF-8

# Debian packages the build, the demo and every test suite need.
BACKORDER_PACKAGES=(
    postgresql-common
    "postgresql-$PG_MAJOR"
    "postgresql-server-dev-$PG_MAJOR"
    "postgresql-$PG_MAJOR-pgtap"
    libtap-parser-sourcehandler-pgtap-perl
    libipc-run-perl
    "postgresql-$PG_MAJOR-cron"
    python3-psycopg2
    build-essential
)

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root for: $*" >&2
        return 1
    fi
}

# Install the packages that are not installed yet; a no-op (no apt at all) when all are.
ensure_packages() {
    local missing=() p
    for p in "${BACKORDER_PACKAGES[@]}"; do
        # dpkg -s also succeeds for removed-but-not-purged packages: check the status itself
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "packages: all installed"
        return 0
    fi
    echo "packages: installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" </dev/null || return 1
}

# Build and install the extension into the PostgreSQL 15 installation. With BACKORDER_DESTDIR
# set, install into that staging directory instead (no root needed, the system copy is left
# alone) and point every test cluster at it through Debian's extension_destdir setting.
build_and_install() {
    (
        cd "$BACKORDER_ROOT" &&
        make -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG" &&
        if [ -n "${BACKORDER_DESTDIR:-}" ]; then
            make install PG_CONFIG="$PG_CONFIG" DESTDIR="$BACKORDER_DESTDIR"
        else
            as_root make install PG_CONFIG="$PG_CONFIG"
        fi
    )
}

# A TCP port that nothing listens on and no Unix socket claims. pg_virtualenv -t only knows
# its own temporary clusters, so left alone it would always take 5432 and collide with a
# running main cluster or a concurrent throw-away one.
pick_free_port() {
    local p _
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 10000))
        [ -e "/var/run/postgresql/.s.PGSQL.$p" ] || [ -e "/tmp/.s.PGSQL.$p" ] && continue
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
        echo "$p"
        return 0
    done
    return 1
}

# Run a command inside a throw-away PostgreSQL 15 cluster. pg_virtualenv creates the cluster,
# exports PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE (a superuser on database postgres), runs
# the command, then drops the cluster. -t keeps everything in a temporary directory even as
# root, so a leftover or concurrent cluster never gets in the way. Extra server settings can
# be passed as BACKORDER_PGOPTIONS="guc=value guc=value" (values without spaces); the port is
# a free one picked at random, or BACKORDER_PGPORT. backorder is in shared_preload_libraries,
# as the README recommends (notifications sent by its worker), unless BACKORDER_PRELOAD=0.
in_throwaway_cluster() {
    local opts=() o
    if [ "${BACKORDER_PRELOAD:-1}" = 1 ]; then
        # staged (BACKORDER_DESTDIR): preload the staged library, the one CREATE EXTENSION loads
        opts+=(-o "shared_preload_libraries=${BACKORDER_DESTDIR:+$BACKORDER_DESTDIR$("$PG_CONFIG" --pkglibdir)/}backorder")
    fi
    for o in ${BACKORDER_PGOPTIONS:-}; do
        opts+=(-o "$o")
    done
    if [ -n "${BACKORDER_DESTDIR:-}" ]; then
        opts+=(-o "extension_destdir=$BACKORDER_DESTDIR")
    fi
    local port=${BACKORDER_PGPORT:-}
    [ -n "$port" ] || port=$(pick_free_port) || { echo "no free port found" >&2; return 1; }
    # the same locale and time zone on every machine, so that expected output does not depend
    # on how the host is set up
    (cd / && PGPORT=$port pg_virtualenv -t -v "$PG_MAJOR" \
        -i "--locale=C.UTF-8 --encoding=UTF8" -o timezone=UTC "${opts[@]}" "$@")
}
