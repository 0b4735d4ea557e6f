"""Builds with no USDT notes, with and without symbols: the shape of the
official slim container images and of python-build-standalone's stripped
builds.

Cells, made here under fixed directories and reused while their source is
unchanged:
  sid-3.X-nousdt-dbg   a sid interpreter (3.13-3.15) without .note.stapsdt, in the sid
                       root; its build-id debug file (the root's) matches:
                       uprobes on gc_collect_main from the debug file.
  sid-3.X-nousdt       the same file run in its own mount namespace with an
                       empty tmpfs over the root's /usr/lib/debug: neither
                       symbols nor USDT.
  pyenv-3.X-stripped   pyenv's interpreter and libpython, strip --strip-all.

Counts over the START..END window of tests/workloads/gc_workload.py must
equal the workload's own gc.get_stats() deltas exactly under -p; the plan
names the mechanism. Versions are read from the interpreters.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import (final_line, MMTRACE, WORKLOADS, HostTrace, Interp, LineReader, Workload, deltas, mm_triplets,
                      pyenv_interpreter, require, row, stop)
from test_sid import PER_COLLECTION_SLACK_NS, ROUNDS, SID, SidWorkload, sid_version

NOUSDT = os.environ.get("MMTRACE_NOUSDT_DIR", "/var/lib/mmtrace/nousdt")
SID_MINORS = ["3.13", "3.14", "3.15"]
PYENV_MINORS = ["3.12", "3.13"]
POLLED = "polled"


def fresh(dst, src):
    """dst was made from src's current contents (by mtime) and is usable."""
    try:
        return os.path.getmtime(dst) >= os.path.getmtime(src)
    except OSError:
        return False


