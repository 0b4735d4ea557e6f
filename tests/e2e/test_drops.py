"""Every count mmtrace cannot make is counted once, by cause, in the
"drops" object of each JSON report. Maps are shrunk with the test-only
MMTRACE_TEST_MAP_MAX so that they overflow at a chosen moment."""
import json
import os
import signal
import subprocess

import pytest

from conftest import MMTRACE, ROOT, interpreter_or_skip, stop

FIXTURES = os.environ.get("MMTRACE_FIXTURES", os.path.join(ROOT, "build", "fixtures"))
CAUSES = ["table_full", "inflight_full", "watch_full", "stack_full", "read_error", "unmatched_end",
          "events_lost", "samples_lost"]

# Waits for a command on stdin: "collect N" runs N full collections, "hold"
# blocks inside one (in a finalizer, which the collector calls) until the
# next line. The automatic collector is off: every collection is the test's.
CHILD = r"""
import gc, sys
gc.disable()
class Held:
    def __del__(self):
        print("inside", flush=True)
        sys.stdin.readline()
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "collect":
        for _ in range(int(cmd[1])):
            gc.collect()
    elif cmd[0] == "hold":
        h = Held()
        h.cycle = h
        del h
        gc.collect()
    print("done", flush=True)
"""


def child(exe):
    p = subprocess.Popen([exe, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    return p


def say(p, cmd, reply="done"):
    p.stdin.write(cmd + "\n")
    p.stdin.flush()
    assert p.stdout.readline() == reply + "\n"


def traced_pair(maps, extra=()):
    """Two idle processes A and B under mmtrace -p A -p B with shrunk maps."""
    exe = interpreter_or_skip("3.12")
    a, b = child(exe), child(exe)
    mm = subprocess.Popen([MMTRACE, "--json", "-p", str(a.pid), "-p", str(b.pid), "0.2"] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, MMTRACE_TEST_MAP_MAX=maps))
    assert json.loads(mm.stdout.readline())["processes"], "attached"
    return a, b, mm


def final_of(mm, *procs):
    """The final report, taken while the processes live (their exit collects)."""
    mm.send_signal(signal.SIGINT)
    out, err = mm.communicate(timeout=60)
    assert mm.returncode == 0, err
    for p in procs:
        p.kill()
        p.wait()
    final = json.loads(out.splitlines()[-1])
    assert final["final"] and sorted(final["drops"]) == sorted(CAUSES), final["drops"]
    return final, {p["pid"]: p for p in final["processes"]}


def only(drops, **expected):
    return {c: drops[c] for c in CAUSES} == {c: expected.get(c, 0) for c in CAUSES}


def test_unreadable_begin_is_one_read_error(tmp_path):
    """fake_python's _PyRuntime holds no interpreter: its one collection's
    begin cannot be read. That is one read error, not also an unmatched end."""
    r = subprocess.run([MMTRACE, "--json", "--", os.path.join(FIXTURES, "fake_python")],
                       capture_output=True, text=True, timeout=60)
    final = json.loads(r.stdout.splitlines()[-1])
    gc = final["processes"][0]["gc"]
    assert (gc["read_errors"], gc["unmatched_ends"]) == (1, 0)
    assert only(final["drops"], read_error=1), final["drops"]
    prom = str(tmp_path / "m.prom")
    text = subprocess.run([MMTRACE, "--openmetrics-file", prom, "--", os.path.join(FIXTURES, "fake_python")],
                          capture_output=True, text=True, timeout=60).stdout
    assert "dropped: read_error 1\n" in text
    metrics = open(prom).read()
    for c in CAUSES:
        assert 'mmtrace_dropped_total{cause="%s"} %d\n' % (c, c == "read_error") in metrics


@pytest.mark.parametrize("maps,cause", [("proc_stats=1", "table_full"), ("watched=1", "watch_full")])
def test_full_process_maps(maps, cause):
    """One entry: A's counters take it, so each of B's collections is
    dropped and counted once under the map's cause."""
    a, b, mm = traced_pair(maps)
    try:
        say(a, "collect 3")
        say(b, "collect 5")
        final, rows = final_of(mm, a, b)
        assert sum(rows[a.pid]["gc"]["collections"]) == 3
        assert sum(rows[b.pid]["gc"]["collections"]) == 0
        assert only(final["drops"], **{cause: 5}), final["drops"]
    finally:
        for p in (a, b, mm):
            if p.poll() is None:
                p.kill()


def test_full_inflight():
    """inflight holds A's collection while A waits inside it: B's 4
    collections cannot be timed; each is dropped once, not also as an
    unmatched end. A's own collection is counted when it ends."""
    a, b, mm = traced_pair("inflight=1")
    try:
        say(a, "hold", reply="inside")
        say(b, "collect 4")
        say(a, "", reply="done")
        final, rows = final_of(mm, a, b)
        assert rows[a.pid]["gc"]["collections"] == [0, 0, 1]
        assert sum(rows[b.pid]["gc"]["collections"]) == 0
        assert only(final["drops"], inflight_full=4), final["drops"]
    finally:
        for p in (a, b, mm):
            if p.poll() is None:
                p.kill()


def test_full_stack_map():
    """--stacks with room for one collection's stack: A holds it, so B's 4
    collections are counted but their stacks are dropped, 4 times."""
    a, b, mm = traced_pair("gc_stacks=1", ["--stacks"])
    try:
        say(a, "hold", reply="inside")
        say(b, "collect 4")
        say(a, "", reply="done")
        final, rows = final_of(mm, a, b)
        assert rows[a.pid]["gc"]["collections"] == [0, 0, 1]
        assert rows[b.pid]["gc"]["collections"] == [0, 0, 4]
        assert only(final["drops"], stack_full=4), final["drops"]
    finally:
        for p in (a, b, mm):
            if p.poll() is None:
                p.kill()
