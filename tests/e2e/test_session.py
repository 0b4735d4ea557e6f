"""The one session engine: what each target source gains from sharing it.

-p follows its process across an exec (the old image's row ends with its
own counts, the new image has a row of its own), and the system-wide mode
has the stacks and the heap section the one-process mode has, each checked
against the interpreter's own figures.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from conftest import MMTRACE, final_line, WORKLOADS, LineReader, barrier_stats, deltas, go, mm_triplets, stop
from test_heap import WORKLOAD as HEAP_WORKLOAD, check_reading, read_at_stable_stop
from test_sid import SID, sid  # noqa: F401 (the sid cells' fixture)
from test_stacks import WORKLOAD as STACKS_WORKLOAD, frame_name

REEXEC = os.path.join(WORKLOADS, "reexec_workload.py")


def rows_of(report, pid):
    return [p for p in report["processes"] if p["pid"] == pid]


def check_reexec(argv, go_file, go_file_seen, extra_args):
    """mmtrace -p PID: the image before the exec counts its own collections
    (since the attach), the image after it counts from its first
    instruction (the probes were live before it ran), and mmtrace ends when
    the process does."""
    env = dict(os.environ, MMTRACE_GO_FILE=go_file_seen)
    wl = subprocess.Popen(argv, stderr=subprocess.PIPE, env=env)
    wl_err = LineReader(wl.stderr)
    mm = None
    try:
        ready, _ = barrier_stats(wl_err.line(match="READY"))
        mm = subprocess.Popen([MMTRACE, "--json", "-p", str(wl.pid), "0.2"] + extra_args,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = LineReader(mm.stdout)
        json.loads(out.line())                      # attached: probes are live
        go(go_file, "START")
        execd, _ = barrier_stats(wl_err.line(match="EXEC"))
        end, _ = barrier_stats(wl_err.line(match="END"))
        go(go_file, "END")
        assert wl.wait(timeout=30) == 0
        assert mm.wait(timeout=30) == 0, "mmtrace ends with the process it follows"
        old, new = rows_of(final_line(out), wl.pid)
        assert old["exited"] is True and old["traced_from"] == "attach"
        assert mm_triplets(old) == deltas(ready, execd)
        assert new["exited"] is True and new["traced_from"] == "exec" and new["counts_absolute"] is True
        # shutdown may collect more, never less
        got = mm_triplets(new)
        assert got[0][0] == end[0][0] and got[1][0] == end[1][0], (got, end)
        assert got[2][0] >= end[2][0]
        assert old["gc"]["read_errors"] == new["gc"]["read_errors"] == 0
    finally:
        go(go_file, "START")
        go(go_file, "END")
        if mm:
            stop(mm)
        if wl.poll() is None:
            wl.kill()
        wl.wait()


def test_pid_follows_a_reexec(interp, tmp_path):
    check_reexec([interp.exe, REEXEC], str(tmp_path / "go"), str(tmp_path / "go"), interp.extra_args)


def test_sid_pid_follows_a_reexec(sid):
    """The same in the sid root (3.13-3.15, USDT), run there by chroot."""
    d = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
    try:
        shutil.copy(REEXEC, d)
        inroot = d[len(SID):]
        check_reexec(["chroot", SID, sid.exe, os.path.join(inroot, os.path.basename(REEXEC))],
                     os.path.join(d, "go"), os.path.join(inroot, "go"), sid.extra_args)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def host_mmtrace(args):
    mm = subprocess.Popen([MMTRACE, "--json"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = LineReader(mm.stdout)
    json.loads(out.line())                          # the first report: the probes are live
    return mm, out


def final_report(mm, out):
    """Stops mmtrace and reads on to its final report (the pipe is kept
    drained: a system-wide report can be larger than its buffer)."""
    mm.send_signal(signal.SIGINT)
    report = final_line(out)
    assert mm.wait(timeout=30) == 0
    return report


def test_system_wide_stacks_name_the_cycle_maker(interp, tmp_path):
    """Every collection the workload's loop triggers is attributed to that
    loop, at a line dis gives for it, in the workload's own row."""
    mm, out = host_mmtrace(["--stacks", "0.3"] + interp.extra_args)
    try:
        r = subprocess.run([interp.exe, STACKS_WORKLOAD, "cycles"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        info = json.loads([l for l in r.stderr.splitlines() if l.startswith("INFO ")][0][5:])
        report = final_report(mm, out)
    finally:
        mm.stdout.close()       # a report being written ends with EPIPE
        stop(mm)
    pids = [p for p in report["processes"]
            if any(s["frames"] and frame_name(s["frames"][-1]) == "make_cycles_here"
                   for s in p["stacks"]["gc-count"])]
    assert len(pids) == 1, "one row holds the workload's stacks"
    p = pids[0]
    mine = [s for s in p["stacks"]["gc-count"] if frame_name(s["frames"][-1]) == "make_cycles_here"]
    assert sum(s["count"] for s in mine) >= 10      # 3.13: a threshold of 2000
    assert sum(s["count"] for s in mine) <= sum(p["gc"]["collections"])
    where = info["file"] + ":"
    for s in mine:
        line = int(s["frames"][-1].rsplit(where, 1)[1].rstrip(")"))
        assert line in info["gc_lines"]["make_cycles_here"], (s["frames"], info["gc_lines"])
    assert p["stacks"]["dropped"] == 0


def test_system_wide_heap_section_equals_debugmallocstats(interp, tmp_path):
    """The live table's heap section, system-wide, read while the workload
    stands stopped, against its own sys._debugmallocstats() and GC state."""
    mm, out = host_mmtrace(["--heap=live", "0.2"] + interp.extra_args)
    wl = subprocess.Popen([interp.exe, HEAP_WORKLOAD, "20000"], stderr=subprocess.PIPE)
    try:
        def read_stopped():
            """The workload's heap section in the first report made after it stopped."""
            stopped_at = time.time()
            report = json.loads(out.line())
            while report["time"] < stopped_at + 0.05 or not rows_of(report, wl.pid):
                report = json.loads(out.line())
            return rows_of(report, wl.pid)[-1]

        for stop_name, enabled in (("STOP1", True), ("STOP2", False)):
            p, truth = read_at_stable_stop(wl, stop_name, read_stopped)
            check_reading(interp, p, truth, enabled)
        assert wl.wait(timeout=30) == 0
    finally:
        if wl.poll() is None:
            wl.kill()
            wl.wait()
        mm.stdout.close()
        stop(mm)
