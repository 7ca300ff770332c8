#!/bin/sh
# pg-test-cluster.sh - a private PostgreSQL for tests and benchmarks.
#
#   pg-test-cluster.sh start DIR      make DIR, initdb, start; prints the
#                                     PGHOST/PGPORT/... lines to source
#   pg-test-cluster.sh stop DIR       stop the server and remove DIR
#   pg-test-cluster.sh halt DIR       stop the server, keep its data
#   pg-test-cluster.sh resume DIR     start it again after halt
#   pg-test-cluster.sh run CMD...     start in a fresh temp dir, run CMD
#                                     with the PG* variables set, stop and
#                                     remove everything whatever CMD did;
#                                     exits with CMD's status
#
# The server listens only on a Unix socket in DIR, on a free port number
# (the socket's name), with trust authentication; nothing else on the
# machine is touched (the system's own cluster is never started). initdb
# and pg_ctl refuse to run as root, so as root they run as `postgres`.
# A missing PostgreSQL exits with 77, which automake's test driver counts
# as a skip.
set -eu

PG_DB=facteur
PG_ROLE=facteur

die() {
	echo "pg-test-cluster.sh: $*" >&2
	exit 1
}

pg_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then
		echo "$PG_BINDIR"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ]; then
			echo "$d"
			return
		fi
	done
	d=$(command -v initdb 2>/dev/null || true)
	[ -n "$d" ] && dirname "$d"
}

# Runs a PostgreSQL program as the cluster's owner.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		# the command line goes through sh: quote every word
		q=""
		for w in "$@"; do
			q="$q '$(printf '%s' "$w" | sed "s/'/'\\\\''/g")'"
		done
		su -s /bin/sh postgres -c "cd / && $q"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

pg_start() {
	dir=$1
	bin=$(pg_bindir)
	if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
		echo "pg-test-cluster.sh: no PostgreSQL (apt-get install" \
		    "postgresql, or scripts/tools/setup-debian.sh)" >&2
		exit 77
	fi
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	chmod 755 "$dir"
	port=$(free_port)
	echo "$port" >"$dir/port"
	echo "$bin" >"$dir/bindir"
	as_owner "$bin/initdb" -N -D "$dir/data" -A trust -U postgres \
	    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
	    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = on
max_connections = 200
shared_preload_libraries = 'pg_stat_statements'
log_min_messages = warning
EOF
	pg_resume "$dir"
	as_owner "$bin/psql" -X -q -h "$dir" -p "$port" -U postgres \
	    -d postgres -v ON_ERROR_STOP=1 \
	    -c "CREATE ROLE $PG_ROLE LOGIN CREATEDB" \
	    -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE" >/dev/null ||
	    die "cannot create the database"
	pg_env "$dir"
}

pg_resume() {
	dir=$1
	bin=$(cat "$dir/bindir")
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
	    -t 60 start >/dev/null ||
	    { cat "$dir/server.log" >&2; die "the server did not start"; }
}

pg_halt() {
	dir=$1
	[ -f "$dir/bindir" ] || return 0
	bin=$(cat "$dir/bindir")
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_owner "$bin/pg_ctl" -D "$dir/data" -m "${2:-fast}" -w stop \
	    >/dev/null 2>&1 || true
}

pg_env() {
	dir=$1
	echo "PGHOST=$dir"
	echo "PGPORT=$(cat "$dir/port")"
	echo "PGUSER=$PG_ROLE"
	echo "PGDATABASE=$PG_DB"
	echo "FACTEUR_PG_CLUSTER=$dir"
	echo "export PGHOST PGPORT PGUSER PGDATABASE FACTEUR_PG_CLUSTER"
}

pg_stop() {
	dir=$1
	pg_halt "$dir" immediate
	# refuse to remove anything that is not one of our clusters
	if [ -f "$dir/port" ] && [ -f "$dir/bindir" ]; then
		rm -rf "$dir"
	fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
start)
	[ $# = 1 ] || die "usage: start DIR"
	pg_start "$1"
	;;
stop)
	[ $# = 1 ] || die "usage: stop DIR"
	pg_stop "$1"
	;;
halt)
	[ $# = 1 ] || die "usage: halt DIR"
	pg_halt "$1" fast
	;;
resume)
	[ $# = 1 ] || die "usage: resume DIR"
	pg_resume "$1"
	;;
env)
	[ $# = 1 ] || die "usage: env DIR"
	pg_env "$1"
	;;
run)
	[ $# -ge 1 ] || die "usage: run CMD..."
	dir=$(mktemp -d "${TMPDIR:-/tmp}/facteur-pg.XXXXXX")
	trap 'pg_stop "$dir"' EXIT
	trap 'exit 130' INT TERM
	status=0
	pg_start "$dir" >"$dir.env" || status=$?
	if [ "$status" != 0 ]; then
		rm -f "$dir.env"
		exit "$status"
	fi
	. "$dir.env"
	rm -f "$dir.env"
	"$@" || status=$?
	exit "$status"
	;;
*)
	die "usage: start DIR | stop DIR | halt DIR | resume DIR | env DIR |" \
	    "run CMD..."
	;;
esac
