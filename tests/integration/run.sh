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
# Most tests wait on servers, timers and peers rather than the CPU, so
# with pytest-xdist two files run at once (one server per file stays in
# one process: --dist loadfile). FACTEUR_TEST_JOBS=1 runs them in turn.
jobs=${FACTEUR_TEST_JOBS:-2}
parallel=""
if [ "$jobs" -gt 1 ] && "$PYTHON" -c 'import xdist' 2>/dev/null; then
	parallel="-n $jobs --dist loadfile"
fi
mkdir -p "$builddir/tests/integration" || exit 99
export FACTEUR_SRCDIR="$srcdir" FACTEUR_BUILDDIR="$builddir"
export PYTHONDONTWRITEBYTECODE=1
cd "$srcdir/tests/integration" || exit 99
# shellcheck disable=SC2086
"$PYTHON" -m pytest -p no:cacheprovider -q -rfEs $parallel \
	--junitxml="$builddir/tests/integration/results.xml" "$@"
status=$?
case $status in
0) exit 0 ;;
5) echo "run.sh: pytest collected no tests"; exit 99 ;;
1) exit 1 ;;
*) exit 99 ;;
esac
