#!/bin/sh
# run-fuzzers.sh - runs every libFuzzer target for a while.
#
#   tests/fuzz/run-fuzzers.sh BUILDDIR SECONDS
#
# BUILDDIR was configured with CC=clang --enable-fuzzing (best with
# --enable-sanitizers too). Each target named by a folder under
# tests/fuzz/corpus/ runs for SECONDS on a copy of that folder, so the
# committed corpus only changes when someone chooses to add inputs. An
# input that crashes a target is kept in BUILDDIR/tests/fuzz/artifacts/
# <target>/; replay it with BUILDDIR/tests/fuzz/<target>_replay FILE.
# A target with a tests/fuzz/dict/<target>.dict runs with that dictionary.
# Exits 0 when no target found anything, 1 otherwise, 2 on bad usage.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILDDIR SECONDS" >&2
	exit 2
fi
builddir=$1
seconds=$2
case $seconds in
''|*[!0-9]*)
	echo "run-fuzzers: SECONDS must be a number" >&2
	exit 2
	;;
esac
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/facteur-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM
failed=""

for corpus in "$here"/corpus/*/; do
	corpus=${corpus%/}
	target=$(basename "$corpus")
	bin=$builddir/tests/fuzz/$target
	if [ ! -x "$bin" ]; then
		echo "run-fuzzers: $bin is missing (configure with" \
		    "CC=clang --enable-fuzzing)"
		failed="$failed $target"
		continue
	fi
	mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
	cp "$corpus"/* "$work/$target/corpus/"
	# a target may bring a dictionary: tests/fuzz/dict/<target>.dict
	dict=""
	[ -f "$here/dict/$target.dict" ] && dict="-dict=$here/dict/$target.dict"
	echo "=== $target, ${seconds}s"
	if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$work/$target/artifacts/" $dict \
	    "$work/$target/corpus" >"$work/$target/log" 2>&1; then
		grep -E '^#[0-9]+.*(DONE|pulse)' "$work/$target/log" | tail -n 1
	else
		echo "run-fuzzers: $target FAILED; the end of its log:"
		tail -n 40 "$work/$target/log"
		keep=$builddir/tests/fuzz/artifacts/$target
		mkdir -p "$keep" && cp "$work/$target/artifacts/"* "$keep/" \
		    2>/dev/null && echo "run-fuzzers: inputs kept in $keep"
		failed="$failed $target"
	fi
done

if [ -n "$failed" ]; then
	echo "run-fuzzers: failed:$failed"
	exit 1
fi
echo "run-fuzzers: all targets ran ${seconds}s without a failure"
exit 0
