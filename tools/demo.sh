#!/bin/sh
# make demo: trace a bundled GC-heavy workload from its first instruction,
# then watch the whole host while two interpreters run it,
# live table and histograms, with the newest CPython found on the machine.
set -eu
MMTRACE=${1:-build/mmtrace}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=""
for c in /root/.pyenv/versions/3.1[0-9].*/bin/python3 /usr/bin/python3.11; do
	[ -x "$c" ] && PY=$c
done
[ -n "$PY" ] || { echo "demo: no CPython found" >&2; exit 1; }
echo "== mmtrace --probes -- $PY (the probe plan)"
"$MMTRACE" --probes -- "$PY" "$ROOT/tools/demo_workload.py"
echo "== mmtrace -H 1 -- $PY tools/demo_workload.py (about 5 seconds)"
"$MMTRACE" -H 1 -- "$PY" "$ROOT/tools/demo_workload.py"
# system-wide: two interpreters at once, found without naming them
OTHER=$PY
for c in /root/.pyenv/versions/3.1[0-9].*/bin/python3; do
	[ -x "$c" ] && OTHER=$c
done
echo "== mmtrace --min-pause 5 1 3 (every CPython process on the host; $PY and $OTHER run the workload)"
"$PY" "$ROOT/tools/demo_workload.py" >/dev/null &
"$OTHER" "$ROOT/tools/demo_workload.py" >/dev/null &
"$MMTRACE" --min-pause 5 1 3
wait
# who grows the heap and who triggers collections, as flame-graph stacks
OUT=${TMPDIR:-/tmp}/mmtrace-demo
echo "== mmtrace --alloc=growth --stacks --folded $OUT -- $OTHER tools/demo_workload.py"
"$MMTRACE" --alloc=growth --stacks --folded "$OUT" -- "$OTHER" "$ROOT/tools/demo_workload.py" | sed -n '/^STACKS/,$p'
echo "== collapsed stacks, ready for flamegraph.pl or speedscope: $OUT.*.folded"
head -n 3 "$OUT.gc-count.folded"
# the heap, read from outside: no probe, nothing attached
echo "== mmtrace --heap -p PID (pymalloc and GC state of a running $OTHER)"
"$OTHER" -c "import time; keep = [bytes(100) for _ in range(200000)]; time.sleep(3)" &
sleep 1
"$MMTRACE" --heap -p $!
wait
