"""Collection stacks (--stacks --folded) of Debian sid's interpreters, run
chrooted in the sid root as a container would: offsets from each file's own
_Py_DebugOffsets, 3.14+'s tagged frames. The workload stops itself before
its cycles so that mmtrace -p is attached for all of them; its expected
lines come from the interpreter's own dis, run in the root.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import defaultdict

import pytest

from conftest import MMTRACE, WORKLOADS, Traced, require, stop
from test_sid import SID, SID_MATRIX
from test_stacks import frame_name, parse_folded


@pytest.fixture(params=SID_MATRIX, ids=[c.name for c in SID_MATRIX])
def sid_cell(request):
    require(request.param)
    return request.param


def wait_stopped(pid, timeout=60):
    deadline = time.monotonic() + timeout
    while open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline, "the workload did not stop itself"
        time.sleep(0.01)


def run_cycles(cell, tmp_path, mode="cycles-stopped", extra=(), metric="gc-count"):
    """(INFO, the metric's folded stacks, mmtrace's --probes text) of the
    workload in a mode that stops itself first."""
    root_dir = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
    inroot = os.path.join(root_dir[len(SID):], "stacks_workload.py")
    shutil.copy(os.path.join(WORKLOADS, "stacks_workload.py"), root_dir)
    prefix = str(tmp_path / "sid")
    mm = None
    # chroot execs the interpreter: the child's pid is the interpreter's
    wl = subprocess.Popen(["chroot", SID, cell.exe, inroot, mode], stderr=subprocess.PIPE)
    try:
        wait_stopped(wl.pid)
        probes = subprocess.run([MMTRACE, "--stacks", "--probes", "-p", str(wl.pid)] + list(extra),
                                capture_output=True, text=True, timeout=120)
        assert probes.returncode == 0, probes.stderr[-3000:]
        mm = Traced(["--stacks", "--folded", prefix, "--json", "-p", str(wl.pid), "0.2"] + list(extra))
        assert mm.report()["processes"], "attached"
        os.kill(wl.pid, signal.SIGCONT)
        _, err = wl.communicate(timeout=300)
        assert wl.returncode == 0, err.decode()[-3000:]
        assert mm.wait() == 0, "".join(mm.stderr)[-3000:]
    finally:
        if wl.poll() is None:
            wl.kill()
            wl.wait()
        if mm:
            stop(mm.p)
        shutil.rmtree(root_dir, ignore_errors=True)
    info = json.loads([l for l in err.decode().splitlines() if l.startswith("INFO ")][0][5:])
    with open("%s.%s.folded" % (prefix, metric)) as f:
        folded = parse_folded(f.read())
    return info, folded, probes.stdout + probes.stderr


def test_sid_gc_trigger_is_the_cycle_maker(sid_cell, tmp_path):
    info, folded, probes = run_cycles(sid_cell, tmp_path)
    # the walk's offsets are the file's own, and --probes says so
    assert "frame offsets from the interpreter's _Py_DebugOffsets" in probes, probes
    by_frame = defaultdict(int)
    for frames, weight in folded:
        if frames[0] == "gen0":
            by_frame[frames[-1]] += weight
    assert by_frame, folded
    top = max(by_frame, key=by_frame.get)
    # the collection runs where the eval breaker is next checked in the
    # loop that allocates: dis's line for it, in the root's own path
    lines = info["gc_lines"]["make_cycles_here"]
    assert len(lines) == 1, lines
    where = "make_cycles_here (%s:%d)" % (info["file"], lines[0])
    assert top == where, (where, dict(by_frame))
    assert by_frame[where] >= 10, dict(by_frame)
    # outermost first: the module, then main, then the cycle maker
    for frames, weight in folded:
        if frames[0] == "gen0" and frames[-1] == where:
            names = [frame_name(f) for f in frames[1:]]
            assert names == ["<module>", "main", "make_cycles_here"], frames
            assert all(info["file"] in f for f in frames[1:]), frames


def test_sid_growth_attributed_to_its_line(sid_cell, tmp_path):
    """--alloc=growth --stacks: the pools taken while the workload fills a
    list of bytes objects are charged to that line (dis's), with the growth
    probes found in the root's debug file."""
    info, folded, probes = run_cycles(sid_cell, tmp_path, "sample", ["--alloc=growth"], "growth-bytes")
    assert "allocate_from_new_pool" in probes, probes
    where = "grow_heap_here (%s:%d)" % (info["file"], info["lines"]["grow_heap_here"])
    total = sum(w for _, w in folded)
    mine = sum(w for frames, w in folded if frames[-1] == where)
    assert total >= 4 << 20, "50000 bytes objects of 100 bytes take ~7 MB of pools"
    assert mine >= 0.9 * total, (where, mine, total, sorted(folded, key=lambda x: -x[1])[:3])
