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
