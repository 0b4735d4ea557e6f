"""--heap against the interpreter's own account of its heap.

The workload holds a known heap shape, runs sys._debugmallocstats() and
stops itself with nothing allocated in between; mmtrace reads it while it
is stopped. Arenas, and pools, blocks in use and free blocks per size class,
must equal what the interpreter printed; the GC's counts, thresholds and
enabled flag must equal gc.get_count(), gc.get_threshold(), gc.isenabled().
"""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import MMTRACE, ROOT, WORKLOADS, run_mmtrace

WORKLOAD = os.path.join(WORKLOADS, "heap_workload.py")
FIXTURES = os.environ.get("MMTRACE_FIXTURES", os.path.join(ROOT, "build", "fixtures"))


def wait_stopped(p, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        with open("/proc/%d/stat" % p.pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        assert p.poll() is None and time.monotonic() < deadline, "workload did not stop"
        time.sleep(0.01)


def heap_json(pid, extra, live=False):
    """One snapshot, or (live) the heap section of a one-report live table."""
    mode = ["--heap=live", "--json", "-p", str(pid), "0.2", "1"] if live else ["--heap", "--json", "-p", str(pid)]
    r = run_mmtrace(mode + extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])["processes"][0]


def check_offsets_source(interp, source):
    """Each build says where its offsets came from: its own DWARF where it
    has it, else mmtrace's table."""
    if interp.name == "debian-3.11":
        assert source.startswith("mmtrace's table")
    elif interp.name == "debian-3.11-dbg":
        assert source.startswith("DWARF of /usr/lib/debug/.build-id/")
    else:
        assert source.startswith("DWARF of " + os.path.realpath(os.path.dirname(os.path.dirname(interp.exe))))
    assert "DWARF wins" not in source, "mmtrace's table agrees with the DWARF"


def check_pymalloc(interp, heap, truth):
    if interp.name == "debian-3.11":
        # stripped: pymalloc's state is in statics only the debug file names
        assert "python3.11-dbg" in heap["error"]
        return
    assert heap["consistent"] is True
    assert heap["arenas_current"] == truth["allocated current"] == heap["arenas_walked"]
    assert heap["arenas_allocated_total"] == truth["allocated total"]
    assert heap["arenas_reclaimed"] == truth["reclaimed"]
    assert heap["arenas_highwater"] == truth["highwater mark"]
    mine = {str(c["class"]): [c["size"], c["pools"], c["blocks_in_use"], c["free_blocks"]] for c in heap["classes"]}
    assert mine == truth["classes"]
    # the workload's own classes hold what it made: N/2 live 432-byte blocks at least
    assert mine["26"][2] >= 10000
    assert sum(c["bytes_in_use"] for c in heap["classes"]) == heap["bytes_in_use"]


def check_reading(interp, p, truth, enabled):
    """A process's heap fields against what it printed at the stop."""
    g = p["gc_state"]
    assert truth["enabled"] is enabled
    assert (g["count"], g["threshold"], g["enabled"]) == (truth["count"], truth["threshold"], enabled)
    assert g["objects"][:2] == truth["objects"], "gen0 and gen1 list lengths"
    check_offsets_source(interp, g["offsets"])
    check_pymalloc(interp, p["heap"], truth)
    assert p["rss_bytes"] > 0


def read_at_stable_stop(wl, stop, read):
    """read()'s reading at a stop whose statistics before and after agree."""
    for _ in range(5):
        wait_stopped(wl)
        p = read()
        os.kill(wl.pid, signal.SIGCONT)
        line = wl.stderr.readline().decode()
        while not line.startswith(stop):
            assert line, "workload ended early"
            line = wl.stderr.readline().decode()
        truth = json.loads(line.split(" ", 1)[1])
        if truth["stable"]:
            return p, truth
    raise AssertionError("the heap never held still across a stop")


def test_heap_equals_debugmallocstats_and_gc_state(interp):
    wl = subprocess.Popen([interp.exe, WORKLOAD, "20000"], stderr=subprocess.PIPE)
    try:
        # the snapshot mode at the first stop, the live table's heap section at the second
        for stop, enabled, live in (("STOP1", True, False), ("STOP2", False, True)):
            p, truth = read_at_stable_stop(wl, stop, lambda: heap_json(wl.pid, interp.extra_args, live))
            check_reading(interp, p, truth, enabled)
        assert wl.wait(timeout=30) == 0
    finally:
        if wl.poll() is None:
            wl.kill()
            wl.wait()


def test_heap_text_flags_disabled_gc(interp):
    code = "import gc, os, signal; gc.disable(); os.kill(os.getpid(), signal.SIGSTOP)"
    wl = subprocess.Popen([interp.exe, "-c", code])
    try:
        wait_stopped(wl)
        r = run_mmtrace(["--heap", "-p", str(wl.pid)] + interp.extra_args)
        assert r.returncode == 0, r.stderr
        assert "GC: DISABLED" in r.stdout and "gc.disable() is in effect" in r.stdout
        assert ("CLASS  SIZE" in r.stdout) == (interp.name != "debian-3.11")
        assert "layout: pymalloc from" in r.stdout
    finally:
        os.kill(wl.pid, signal.SIGCONT)
        wl.wait(timeout=30)


def test_heap_fails_cleanly_on_a_corrupt_image():
    """A process identified as CPython (3.12 by its symbols) whose _PyRuntime
    holds random bytes: mmtrace reads nothing it cannot validate and exits 9."""
    exe = os.path.join(FIXTURES, "fake_python")
    assert os.access(exe, os.X_OK), "make fixtures"
    for seed in range(5):
        p = subprocess.Popen([exe, "hold", str(seed)], stdout=subprocess.PIPE)
        try:
            assert p.stdout.readline().strip() == b"ready"
            r = run_mmtrace(["--heap", "-p", str(p.pid)])
            assert r.returncode == 9, (seed, r.returncode, r.stdout, r.stderr)
            assert "does not match CPython 3.12.1's layout" in r.stderr
            assert p.poll() is None, "the target was not harmed"
        finally:
            p.kill()
            p.wait()


def test_heap_refuses_bad_combinations_and_non_python():
    assert run_mmtrace(["--heap"]).returncode == 2
    assert run_mmtrace(["--heap", "--", "true"]).returncode == 2
    r = run_mmtrace(["--heap", "-p", str(os.getppid())])
    assert r.returncode in (0, 4)   # the shell running the tests is rarely CPython
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        r = run_mmtrace(["--heap", "-p", str(sleeper.pid)])
        assert r.returncode == 4 and "not a CPython process" in r.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
