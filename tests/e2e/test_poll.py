"""--poll: no probe in the target on any build of the matrix.

Each cell runs tests/workloads/gc_workload.py. First mmtrace --poll alone:
its counts over the START..END window equal the workload's own
gc.get_stats() deltas, and mmtrace holds no uprobe (no perf event, no BPF
link of that kind), while a probing mmtrace holds some.
Then, at the END barrier, a probing mmtrace (USDT or uprobes, the method the
other tests check against gc.get_stats()) attaches too and the workload ends
through Py_Finalize, whose own collections only a probe or a read at the
exit can see: where the main interpreter outlives the finalization (3.8's
GC state is in _PyRuntime, 3.12-3.14's main interpreter is static storage
inside it) the polled final counts grow by exactly what the probing mmtrace
counted; where it is freed (3.9-3.11) or the stats sit behind a pointer that
finalization clears (3.15's ring), the exit read fails, is counted once, and
the last report stands.
"""
import json
import os
import subprocess

import pytest

from conftest import MATRIX, MMTRACE, LineReader, Workload, deltas, mm_triplets, require, stop
from test_sid import SID_MATRIX, SidWorkload

CELLS = [c for c in MATRIX if c.name != "debian-3.11-dbg"] + SID_MATRIX   # the -dbg cell is the same file


@pytest.fixture(params=CELLS, ids=[c.name for c in CELLS])
def cell(request):
    require(request.param)
    return request.param


def start(cell, tmp_path):
    if cell.name.startswith("sid-"):
        return SidWorkload(cell)
    wl = Workload([cell.exe], tmp_path, "poll")
    r = subprocess.run([cell.exe, "-c", "import sys; print(sys.version_info[1])"],
                       capture_output=True, text=True, timeout=60)
    wl.version_minor = int(r.stdout)
    return wl


def mmtrace(args):
    p = subprocess.Popen([MMTRACE, "--json"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, LineReader(p.stdout)


def report(out, pred=lambda p: True, what="a report"):
    """The first report whose (only) process meets pred."""
    for _ in range(300):
        p = json.loads(out.line(timeout=30))["processes"][0]
        if pred(p):
            return p
    raise AssertionError("no report with %s" % what)


def probe_links(pid):
    """The uprobes (and any other perf event) process pid has attached: its
    perf event fds and its BPF links of type perf or uprobe_multi. Another
    tracer on the host may place uprobes in the same target; these are
    mmtrace's own."""
    links = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                info = f.read()
        except FileNotFoundError:
            continue
        kind = [line.split()[1] for line in info.splitlines() if line.startswith("link_type:")]
        if target == "anon_inode:[perf_event]" or kind and kind[0] in ("perf", "uprobe_multi"):
            links.append((target, kind))
    return links


def exit_read_possible(minor):
    return minor == 8 or 12 <= minor <= 14


def test_poll_equals_gc_get_stats_with_no_probe_in_the_target(cell, tmp_path):
    wl, polled, probing = start(cell, tmp_path), None, None
    try:
        s, _ = wl.barrier("START")
        full_start = wl.full("START") if hasattr(wl, "full") else None
        polled, pout = mmtrace(["--poll", "-p", str(wl.pid), "0.2"])
        first = report(pout)
        assert first["probe_method"] == "polled", first
        wl.go("START")
        e, _ = wl.barrier("END")
        full_end = wl.full("END") if hasattr(wl, "full") else None
        window = deltas(s, e)
        at_end = report(pout, lambda p: mm_triplets(p) == window, "the window's counts")
        assert window[2][2] > 0 and sum(c[0] for c in window) > 0, "the workload collects"
        assert at_end["gc"]["read_errors"] == 0
        if full_start:      # 3.15: its own durations, read back
            for g in range(3):
                dur_ns = (full_end[g]["duration"] - full_start[g]["duration"]) * 1e9
                assert abs(at_end["gc"]["pause_ns_total"][g] - dur_ns) <= 1000, (g, at_end["gc"], dur_ns)
        else:
            assert at_end["gc"]["pause_ns_total"] is None, at_end["gc"]
        assert probe_links(polled.pid) == [], "a polling mmtrace holds no uprobe or perf event"

        # the exit: a probing mmtrace sees each collection of Py_Finalize
        probing, qout = mmtrace(["-p", str(wl.pid), "0.2"] + [a for a in cell.extra_args if a != "--no-usdt"])
        probed_first = report(qout)
        assert probed_first["probe_method"] in ("usdt", "uprobe"), probed_first
        assert probe_links(probing.pid), "the check above sees a probing mmtrace's uprobes"
        assert sum(probed_first["gc"]["collections"]) == 0
        wl.go("END")
        assert wl.p.wait(timeout=60) == 0
        probed = report(qout, lambda p: p["exited"], "the exit")
        final = report(pout, lambda p: p["exited"], "the exit")
        assert probing.wait(timeout=30) == 0 and polled.wait(timeout=30) == 0
        finalization = mm_triplets(probed)
        assert sum(c[0] for c in finalization) > 0, "Py_Finalize collects"
        if exit_read_possible(wl.version_minor):
            assert final["gc"]["read_errors"] == 0, final["gc"]
            assert deltas(window, mm_triplets(final)) == finalization
        else:
            assert final["gc"]["read_errors"] == 1, final["gc"]
            assert mm_triplets(final) == window
    finally:
        for p in (polled, probing):
            if p:
                stop(p)
        wl.finish() if wl.p.poll() is None else None


@pytest.mark.parametrize("extra", [["-H"], ["--min-pause", "5"], ["--trace", "/dev/null"], ["--stacks"],
                                   ["--alloc=growth"], ["--no-usdt"]])
def test_poll_refuses_what_needs_a_probe(extra):
    r = subprocess.run([MMTRACE, "--poll", "-p", "1"] + extra, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert r.stderr.startswith("mmtrace: --poll places no probe") and r.stderr.count("\n") == 1, r.stderr


SHORT = """
import gc, json, sys
for i in range(100000):
    a = []
    a.append(a)
gc.collect(1)
print(json.dumps([s["collections"] for s in gc.get_stats()]), file=sys.stderr)
"""


@pytest.fixture(params=["3.8", "3.12", "3.13"])
def short_cell(request):
    cell = next(c for c in MATRIX if c.name == "pyenv-" + request.param)
    require(cell)
    return cell


def test_poll_command_shorter_than_an_interval_is_counted_whole(short_cell):
    """mmtrace --poll -- CMD, CMD over before the first report: its exit
    read is registered once its interpreter is up, so its counts are its
    own, from zero, plus the full collections of its Py_Finalize (generation
    2: the last line it printed is before them)."""
    r = subprocess.run([MMTRACE, "--poll", "--json", "5", "--", short_cell.exe, "-c", SHORT],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    own = json.loads(r.stderr.strip().splitlines()[-1])
    final = json.loads(r.stdout.strip().splitlines()[-1])
    assert final["final"] is True
    p = final["processes"][0]
    assert p["probe_method"] == "polled" and p["gc"]["read_errors"] == 0, p["gc"]
    got = p["gc"]["collections"]
    assert got[:2] == own[:2] and own[0] > 0, (got, own)
    assert got[2] > own[2], "Py_Finalize's own full collections are counted"
