#!/bin/sh
# run.sh - the integration suite: pytest with real clients against a
# facteurd started from the build tree (see conftest.py).
# Exit status as automake expects: 0 pass, 1 fail, 77 skip, 99 hard error.
PYTHON=${PYTHON:-/usr/bin/python3}
srcdir=${FACTEUR_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${FACTEUR_BUILDDIR:-$srcdir}
if [ -n "${FACTEUR_SKIP_INTEGRATION:-}" ]; then
	echo "run.sh: FACTEUR_SKIP_INTEGRATION is set"
	exit 77
fi
if ! "$PYTHON" -c 'import pytest' 2>/dev/null; then
	echo "run.sh: $PYTHON has no pytest (apt-get install python3-pytest)"
	exit 77
fi
# Most tests wait on servers, timers and peers rather than the CPU
# (a whole CI run keeps two cores half busy), so with pytest-xdist three
# files run at once (one server per file stays in one process: --dist
# loadfile). FACTEUR_TEST_JOBS=1 runs them in turn.
# test_hello_module.py runs `make install` in the build tree, which
# relinks the modules the other files are loading: it runs alone, after.
jobs=${FACTEUR_TEST_JOBS:-3}
parallel=""
if [ "$jobs" -gt 1 ] && "$PYTHON" -c 'import xdist' 2>/dev/null; then
	parallel="-n $jobs --dist loadfile"
fi
out=$builddir/tests/integration
mkdir -p "$out" || exit 99
rm -f "$out"/results*.xml
export FACTEUR_SRCDIR="$srcdir" FACTEUR_BUILDDIR="$builddir"
export PYTHONDONTWRITEBYTECODE=1
cd "$srcdir/tests/integration" || exit 99

# pytest's exit status as automake's: 0 pass, 1 fail, 99 hard error
run_pytest() {
	"$PYTHON" -m pytest -p no:cacheprovider -q -rfEs "$@"
	case $? in
	0) return 0 ;;
	1) return 1 ;;
	5) echo "run.sh: pytest collected no tests"; return 99 ;;
	*) return 99 ;;
	esac
}

# The pgsql pass: the files where storage matters run again with the
# pgsql storage (FACTEUR_TEST_STORAGE=pgsql, see harness.py) on one
# private PostgreSQL for the pass, each server in a database of its own.
# FACTEUR_PGSQL_FILES overrides the list.
pgsql_files=${FACTEUR_PGSQL_FILES:-"test_imap.py test_imap_binary.py
	test_imap_sort.py test_pop3.py test_pop3_large.py test_smtp_delivery.py
	test_smtp_lmtp.py test_smtp_submission.py"}

# run_pgsql PYTEST-ARGS...: 77 when there is no pgsql module or no
# PostgreSQL, else as run_pytest
run_pgsql() {
	if [ ! -e "$builddir/modules/pgsql/pgsql.la" ]; then
		echo "run.sh: built without the pgsql module: no pgsql pass"
		return 77
	fi
	pgdir=$(mktemp -d "${TMPDIR:-/tmp}/facteur-pgpass.XXXXXX") || return 99
	chmod 755 "$pgdir"
	pgenv=$(sh "$srcdir/scripts/tools/pg-test-cluster.sh" start \
	    "$pgdir/pg")
	rc=$?
	if [ $rc != 0 ]; then
		rm -rf "$pgdir"
		[ $rc = 77 ] && echo "run.sh: no PostgreSQL: no pgsql pass"
		[ $rc = 77 ] && return 77
		return 99
	fi
	(
		eval "$pgenv"
		export FACTEUR_TEST_STORAGE=pgsql
		run_pytest "$@"
	)
	rc=$?
	sh "$srcdir/scripts/tools/pg-test-cluster.sh" stop "$pgdir/pg"
	rm -rf "$pgdir"
	return $rc
}

# the worse of two statuses (0 < 1 < 99; 77, a skipped pass, is 0)
worse() {
	a=$1 b=$2
	[ "$a" = 77 ] && a=0
	[ "$b" = 77 ] && b=0
	[ "$a" -ge "$b" ] && echo "$a" || echo "$b"
}

case ${FACTEUR_TEST_STORAGE:-} in
pgsql)
	# only the pgsql pass: the files given, else its list
	[ $# -gt 0 ] || set -- $pgsql_files
	# shellcheck disable=SC2086
	run_pgsql ${parallel:+$parallel} --junitxml="$out/results-pgsql.xml" \
	    "$@"
	exit $?
	;;
maildir|"") ;;
*)
	echo "run.sh: FACTEUR_TEST_STORAGE=$FACTEUR_TEST_STORAGE: say" \
	    "maildir or pgsql"
	exit 99
	;;
esac
if [ $# -gt 0 ] || [ -z "$parallel" ]; then
	run_pytest --junitxml="$out/results.xml" "$@"
	exit $?
fi
# shellcheck disable=SC2086
run_pytest $parallel --ignore=test_hello_module.py \
	--junitxml="$out/results.xml"
status=$?
run_pytest --junitxml="$out/results-alone.xml" test_hello_module.py
status=$(worse $status $?)
if [ -z "${FACTEUR_TEST_STORAGE:-}" ]; then
	# shellcheck disable=SC2086
	run_pgsql $parallel -o junit_suite_name=pgsql \
	    --junitxml="$out/results-pgsql.xml" $pgsql_files
	status=$(worse $status $?)
fi
exit $status
