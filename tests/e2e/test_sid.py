"""Debian sid's interpreters, run as a container would: chroot into the sid
root (tools/make-sid-root.sh), so that the process's root is not mmtrace's
and its files and debug files are reached through that root.

Counts over the START..END window of tests/workloads/gc_workload.py must
equal the workload's own gc.get_stats() deltas exactly, under -p and in the
system-wide mode. Versions are read from the interpreters, never assumed.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import (final_line, MMTRACE, WORKLOADS, HostTrace, Interp, LineReader, Workload, deltas,
                      mm_triplets, require, row, stop)

SID = os.environ.get("MMTRACE_SID_ROOT", "/var/lib/mmtrace/sid")
SID_MINORS = ["3.13", "3.14", "3.15"]
ROUNDS = "150"

# 3.15 keeps each generation's total collection time (gc.get_stats()[g]
# ["duration"], seconds, from its own ts_start..ts_stop reads of
# CLOCK_MONOTONIC). mmtrace's pause is gc__start..gc__done on the same
# clock: the two spans bracket almost the same work but not exactly (what
# runs between gc__start and ts_start and between ts_stop and gc__done:
# the heap-size snapshot, the stats update; plus the USDT trap, ~1 us here,
# before mmtrace reads its clock), so neither is always the larger one.
# Measured: within ~1 us per collection on average. 50 us per collection
# leaves room for a preemption at either edge; a pause paired with the
# wrong collection or generation is off by whole collections (~0.3-7 ms).
PER_COLLECTION_SLACK_NS = 50_000


def sid_version(exe):
    """The interpreter's own version, run in its root; None when it cannot run."""
    try:
        r = subprocess.run(["chroot", SID, exe, "-c", "import sys; print(sys.version.split()[0])"],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def sid_matrix():
    cells = []
    for minor in SID_MINORS:
        exe = "/usr/bin/python" + minor
        missing = None
        if not os.access(SID + exe, os.X_OK):
            missing = "no %s in the sid root %s (tools/make-sid-root.sh makes it)" % (exe, SID)
        cell = Interp("sid-" + minor, exe, [], "usdt", missing)
        cell.version = None if missing else sid_version(exe)
        if not missing and not cell.version:
            cell.missing = "%s does not run in %s" % (exe, SID)
        cells.append(cell)
    return cells


SID_MATRIX = sid_matrix()


@pytest.fixture(params=SID_MATRIX, ids=[c.name for c in SID_MATRIX])
def sid(request):
    require(request.param)
    return request.param


class SidWorkload(Workload):
    """gc_workload.py copied into the root's /tmp and run there by chroot;
    the go files are in the same directory, named by their in-root path."""

    def __init__(self, cell, own_mount_ns=False):
        self.dir = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
        inroot = self.dir[len(SID):]
        shutil.copy(os.path.join(WORKLOADS, "gc_workload.py"), self.dir)
        self.go_file = os.path.join(self.dir, "go")
        env = dict(os.environ, MMTRACE_GO_FILE=os.path.join(inroot, "go"))
        argv = ["chroot", SID, cell.exe, os.path.join(inroot, "gc_workload.py"), ROUNDS]
        if own_mount_ns:
            # a copy of the interpreter on a tmpfs of the process's own mount
            # namespace, then chroot: neither the maps' path (relative to
            # that namespace's root) nor /proc/PID/root + it exists for
            # mmtrace; only /proc/PID/map_files reaches the file
            ns_dir = os.path.join(self.dir, "ns")
            os.mkdir(ns_dir)
            self.exe_copy = os.path.join(inroot, "ns", "py")
            argv = ["unshare", "--mount", "sh", "-c",
                    'mount -t tmpfs mmtrace-test "$1" && cp "$2" "$1/py" && shift 2 && exec "$@"',
                    "sh", ns_dir, SID + cell.exe] + argv[:2] + [self.exe_copy] + argv[3:]
        # unshare, sh and chroot exec: the child's pid is the interpreter's
        self.p = subprocess.Popen(argv, stderr=subprocess.PIPE, env=env)
        self.pid = self.p.pid
        self.err = LineReader(self.p.stderr)
        self.version_minor = int(cell.version.split(".")[1])

    def full(self, name):
        """The barrier's whole gc.get_stats() dicts, None before 3.15."""
        if self.version_minor < 15:
            return None
        return json.loads(self.err.line(match="FULLSTATS " + name).split(" ", 2)[2])

    def finish(self):
        super().finish()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_sid_pid_in_its_root_equals_gc_get_stats(sid):
    """mmtrace -p PID of an interpreter whose root is the sid root: found
    through its maps (whose paths are mmtrace's own, the root being in
    mmtrace's mount namespace), probed by USDT, counts equal to its own."""
    wl, mm = SidWorkload(sid), None
    try:
        start, _ = wl.barrier("START")
        mm = subprocess.Popen([MMTRACE, "--json", "-p", str(wl.pid), "0.2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        mm_out = LineReader(mm.stdout)
        first = json.loads(mm_out.line())
        p = first["processes"][0]
        assert p["probe_method"] == sid.method
        assert p["python"] == sid.version
        full_start = wl.full("START")
        wl.go("START")
        end, _ = wl.barrier("END")
        full_end = wl.full("END")
        mm_out.line()
        stop(mm)
        final = final_line(mm_out)
        assert final["final"] is True
        p = final["processes"][0]
        assert p["pid"] == wl.pid and p["exited"] is False
        window = deltas(start, end)
        assert mm_triplets(p) == window
        assert window[2][2] > 0, "the workload makes uncollectable objects"
        assert p["gc"]["read_errors"] == 0
        assert mm.returncode == 0
        if full_start:
            check_ring_stats(p, full_start, full_end)
        else:
            assert p["gc"]["candidates"] is None, "the interpreter counts no candidates"
    finally:
        if mm:
            stop(mm)
        wl.finish()


def check_ring_stats(p, full_start, full_end):
    """3.15+: per generation, mmtrace's candidates equal the interpreter's
    own over the window, and its pause total agrees with their duration."""
    for g in range(3):
        assert p["gc"]["candidates"][g] == full_end[g]["candidates"] - full_start[g]["candidates"], g
        n = full_end[g]["collections"] - full_start[g]["collections"]
        dur_ns = (full_end[g]["duration"] - full_start[g]["duration"]) * 1e9
        mm_ns = p["gc"]["pause_ns_total"][g]
        assert mm_ns >= dur_ns - PER_COLLECTION_SLACK_NS * n, (g, n, mm_ns, dur_ns)
        # A collection of the oldest generation does more inside
        # gc__start..gc__done than inside ts_start..ts_stop: measured once
        # 3.26 ms against 3.09 ms (+5%, 163 us) for a full collection while
        # the younger ones stayed within ~1 us (the free lists, which CPython
        # clears at full collections, are the likely extra; not confirmed from
        # the 3.15 source). Bounded at +25%: a pause of another collection or
        # generation is off by whole collections.
        extra = 0.25 * dur_ns if g == 2 else 0
        assert mm_ns <= dur_ns + extra + PER_COLLECTION_SLACK_NS * n, (g, n, mm_ns, dur_ns)
        if n:
            assert mm_ns > 0


def test_sid_probe_plan_finds_debug_file_in_its_root(sid):
    """The build-id debug file is in the process's root only, as in a
    container image with -dbg installed: the plan finds it there."""
    wl = SidWorkload(sid)
    try:
        wl.barrier("START")
        r = subprocess.run([MMTRACE, "--probes", "--json", "-p", str(wl.pid)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        plan = json.loads(r.stdout)
        t = plan["targets"][0] if "targets" in plan else plan
        assert t["python"] == sid.version
        assert t["binary"] == SID + sid.exe
        if t["stripped"] and os.path.isdir(os.path.join(SID, "usr/lib/debug/.build-id")):
            assert t["symbol_source"] == "build-id debug file", t
            # under mmtrace's own name for the root's file, which outlives the process
            assert t["debug_file"].startswith(SID + "/usr/lib/debug/.build-id/"), t
            # the file's own offsets, cross-checked with that DWARF: no difference
            assert "from the file's _Py_DebugOffsets" in t["offsets"], t["offsets"]
            assert "cross-checked with its DWARF: all " in t["offsets"], t["offsets"]
    finally:
        wl.finish()


def test_sid_system_wide_row_equals_gc_get_stats(sid):
    """The system-wide mode finds the interpreter in its root; its row over
    the window equals the workload's own gc.get_stats() deltas."""
    wl, mm = SidWorkload(sid), None
    try:
        start, _ = wl.barrier("START")
        mm = HostTrace()
        r = mm.live([wl.pid])
        assert row(r, wl.pid)["python"] == sid.version
        assert row(r, wl.pid)["probe_method"] == sid.method
        full_start = wl.full("START")
        wl.go("START")
        end, _ = wl.barrier("END")
        full_end = wl.full("END")
        window = deltas(start, end)
        r = mm.report(lambda r: row(r, wl.pid) and mm_triplets(row(r, wl.pid)) == window,
                      what="a row for %d equal to %s" % (wl.pid, window))
        assert row(r, wl.pid)["gc"]["read_errors"] == 0
        assert window[2][2] > 0
        if full_start:
            # the row counts since attach, and nothing collected between
            # attach and START (the counts equal the window's)
            check_ring_stats(row(r, wl.pid), full_start, full_end)
    finally:
        wl.finish()
        if mm:
            mm.finish()


def test_sid_chroot_in_own_mount_namespace(sid):
    """An interpreter file that exists only in the process's own mount
    namespace, run chrooted there: found through /proc/PID/map_files, its
    debug file in its root by build-id; -p and system-wide counts equal its
    own gc.get_stats() deltas."""
    wl, mm = SidWorkload(sid, own_mount_ns=True), None
    try:
        start, _ = wl.barrier("START")
        assert not os.path.exists(SID + wl.exe_copy), "the copy exists only in its namespace"
        with open("/proc/%d/maps" % wl.pid) as f:
            assert any(l.rstrip().endswith(wl.exe_copy) for l in f), "the copy is what runs"
        r = subprocess.run([MMTRACE, "--probes", "--json", "-p", str(wl.pid)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        t = json.loads(r.stdout)
        t = t["targets"][0] if "targets" in t else t
        assert t["python"] == sid.version and t["method"] == sid.method, t
        assert t["binary"].endswith(wl.exe_copy), t["binary"]
        if t["stripped"] and os.path.isdir(os.path.join(SID, "usr/lib/debug/.build-id")):
            assert t["symbol_source"] == "build-id debug file", t
        mm = HostTrace()
        r = mm.live([wl.pid])
        assert row(r, wl.pid)["python"] == sid.version
        pm = subprocess.Popen([MMTRACE, "--json", "-p", str(wl.pid), "0.2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            pm_out = LineReader(pm.stdout)
            assert json.loads(pm_out.line())["processes"][0]["probe_method"] == sid.method
            wl.full("START")
            wl.go("START")
            end, _ = wl.barrier("END")
            window = deltas(start, end)
            pm_out.line()
            stop(pm)
            final = json.loads(pm_out.line())
            assert mm_triplets(final["processes"][0]) == window
            assert pm.returncode == 0
        finally:
            stop(pm)
        mm.report(lambda r: row(r, wl.pid) and mm_triplets(row(r, wl.pid)) == window,
                  what="a row for %d equal to %s" % (wl.pid, window))
        assert window[2][2] > 0
    finally:
        wl.finish()
        if mm:
            mm.finish()
