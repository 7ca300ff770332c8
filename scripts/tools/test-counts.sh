#!/bin/sh
# test-counts.sh BUILDDIR - prints "PASSED FAILED SKIPPED" for the last
# `make check` in BUILDDIR: every TAP test point and script result from
# automake's .trs files, except that the integration script counts as
# the pytest cases it ran (from its JUnit XML).
builddir=$1
pass=0 fail=0 skip=0
for trs in $(find "$builddir/tests" -name '*.trs' 2>/dev/null); do
	case $trs in
	*/integration/run.trs|*/integration/run.sh.trs) continue ;;
	esac
	p=$(grep -c '^:test-result: PASS' "$trs")
	x=$(grep -c '^:test-result: XFAIL' "$trs")
	f=$(grep -c -E '^:test-result: (FAIL|XPASS|ERROR)' "$trs")
	s=$(grep -c '^:test-result: SKIP' "$trs")
	pass=$((pass + p + x)) fail=$((fail + f)) skip=$((skip + s))
done
xml=$(ls "$builddir"/tests/integration/results*.xml 2>/dev/null)
if [ -n "$xml" ]; then
	# shellcheck disable=SC2086
	set -- $(/usr/bin/python3 - $xml <<'PY'
import sys, xml.etree.ElementTree as ET
t = f = e = s = 0
for name in sys.argv[1:]:
    root = ET.parse(name).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for su in suites:
        t += int(su.get("tests", 0)); f += int(su.get("failures", 0))
        e += int(su.get("errors", 0)); s += int(su.get("skipped", 0))
print(t - f - e - s, f + e, s)
PY
)
	pass=$((pass + $1)) fail=$((fail + $2)) skip=$((skip + $3))
else
	# the script ran but left no results: count what automake saw
	for trs in "$builddir"/tests/integration/run.trs \
	    "$builddir"/tests/integration/run.sh.trs; do
		[ -f "$trs" ] || continue
		if grep -q '^:test-result: PASS' "$trs"
		then pass=$((pass + 1)); else fail=$((fail + 1)); fi
	done
fi
echo "$pass $fail $skip"
