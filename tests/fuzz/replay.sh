#!/bin/sh
# replay.sh - runs each fuzz target's replay binary over its saved corpus,
# tests/fuzz/corpus/<target>/, as part of `make check`. A crash, an
# abort from a target's own checks, or a missing corpus fails the test.
# make check sets FACTEUR_SRCDIR and FACTEUR_BUILDDIR; by hand:
#   FACTEUR_SRCDIR=.. FACTEUR_BUILDDIR=. ../tests/fuzz/replay.sh
srcdir=${FACTEUR_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${FACTEUR_BUILDDIR:-.}
status=0
found=0

for corpus in "$srcdir"/tests/fuzz/corpus/*/; do
	corpus=${corpus%/}
	target=$(basename "$corpus")
	bin=$builddir/tests/fuzz/${target}_replay
	found=$((found + 1))
	if [ ! -x "$bin" ]; then
		echo "ERROR $target: $bin not built"
		status=99
		continue
	fi
	if "$bin" "$corpus"; then
		echo "PASS $target"
	else
		echo "FAIL $target (exit $?)"
		[ "$status" -eq 0 ] && status=1
	fi
done
if [ "$found" -eq 0 ]; then
	echo "ERROR no corpus under $srcdir/tests/fuzz/corpus"
	status=99
fi
exit $status