def make_copy(src, dst, tool_argv):
    """tool_argv(src, tmp) writes a transformed copy; installed by rename, so
    a concurrent run sees the old file or the new one, never half of one."""
    if fresh(dst, src):
        return None
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(dst))
    os.close(fd)
    try:
        r = subprocess.run(tool_argv(src, tmp), capture_output=True, text=True)
        if r.returncode:
            return "%s failed: %s" % (tool_argv(src, tmp)[0], r.stderr.strip())
        os.chmod(tmp, 0o755)
        os.rename(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return None


def no_stapsdt(src, dst):
    # .probes stays: it holds the semaphores the (removed) notes named
    return ["objcopy", "--remove-section", ".note.stapsdt", src, dst]


def strip_all(src, dst):
    return ["strip", "--strip-all", "-o", dst, src]


def sid_cells():
    cells = []
    for minor in SID_MINORS:
        src = SID + "/usr/bin/python" + minor
        exe = "/usr/local/bin/python%s-nousdt" % minor
        missing = None
        if not os.access(src, os.X_OK):
            missing = "no %s (tools/make-sid-root.sh makes the sid root)" % src
        elif not shutil.which("objcopy"):
            missing = "no objcopy"
        else:
            missing = make_copy(src, SID + exe, no_stapsdt)
        version = None if missing else sid_version(exe)
        if not missing and not version:
            missing = "%s does not run in %s" % (exe, SID)
        dbg = Interp("sid-%s-nousdt-dbg" % minor, exe, [], "uprobe", missing)
        bare = Interp("sid-%s-nousdt" % minor, exe, [], POLLED, missing)
        dbg.version = bare.version = version
        dbg.hide_debug, bare.hide_debug = False, True
        cells += [dbg, bare]
    return cells


def pyenv_cells():
    """A copy of pyenv's interpreter and libpython, both stripped, next to a
    link to its standard library (the prefix is found from the executable);
    LD_LIBRARY_PATH picks the stripped libpython over the RUNPATH."""
    cells = []
    for minor in PYENV_MINORS:
        src = pyenv_interpreter(minor)
        missing = None if src else "no pyenv build of %s" % minor
        prefix = os.path.join(NOUSDT, "pyenv-" + minor)
        exe = os.path.join(prefix, "bin", "python" + minor)
        lib = os.path.join(prefix, "lib")
        if not missing:
            spre = os.path.dirname(os.path.dirname(src))
            so = os.path.join(spre, "lib", "libpython%s.so.1.0" % minor)
            missing = (make_copy(src, exe, strip_all) or
                       make_copy(so, os.path.join(lib, os.path.basename(so)), strip_all))
            stdlib = os.path.join(lib, "python" + minor)
            target = os.path.join(spre, "lib", "python" + minor)
            if not missing and (not os.path.islink(stdlib) or os.readlink(stdlib) != target):
                # replaced by rename: another run sees the old link or the new one
                tmp = "%s.tmp-%d" % (stdlib, os.getpid())
                os.symlink(target, tmp)
                os.rename(tmp, stdlib)
        cell = Interp("pyenv-%s-stripped" % minor, exe, [], POLLED, missing)
        cell.env = {"LD_LIBRARY_PATH": lib}
        cells.append(cell)
    return cells


NOUSDT_MATRIX = sid_cells() + pyenv_cells()


@pytest.fixture(params=NOUSDT_MATRIX, ids=[c.name for c in NOUSDT_MATRIX])
def cell(request):
    require(request.param)
    return request.param


class HiddenDebugWorkload(SidWorkload):
    """SidWorkload in its own mount namespace whose root has an empty tmpfs
    over /usr/lib/debug: the build-id debug file exists for nobody there."""

    def __init__(self, cell):
        self.dir = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
        inroot = self.dir[len(SID):]
        shutil.copy(os.path.join(WORKLOADS, "gc_workload.py"), self.dir)
        self.go_file = os.path.join(self.dir, "go")
        env = dict(os.environ, MMTRACE_GO_FILE=os.path.join(inroot, "go"))
        argv = ["unshare", "--mount", "sh", "-c",
                'mount -t tmpfs mmtrace-test "$1" && shift && exec "$@"', "sh",
                SID + "/usr/lib/debug", "chroot", SID, cell.exe,
                os.path.join(inroot, "gc_workload.py"), ROUNDS]
        self.p = subprocess.Popen(argv, stderr=subprocess.PIPE, env=env)
        self.pid = self.p.pid
        self.err = LineReader(self.p.stderr)
        self.version_minor = int(cell.version.split(".")[1])


class PyenvWorkload(Workload):
    def __init__(self, cell, tmp_path):
        super().__init__([cell.exe], tmp_path, cell.name, env=cell.env)
        self.version_minor = int(cell.name.split("-")[1].split(".")[1])

    def full(self, name):
        return None


def start(cell, tmp_path):
    if hasattr(cell, "env"):
        return PyenvWorkload(cell, tmp_path)
    return HiddenDebugWorkload(cell) if cell.hide_debug else SidWorkload(cell)


def plan_of(pid):
    r = subprocess.run([MMTRACE, "--probes", "--json", "-p", str(pid)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)
    return t["targets"][0] if "targets" in t else t


def metric(plan, name):
    return plan["metrics"][name]


def test_nousdt_plan_names_mechanism(cell, tmp_path):
    """--probes says which mechanism serves the GC metrics: uprobes from the
    debug file, or reading the interpreter's memory, and what that misses."""
    wl = start(cell, tmp_path)
    try:
        wl.barrier("START")
        t = plan_of(wl.pid)
        assert t["method"] == cell.method, t
        assert t["usdt"] is False, t
        coll = metric(t, "gc.collections")
        if cell.method == "uprobe":
            assert t["symbol_source"] == "build-id debug file", t
            assert any(s["at"].startswith("gc_collect_main") for s in t["sites"]), t["sites"]
        else:
            assert t["sites"] == [], t["sites"]
            assert "read from the interpreter's memory at each report" in coll["reason"], coll
            pause = metric(t, "gc.pause")
            if wl.version_minor >= 15:
                assert pause["coverage"] == "partial" and "duration" in pause["reason"], pause
            else:
                assert pause["coverage"] == "unavailable", pause
            assert metric(t, "stacks")["coverage"] == "unavailable"
    finally:
        wl.finish()


def check_uprobe_ring_stats(p, full_start, full_end, cb_pauses):
    """3.15 through uprobes: candidates equal the interpreter's own; the pause
    is collector entry to return, which brackets both CPython's own
    ts_start..ts_stop (duration) and the start..stop callbacks, so per
    generation it is at least each of their totals (less the clock slack of
    test_sid)."""
    for g in range(3):
        assert p["gc"]["candidates"][g] == full_end[g]["candidates"] - full_start[g]["candidates"], g
        n = full_end[g]["collections"] - full_start[g]["collections"]
        dur_ns = (full_end[g]["duration"] - full_start[g]["duration"]) * 1e9
        cb_ns = sum(c[1] for c in cb_pauses if c[0] == g)
        mm_ns = p["gc"]["pause_ns_total"][g]
        assert mm_ns >= dur_ns - PER_COLLECTION_SLACK_NS * n, (g, n, mm_ns, dur_ns)
        assert mm_ns >= cb_ns - PER_COLLECTION_SLACK_NS * n, (g, n, mm_ns, cb_ns)


def test_nousdt_pid_counts_equal_gc_get_stats(cell, tmp_path):
    """mmtrace -p: counts over the window equal the workload's gc.get_stats()
    deltas exactly; a polled process marks its pauses unavailable, except
    3.15's totals, equal to its own duration deltas."""
    wl, mm = start(cell, tmp_path), None
    try:
        s, _ = wl.barrier("START")
        mm = subprocess.Popen([MMTRACE, "--json", "-p", str(wl.pid), "0.2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = LineReader(mm.stdout)
        p = json.loads(out.line())["processes"][0]
        assert p["probe_method"] == cell.method, p
        full_start = wl.full("START")
        wl.go("START")
        e, cb_pauses = wl.barrier("END")
        full_end = wl.full("END")
        out.line()
        stop(mm)
        final = final_line(out)
        assert final["final"] is True
        p = final["processes"][0]
        window = deltas(s, e)
        assert mm_triplets(p) == window
        assert window[2][2] > 0, "the workload makes uncollectable objects"
        assert p["gc"]["read_errors"] == 0
        assert mm.returncode == 0, mm.stderr.read()
        if cell.method != POLLED and full_start:
            check_uprobe_ring_stats(p, full_start, full_end, cb_pauses)
        if cell.method == POLLED:
            if full_start:
                for g in range(3):
                    dur_ns = (full_end[g]["duration"] - full_start[g]["duration"]) * 1e9
                    # the same doubles read from memory: equal to rounding
                    assert abs(p["gc"]["pause_ns_total"][g] - dur_ns) <= 1000, (g, p["gc"], dur_ns)
            else:
                assert p["gc"]["pause_ns_total"] is None, p["gc"]
            assert p["gc"]["pause_hist_log2_ns"] is None, p["gc"]
    finally:
        if mm:
            stop(mm)
        wl.finish()


def test_nousdt_system_wide_row_equals_gc_get_stats(cell, tmp_path):
    """The system-wide mode: a process whose file has no probe point is a
    polled row (not untraceable) whose counts over the window equal its own
    gc.get_stats() deltas; its pause fields are null (3.15: totals only)."""
    if cell.method != POLLED:
        pytest.skip("the uprobe cells' system-wide rows are test_sid's and test_gc_truth's")
    wl, mm = start(cell, tmp_path), None
    try:
        s, _ = wl.barrier("START")
        mm = HostTrace()
        r = mm.live([wl.pid])
        assert row(r, wl.pid)["probe_method"] == POLLED
        wl.full("START")
        wl.go("START")
        e, _ = wl.barrier("END")
        wl.full("END")
        window = deltas(s, e)
        r = mm.report(lambda r: row(r, wl.pid) and mm_triplets(row(r, wl.pid)) == window,
                      what="a row for %d equal to %s" % (wl.pid, window))
        g = row(r, wl.pid)["gc"]
        assert g["read_errors"] == 0 and g["pause_hist_log2_ns"] is None
        assert (g["pause_ns_total"] is None) == (wl.version_minor < 15), g
        assert window[2][2] > 0
    finally:
        wl.finish()
        if mm:
            mm.finish()


SUBINTERP = ("import gc, json, sys, _interpreters\n"
             "def stats():\n"
             "    return json.dumps([[g['collections'], g['collected'], g['uncollectable']] for g in gc.get_stats()])\n"
             "sys.stderr.write('START ' + stats() + '\\n'); sys.stderr.flush(); sys.stdin.readline()\n"
             "for _ in range(3):\n"
             "    i = _interpreters.create()\n"
             "    _interpreters.run_string(i, 'import gc; gc.collect()')\n"
             "    _interpreters.destroy(i)\n"
             "gc.collect(1)\n"
             "sys.stderr.write('END ' + stats() + '\\n'); sys.stderr.flush(); sys.stdin.readline()\n")


UPROBE_CELLS = [c for c in NOUSDT_MATRIX if c.method == "uprobe"]


@pytest.fixture(params=UPROBE_CELLS, ids=[c.name for c in UPROBE_CELLS])
def uprobe_cell(request):
    require(request.param)
    return request.param


def test_nousdt_uprobe_subinterpreters_kept_apart(uprobe_cell):
    """gc_collect_main's thread state names the collecting interpreter: the
    main interpreter's counts equal its gc.get_stats() window exactly and the
    subinterpreters' collections (3 gc.collect() and their finalization) are
    shown apart, as on 3.9-3.13; the plan calls the counts exact."""
    cell = uprobe_cell
    # chroot execs: the child's pid is the interpreter's
    p = subprocess.Popen(["chroot", SID, cell.exe, "-c", SUBINTERP], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    err, mm = LineReader(p.stderr), None
    try:
        start = json.loads(err.line(match="START").split(" ", 1)[1])
        t = plan_of(p.pid)
        assert metric(t, "gc.collections")["coverage"] == "exact", metric(t, "gc.collections")
        if int(cell.version.split(".")[1]) >= 14:
            assert "own interpreter" in metric(t, "gc.collections")["reason"]
        mm = subprocess.Popen([MMTRACE, "--json", "-p", str(p.pid), "0.2"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        out = LineReader(mm.stdout)
        assert json.loads(out.line())["processes"], "attached"
        p.stdin.write(b"\n")
        p.stdin.flush()
        end = json.loads(err.line(match="END").split(" ", 1)[1])
        stop(mm)
        final = json.loads([l for l in mm.stdout.read().decode().splitlines() if l][-1])
        row_ = final["processes"][0]
        assert mm_triplets(row_) == [[e - s for s, e in zip(a, b)] for a, b in zip(start, end)]
        assert row_["gc"]["subinterpreters"]["collections"][2] >= 3, row_["gc"]["subinterpreters"]
    finally:
        if mm:
            stop(mm)
        p.stdin.close()
        p.wait(timeout=30)


POLLED_CELLS = [c for c in NOUSDT_MATRIX if c.method == POLLED]

# Collections, then the interpreter's own figures, then an exit that runs no
# finalisation (os._exit): the collections after mmtrace's last report are
# seen only by the read BPF makes as the process exits.
LAST_BURST = ("import gc, json, os, sys\n"
              "def stats():\n"
              "    return json.dumps([[g[k] for k in ('collections', 'collected', 'uncollectable')] +\n"
              "                       [g.get('duration', 0.0)] for g in gc.get_stats()])\n"
              "sys.stderr.write('START ' + stats() + '\\n'); sys.stderr.flush(); sys.stdin.readline()\n"
              "class Cycle:\n"
              "    def __init__(self): self.me = self\n"
              "for _ in range(30):\n"
              "    [Cycle() for _ in range(3000)]\n"
              "gc.collect()\n"
              "sys.stderr.write('END ' + stats() + '\\n'); sys.stderr.flush()\n"
              "os._exit(0)\n")


@pytest.fixture(params=POLLED_CELLS, ids=[c.name for c in POLLED_CELLS])
def polled_cell(request):
    require(request.param)
    return request.param


def polled_argv(cell, code):
    """The cell's interpreter running code, as the cell runs its workload."""
    if hasattr(cell, "env"):
        return [cell.exe, "-c", code]
    # its own mount namespace with no debug file: no symbols, no USDT
    return ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs mmtrace-test "$1" && shift && exec "$@"', "sh",
            SID + "/usr/lib/debug", "chroot", SID, cell.exe, "-c", code]


def check_window(row_, start, end):
    assert mm_triplets(row_) == [[e - s for s, e in zip(a[:3], b[:3])] for a, b in zip(start, end)]
    if end[0][3]:       # 3.15: the pause totals are its own duration deltas
        for g in range(3):
            assert abs(row_["gc"]["pause_ns_total"][g] - (end[g][3] - start[g][3]) * 1e9) < 1000, g


def test_nousdt_polled_exit_counts_after_last_report(polled_cell):
    """-p with no report between attach and exit: the final row still equals
    the interpreter's own window, read by BPF from the exiting process."""
    cell = polled_cell
    # unshare, sh and chroot exec: the child's pid is the interpreter's
    p = subprocess.Popen(polled_argv(cell, LAST_BURST), stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, **getattr(cell, "env", {})))
    err, mm = LineReader(p.stderr), None
    try:
        start = json.loads(err.line(match="START").split(" ", 1)[1])
        mm = subprocess.Popen([MMTRACE, "--json", "-p", str(p.pid), "2"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        out = LineReader(mm.stdout)
        first = json.loads(out.line())
        assert first["processes"][0]["probe_method"] == POLLED
        # released just after a report: its burst and exit take far less than
        # the 2 s to the next one (and the final row is exact either way)
        p.stdin.write(b"\n")
        p.stdin.flush()
        end = json.loads(err.line(match="END").split(" ", 1)[1])
        final = json.loads(out.line(timeout=60))
        while not final["final"]:
            final = json.loads(out.line(timeout=60))
        row_ = final["processes"][0]
        check_window(row_, start, end)
        assert row_["gc"]["read_errors"] == 0
        assert mm.wait(timeout=30) == 0
    finally:
        if mm:
            stop(mm)
        p.stdin.close()
        p.wait(timeout=30)


# -- CMD runs the interpreter itself: the sid cells run chrooted in a mount
# namespace of their own, so the stripped pyenv builds are this test's cells
COMMAND_CELLS = [c for c in POLLED_CELLS if hasattr(c, "env")]


@pytest.fixture(params=COMMAND_CELLS, ids=[c.name for c in COMMAND_CELLS])
def command_cell(request):
    require(request.param)
    return request.param


def test_nousdt_polled_command_counts_its_whole_run(command_cell):
    """-- CMD on a build with neither USDT nor symbols: counted from the
    command's first instruction (absolute) to its exit, equal to its own
    gc.get_stats() at the end."""
    cell = command_cell
    code = LAST_BURST.replace("sys.stdin.readline()", "pass")
    r = subprocess.run([MMTRACE, "--json", "60", "--", cell.exe, "-c", code], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, **cell.env))
    assert r.returncode == 0, r.stderr
    end = json.loads([l for l in r.stderr.splitlines() if l.startswith("END ")][0].split(" ", 1)[1])
    final = json.loads(r.stdout.splitlines()[-1])
    row_ = final["processes"][0]
    assert row_["probe_method"] == POLLED and row_["counts_absolute"] is True
    check_window(row_, [[0, 0, 0, 0.0]] * 3, end)


def test_nousdt_polled_growth_arenas_by_mmap(polled_cell, tmp_path):
    """--alloc=growth where neither the collector nor the arena functions
    can be probed: GC read from memory, arenas counted at the process's own
    mmap/munmap calls; arenas allocated and freed equal
    sys._debugmallocstats(), and pools are unavailable, with the reason."""
    from test_gc_truth import check_growth
    cell = polled_cell
    if hasattr(cell, "env"):
        go_file = str(tmp_path / "go")
        check_growth([cell.exe, os.path.join(WORKLOADS, "growth_workload.py")], go_file, go_file, [],
                     pools="stripped build", by_mmap=True, env=cell.env)
        return
    d = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
    try:
        for name in ("growth_workload.py", "gc_workload.py"):
            shutil.copy(os.path.join(WORKLOADS, name), d)
        inroot = d[len(SID):]
        argv = polled_argv(cell, "")[:-2] + [os.path.join(inroot, "growth_workload.py")]
        check_growth(argv, os.path.join(d, "go"), os.path.join(inroot, "go"), [],
                     pools="python%s-dbg" % cell.version.rsplit(".", 1)[0], by_mmap=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)
