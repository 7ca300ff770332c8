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

if [ $# -gt 0 ] || [ -z "$parallel" ]; then
	run_pytest --junitxml="$out/results.xml" "$@"
	exit $?
fi
# shellcheck disable=SC2086
run_pytest $parallel --ignore=test_hello_module.py \
	--junitxml="$out/results.xml"
status=$?
run_pytest --junitxml="$out/results-alone.xml" test_hello_module.py
alone=$?
[ $status -ge $alone ] || status=$alone
exit $status
