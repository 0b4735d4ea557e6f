#!/bin/sh
# Runs every test: C unit tests (plain and under ASan+UBSan) and the
# end-to-end suite against real CPython processes. Ends with the line
# "N passed, N failed, N skipped" and exits non-zero on any failure.
set -u
OUT=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
passed=0 failed=0 skipped=0

unit() {	# $1: test binary
	log=$(MMTRACE_FIXTURES="$ROOT/$OUT/fixtures" "$1" 2>&1)
	echo "$log" | grep -E '^\[ *(OK|FAILED|PASSED) *\]|ERROR|runtime error' | grep -v '^\[  PASSED' | sed "s|^|$1: |"
	p=$(echo "$log" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p')
	f=$(echo "$log" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p')
	if [ -z "$p$f" ]; then f=1; echo "$log" | tail -20; fi	# crashed before its summary
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}

unit "$OUT/test_resolve"
[ -x build-san/test_resolve ] && unit build-san/test_resolve

xml="$ROOT/$OUT/e2e.xml"
rm -f "$xml"
/usr/bin/python3 -m pytest -q -rs -p no:cacheprovider --junitxml="$xml" tests/e2e
counts=$(/usr/bin/python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    s = ET.parse(sys.argv[1]).getroot()
    s = s if s.tag == "testsuite" else s.find("testsuite")
    t, f, e, k = (int(s.get(a, 0)) for a in ("tests", "failures", "errors", "skipped"))
    print(t - f - e - k, f + e, k)
except Exception:
    print(0, 1, 0)   # pytest died before writing its report
PY
)
set -- $counts
passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
