"""--heap on Debian sid's interpreters (3.13, 3.14, 3.15), run chrooted in
the sid root as a container would, against their own account of their heap.

tests/workloads/heap_workload.py (and mallocstats.py) is copied into the
root and stops itself twice (the GC enabled, then disabled) right after
sys._debugmallocstats(), gc.get_count(), gc.get_threshold(),
gc.isenabled() and, on 3.15, gc.get_stats(). At each stop mmtrace reads
the process twice: with the root's debug file (DWARF), and without any
(--debug-dir to nowhere), as in a slim image. Versions, offsets and
figures are read from the interpreters, never assumed:
  - arenas, pools and size classes equal sys._debugmallocstats() exactly,
    or, without DWARF and with no verified row for the micro, are
    "unavailable" with the reason;
  - gc.get_count/get_threshold/isenabled equal, in both readings;
  - 3.15: the ring's collections, collected, uncollectable and candidates
    equal gc.get_stats() exactly, and the duration is the very double the
    interpreter returned (both are the same 8 bytes of its memory).
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile

from conftest import NO_DEBUG_DIR, WORKLOADS, run_mmtrace
from test_heap import wait_stopped
from test_sid import SID, sid  # noqa: F401 (the fixture: the sid-3.x cells, require()'d)

RING_KEYS = ("collections", "collected", "uncollectable", "candidates", "duration")


class SidHeapWorkload:
    """heap_workload.py in the root's /tmp, run there by chroot (chroot
    execs: the child's pid is the interpreter's)."""

    def __init__(self, cell, n="20000"):
        self.dir = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
        for name in ("heap_workload.py", "mallocstats.py"):
            shutil.copy(os.path.join(WORKLOADS, name), self.dir)
        script = os.path.join(self.dir[len(SID):], "heap_workload.py")
        self.p = subprocess.Popen(["chroot", SID, cell.exe, script, n], stderr=subprocess.PIPE)
        self.pid = self.p.pid

    def finish(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def heap_json(pid, extra=()):
    r = run_mmtrace(["--heap", "--json", "-p", str(pid)] + list(extra))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])["processes"][0]


def readings_at_stable_stop(wl, stop):
    """mmtrace's two readings (with DWARF, without) at a stop whose
    statistics before and after agree, with the workload's own truth."""
    for _ in range(5):
        wait_stopped(wl.p)
        with_dwarf = heap_json(wl.pid)
        without = heap_json(wl.pid, ["--debug-dir", NO_DEBUG_DIR])
        os.kill(wl.pid, signal.SIGCONT)
        line = wl.p.stderr.readline().decode()
        while not line.startswith(stop):
            assert line, "workload ended early"
            line = wl.p.stderr.readline().decode()
        truth = json.loads(line.split(" ", 1)[1])
        if truth["stable"]:
            return with_dwarf, without, truth
    raise AssertionError("the heap never held still across a stop")


def check_pymalloc(heap, truth):
    assert heap["consistent"] is True
    assert heap["arenas_current"] == truth["allocated current"] == heap["arenas_walked"]
    assert heap["arenas_allocated_total"] == truth["allocated total"]
    assert heap["arenas_reclaimed"] == truth["reclaimed"]
    assert heap["arenas_highwater"] == truth["highwater mark"]
    mine = {str(c["class"]): [c["size"], c["pools"], c["blocks_in_use"], c["free_blocks"]] for c in heap["classes"]}
    assert mine == truth["classes"]
    assert sum(c["bytes_in_use"] for c in heap["classes"]) == heap["bytes_in_use"]


def check_gc(g, truth, enabled):
    assert truth["enabled"] is enabled
    assert (g["count"], g["threshold"], g["enabled"]) == (truth["count_at_stop"], truth["threshold"], enabled)
    assert g["objects"][:2] == truth["objects"], "gen0 and gen1 list lengths"
    assert "offset from _Py_DebugOffsets" in g["source"] or "offsets from _Py_DebugOffsets" in g["source"]


