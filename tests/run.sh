#!/bin/sh
# Runs every test: C unit tests and the end-to-end suite against real
# CPython processes, each with the plain and the ASan+UBSan build. Ends with the line
# "N passed, N failed, N skipped" and exits non-zero on any failure.
set -u
OUT=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
passed=0 failed=0 skipped=0
# the DWARF cache: none for the unit tests and the fuzzers (which would keep
# a record per input), a fresh one of the run's own for the end-to-end
# passes, so that they meet both its misses and its hits
export MMTRACE_CACHE_DIR=

unit() {	# $1: test binary
	log=$(MMTRACE_FIXTURES="$ROOT/$OUT/fixtures" "$1" 2>&1)
	echo "$log" | grep -E '^\[ *(OK|FAILED|PASSED) *\]|ERROR|runtime error' | grep -v '^\[  PASSED' | sed "s|^|$1: |"
	p=$(echo "$log" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p')
	f=$(echo "$log" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p')
	if [ -z "$p$f" ]; then f=1; echo "$log" | tail -20; fi	# crashed before its summary
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}

for t in test_resolve test_host test_present test_pyoffsets test_gcpoll; do
	unit "$OUT/$t"
	[ -x "build-san/$t" ] && unit "build-san/$t"
done

# The fuzz targets' short run: every seed and every past crash input, then
# 20000 mutations each. New inputs go to a scratch corpus, never the tree.
for t in fuzz_elf fuzz_resolve fuzz_procfs fuzz_heap fuzz_stacks fuzz_pyoffsets fuzz_gcpoll fuzz_insn; do
	b=build-fuzz/$t
	[ -x "$b" ] || continue
	mkdir -p "build-fuzz/smoke/$t" "tests/fuzz/regressions/$t"
	if "$b" -runs=20000 -artifact_prefix="build-fuzz/crash-$t-" "build-fuzz/smoke/$t" \
		"build-fuzz/seeds/$t" "tests/fuzz/regressions/$t" > "build-fuzz/$t.smoke.log" 2>&1; then
		passed=$((passed + 1)); echo "fuzz smoke $t: ok"
	else
		failed=$((failed + 1)); echo "fuzz smoke $t: FAILED"; tail -30 "build-fuzz/$t.smoke.log"
	fi
done

# $1: mmtrace binary, $2: report name, then pytest's own arguments
e2e() {
	bin=$1 xml="$ROOT/$OUT/$2.xml"
	shift 2
	rm -f "$xml"
	echo "== end-to-end tests with $bin $*"
	MMTRACE="$bin" /usr/bin/python3 -m pytest -q -rs --durations=25 -p no:cacheprovider --junitxml="$xml" "$@" tests/e2e
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
}

# CPython's regression suite run untraced is the reference of both passes:
# it does not depend on mmtrace's build, so it runs once (the first pass
# writes it here, the second reads it)
export MMTRACE_SUITE_REFERENCE="$ROOT/$OUT/suite-reference.json"
rm -f "$MMTRACE_SUITE_REFERENCE"
export MMTRACE_CACHE_DIR="$ROOT/$OUT/dwarf-cache"
rm -rf "$MMTRACE_CACHE_DIR"
e2e "$ROOT/$OUT/mmtrace" e2e
# the same suite against the ASan+UBSan build: a leak or undefined behaviour
# fails it. Its user-space paths differ by layout, not by every version, so
# it runs four cells of the matrix: 3.8 (statics, lnotab), 3.12 (state in the
# interpreter, location tables), Debian's stripped build and its debug file.
# Tests whose user-space path does not depend on the cell run on one cell
# here (the plain pass runs them on every cell):
#  - the folded-metric choice and bad input (option parsing, the folded
#    writer) and per-thread attribution (the tid is copied; the walk and the
#    symboliser are those of the growth test, which runs on all four) on 3.12;
#  - which code triggers collections (gc-count stacks; the walk and the
#    symboliser are the growth test's, except on Debian's stripped build,
#    which has no growth stacks) on 3.12 and Debian's stripped build;
#  - the exact level's text tables (the presenter; the JSON window test
#    covers the collection on all four) on 3.12 and Debian's stripped build
#    (partial labels);
#  - the exit status passed through (no layout) on 3.12;
#  - sampled allocation stacks (the exact level's sampling; the walk and the
#    symboliser of 3.8 are the growth test's) on 3.12;
#  - growth stacks not on Debian's stripped build, which has none (its
#    collection stacks are the gc-count test's there).
# SIGKILL tests are left out: a killed mmtrace reaches no exit path, and the
# attach paths before the kill are those of every other test here; so is the
# Debian package's test, which checks the packaged binary, not this one.
[ -x "$ROOT/build-san/mmtrace" ] && e2e "$ROOT/build-san/mmtrace" e2e-sanitized \
	--ignore=tests/e2e/test_deb.py -k "not (pyenv-3.9 or pyenv-3.10 or pyenv-3.11 or pyenv-3.13) and not kill_9 \
	and not ((folded_metric_choice or threads_attributed or exit_status_is_passed) and not pyenv-3.12) \
	and not ((exact_text_tables or gc_trigger_is) and not (pyenv-3.12 or debian-3.11])) \
	and not (sampled_allocation_stacks and not pyenv-3.12) and not (growth_attributed and debian-3.11])"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
