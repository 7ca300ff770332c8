#!/bin/sh
# check.sh - builds facteur and runs every test, from a fresh checkout on
# Debian 12 (as root it first installs what is missing):
#   1. a normal build with warnings as errors: unit tests, fuzz corpus
#      replays, integration tests;
#   2. the same suite built with AddressSanitizer and UBSan;
#   3. the libFuzzer targets, each run for FUZZ_SECONDS (default 10);
#   4. make distcheck (the tarball builds and its unit tests pass).
# It ends with one line: "facteur: N passed, N failed, N skipped".
# Build folders: build/, build-asan/, build-fuzz/ at the top of the tree.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${FUZZ_SECONDS:-10}
failed_steps=""

if [ "$(id -u)" = 0 ]; then
	"$top/scripts/tools/setup-debian.sh" || exit 1
else
	echo "check.sh: not root, not installing packages"
fi

step() {
	echo
	echo "=== $* ==="
}

# configure_build DIR CONFIGURE-ARGS...
configure_build() {
	dir=$1
	shift
	mkdir -p "$dir" &&
	    (cd "$dir" && "$top/configure" -q "$@" && make -s -j"$jobs")
}

# check_build DIR: make check, keep going on failure
check_build() {
	(cd "$1" && make -j"$jobs" check) || failed_steps="$failed_steps $1"
}

step "autogen"
./autogen.sh >/dev/null 2>&1 || { echo "autogen.sh failed"; exit 1; }

step "build (warnings as errors)"
if configure_build build --enable-werror; then
	check_build build
else
	failed_steps="$failed_steps build"
fi

step "build with AddressSanitizer and UndefinedBehaviorSanitizer"
# leaks count as errors too, in the tests and in every facteurd the
# integration suite starts (it fails a test whose log has a report)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
if configure_build build-asan --enable-werror --enable-sanitizers; then
	check_build build-asan
else
	failed_steps="$failed_steps build-asan"
fi
unset ASAN_OPTIONS UBSAN_OPTIONS

step "fuzz targets, ${fuzz_seconds}s each"
if command -v clang >/dev/null && configure_build build-fuzz CC=clang \
    --enable-fuzzing --enable-sanitizers; then
	"$top/tests/fuzz/run-fuzzers.sh" "$top/build-fuzz" "$fuzz_seconds" ||
	    failed_steps="$failed_steps fuzz"
else
	failed_steps="$failed_steps fuzz-build"
fi

step "make distcheck"
# the integration suite and the long storage stress runs already ran
# twice above: here the tarball's build and a short stress run suffice
(cd build && FACTEUR_SKIP_INTEGRATION=1 STRESS_SECONDS=3 make -s -j"$jobs" distcheck \
    DISTCHECK_CONFIGURE_FLAGS=--enable-werror) ||
    failed_steps="$failed_steps distcheck"

# The summary: TAP points and scripts from automake, pytest's own counts.
pass=0 fail=0 skip=0
for dir in build build-asan; do
	counts=$("$top/scripts/tools/test-counts.sh" "$top/$dir")
	set -- $counts
	pass=$((pass + $1)) fail=$((fail + $2)) skip=$((skip + $3))
done
echo
if [ -n "$failed_steps" ]; then
	echo "check.sh: failed steps:$failed_steps"
	[ "$fail" -gt 0 ] || fail=1
fi
echo "facteur: $pass passed, $fail failed, $skip skipped"
[ -z "$failed_steps" ] && [ "$fail" -eq 0 ]