def check_ring(stats, truth, minor):
    if minor < 15:
        assert "ring" not in truth
        assert "keeps no GC stats ring" in stats["error"]
        return
    assert stats["consistent"] is True
    assert "_Py_DebugOffsets" in stats["source"]
    assert len(stats["generations"]) == len(truth["ring"]) == 3
    for g, (mine, theirs) in enumerate(zip(stats["generations"], truth["ring"])):
        # duration too: the same double, printed with %.17g, read back exactly
        assert {k: mine[k] for k in RING_KEYS} == {k: theirs[k] for k in RING_KEYS}, g
    # the workload's gc.collect() ran: the figures are not all zero
    assert truth["ring"][2]["collections"] > 0


def test_sid_heap_equals_debugmallocstats_gc_state_and_get_stats(sid):  # noqa: F811
    minor = int(sid.version.split(".")[1])
    wl = SidHeapWorkload(sid)
    try:
        for stop, enabled in (("STOP1", True), ("STOP2", False)):
            with_dwarf, without, truth = readings_at_stable_stop(wl, stop)
            for p in (with_dwarf, without):
                assert p["python"] == sid.version
                check_gc(p["gc_state"], truth, enabled)
                check_ring(p["gc_state"]["stats"], truth, minor)
                assert p["rss_bytes"] > 0

            # with the debug file in the root: every offset from its DWARF
            heap = with_dwarf["heap"]
            assert with_dwarf["gc_state"]["offsets"].startswith("DWARF of " + SID + "/usr/lib/debug/.build-id/")
            assert "DWARF wins" not in with_dwarf["gc_state"]["offsets"], "the built-ins agree with the DWARF"
            assert heap["source"].endswith("obmalloc's offset from DWARF"), heap["source"]
            assert with_dwarf["gc_state"]["source"].startswith("interpreters.main -> gc")
            check_pymalloc(heap, truth)

            # without it: the GC from _Py_DebugOffsets and the built-ins;
            # pymalloc only where mmtrace has a verified row for this micro
            heap = without["heap"]
            assert not without["gc_state"]["offsets"].startswith("DWARF")
            # 3.14+ have no table: the list's head, named by _Py_DebugOffsets
            # (the main interpreter here: there is no other)
            assert without["gc_state"]["source"].startswith(
                "interpreters.head -> gc, both" if minor >= 14 else "interpreters.main -> gc")
            if "error" in heap:
                assert heap["error"].startswith("unavailable: PyInterpreterState.obmalloc is not in "
                                                "_Py_DebugOffsets"), heap["error"]
                assert sid.version in heap["error"]
            else:
                assert heap["source"].endswith("obmalloc's offset from mmtrace's row for " + sid.version) or (
                    minor < 14 and heap["source"].endswith("obmalloc's offset from mmtrace's table")), heap["source"]
                check_pymalloc(heap, truth)
        assert wl.p.wait(timeout=60) == 0
    finally:
        wl.finish()


def test_sid_heap_text(sid):  # noqa: F811
    """The text snapshot: the classes table, the GC line, on 3.15 the ring
    table (gc.get_stats()'s figures), and where each offset came from."""
    minor = int(sid.version.split(".")[1])
    code = "import gc, os, signal; gc.collect(); os.kill(os.getpid(), signal.SIGSTOP)"
    p = subprocess.Popen(["chroot", SID, sid.exe, "-c", code])
    try:
        wait_stopped(p)
        r = run_mmtrace(["--heap", "-p", str(p.pid)])
        assert r.returncode == 0, r.stderr
        assert "CLASS  SIZE" in r.stdout and "GC: enabled" in r.stdout
        assert "layout: pymalloc from interpreters.main -> *obmalloc.mgmt, obmalloc's offset from DWARF" in r.stdout
        assert ("gc.get_stats(), from its ring; consistent" in r.stdout) == (minor >= 15), r.stdout
        assert ("GC stats ring: n/a" in r.stdout) == (minor < 15), r.stdout
    finally:
        os.kill(p.pid, signal.SIGCONT)
        p.wait(timeout=30)
