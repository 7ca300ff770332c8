#!/bin/sh
# test_storage_pgsql.sh - the storage suite against the pgsql module: one
# private PostgreSQL (scripts/tools/pg-test-cluster.sh), a fresh
# database for each program, FACTEUR_TEST_STORAGE=pgsql. Prints each
# program's TAP and fails if any check failed.
#
#   test_storage_pgsql.sh [PROGRAM...]     default: all four
#
# Run by `make check` from the build folder (exit status: 77 skipped,
# without PostgreSQL or the module).
set -u

srcdir=${FACTEUR_SRCDIR:-$(dirname "$0")/../..}
cluster="$srcdir/scripts/tools/pg-test-cluster.sh"

if [ "${FACTEUR_PG_INNER:-}" != 1 ]; then
	if [ -z "${FACTEUR_MODULE_PATH:-}" ]; then
		echo "SKIP: FACTEUR_MODULE_PATH is not set (run me from make" \
		    "check)"
		exit 77
	fi
	if [ ! -e modules/pgsql.la ] && [ ! -e modules/pgsql/pgsql.la ]; then
		echo "SKIP: built without the pgsql module"
		exit 77
	fi
	FACTEUR_PG_INNER=1 exec sh "$cluster" run sh "$0" "$@"
fi

progs=${*:-test_storage test_storage_stress test_storage_crash \
test_storage_full}
n=0
for p in $progs; do
	n=$((n + 1))
done
echo "1..$n"
i=0
status=0
for p in $progs; do
	i=$((i + 1))
	db="facteur_$p"
	if ! createdb -T template0 "$db" 2>/dev/null; then
		echo "not ok $i - $p # cannot create database $db"
		status=1
		continue
	fi
	out=$(PGDATABASE=$db FACTEUR_TEST_STORAGE=pgsql \
	    STRESS_SECONDS=${STRESS_SECONDS:-10} \
	    "./tests/storage/$p" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	if [ "$rc" = 0 ] && ! echo "$out" | grep -q '^not ok'; then
		echo "ok $i - $p"
	else
		echo "not ok $i - $p (exit $rc)"
		status=1
	fi
done
exit $status
