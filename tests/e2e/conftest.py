"""The CPython matrix and helpers that run real workloads under mmtrace."""
import glob
import json
import os
import re
import select
import signal
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MMTRACE = os.environ.get("MMTRACE", os.path.join(ROOT, "build", "mmtrace"))
WORKLOADS = os.path.join(ROOT, "tests", "workloads")
PYENV = "/root/.pyenv/versions"
MINORS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
DEBIAN_PY = "/usr/bin/python3.11"
NO_DEBUG_DIR = "/nonexistent-debug-dir"


def pyenv_interpreter(minor):
    """Newest pyenv build of this minor version, or None."""
    found = []
    for d in glob.glob(os.path.join(PYENV, minor + ".*")):
        m = re.fullmatch(re.escape(minor) + r"\.(\d+)", os.path.basename(d))
        exe = os.path.join(d, "bin", "python" + minor)
        if m and os.access(exe, os.X_OK):
            found.append((int(m.group(1)), exe))
    return max(found)[1] if found else None


def debian_debug_file_installed():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "python3.11-dbg"],
                       capture_output=True, text=True)
    return r.stdout.strip() == "install ok installed"


class Interp:
    """One cell of the matrix: an interpreter plus how mmtrace must see it."""

    def __init__(self, name, exe, extra_args, method, missing=None):
        self.name, self.exe, self.extra_args = name, exe, extra_args
        self.method, self.missing = method, missing

    def __repr__(self):
        return self.name


def matrix():
    cells = []
    for minor in MINORS:
        exe = pyenv_interpreter(minor)
        cells.append(Interp("pyenv-" + minor, exe, [], "uprobe",
                            None if exe else "no pyenv build of %s in %s" % (minor, PYENV)))
    deb = os.access(DEBIAN_PY, os.X_OK)
    # Debian's stripped LTO build as shipped: USDT, no debug file
    cells.append(Interp("debian-3.11", DEBIAN_PY, ["--debug-dir", NO_DEBUG_DIR], "usdt",
                        None if deb else "%s is not installed" % DEBIAN_PY))
    # the same binary with python3.11-dbg: collector symbols from the build-id debug file
    dbg = deb and debian_debug_file_installed()
    cells.append(Interp("debian-3.11-dbg", DEBIAN_PY, ["--no-usdt"], "uprobe",
                        None if dbg else "python3.11-dbg is not installed"))
    return cells


MATRIX = matrix()


def require(interp):
    """A missing cell is a skip that names its reason, and a failure under CI."""
    if interp.missing:
        if os.environ.get("CI") == "true":
            pytest.fail("matrix cell %s missing under CI: %s" % (interp.name, interp.missing))
        pytest.skip(interp.missing)


@pytest.fixture(params=MATRIX, ids=[c.name for c in MATRIX])
def interp(request):
    require(request.param)
    return request.param


class LineReader:
    """Reads whole lines from a pipe with a deadline."""

    def __init__(self, f):
        self.f, self.buf = f, b""

    def line(self, timeout=30.0, match=None):
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                if match is None or text.startswith(match):
                    return text
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line%s within %.0fs" % (" " + match if match else "", timeout))
            r, _, _ = select.select([self.f], [], [], left)
            if r:
                chunk = os.read(self.f.fileno(), 65536)
                if not chunk:
                    raise EOFError("pipe closed before line %s; got %r" % (match, self.buf[-500:]))
                self.buf += chunk


def barrier_stats(line):
    """'END [[c,col,unc],..] [[gen,ns],..]' -> (stats, pauses)."""
    dec = json.JSONDecoder()
    rest = line.split(" ", 1)[1]
    stats, n = dec.raw_decode(rest)
    rest = rest[n:].strip()
    pauses = dec.raw_decode(rest)[0] if rest else None
    return stats, pauses


def deltas(start, end):
    return [[e - s for s, e in zip(a, b)] for a, b in zip(start, end)]


def mm_triplets(proc_json):
    gc = proc_json["gc"]
    return [[gc["collections"][g], gc["collected"][g], gc["uncollectable"][g]] for g in range(3)]


def go(go_file, name):
    open(go_file + "." + name, "w").close()


def run_mmtrace(args, **kw):
    return subprocess.run([MMTRACE] + args, capture_output=True, text=True, timeout=60, **kw)


def stop(proc, sig=signal.SIGINT, timeout=20):
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def sleeper():
    """A CPython process that waits on its stdin, for tests that attach to one."""
    exe = pyenv_interpreter("3.12") or DEBIAN_PY
    p = subprocess.Popen([exe, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    time.sleep(0.3)
    yield p
    p.kill()
    p.wait()


def interpreter_or_skip(minor):
    """The pyenv build of minor, under the matrix's skip/fail rule."""
    cell = next(c for c in MATRIX if c.name == "pyenv-" + minor)
    require(cell)
    return cell.exe


class Workload:
    """A GC workload process that waits at its START and END barriers."""

    def __init__(self, argv, tmp_path, name, script=None, args=("150",), env=None):
        self.go_file = str(tmp_path / ("go-" + name))
        env = dict(os.environ, MMTRACE_GO_FILE=self.go_file, **(env or {}))
        script = script or os.path.join(WORKLOADS, "gc_workload.py")
        self.p = subprocess.Popen(list(argv) + [script] + list(args), stderr=subprocess.PIPE, env=env)
        self.err = LineReader(self.p.stderr)
        self.pid = self.p.pid

    def barrier(self, name, timeout=60):
        return barrier_stats(self.err.line(match=name, timeout=timeout))

    def go(self, name):
        go(self.go_file, name)

    def finish(self):
        self.go("START")
        self.go("END")
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


class Traced:
    """mmtrace --json with its output drained by threads, so that it never
    blocks writing a report to a full pipe while a test waits on something
    else (a blocked mmtrace consumes no events: stacks would be named only
    after their process is gone)."""

    def __init__(self, argv, **kw):
        import queue
        import threading
        self.reports, self.events, self.stderr = queue.Queue(), [], []
        self.p = subprocess.Popen([MMTRACE] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, **kw)
        self.last = None
        self.out_done = threading.Thread(target=self._read_out, daemon=True)
        self.err_done = threading.Thread(target=self._read_err, daemon=True)
        self.out_done.start()
        self.err_done.start()

    def _read_out(self):
        for line in self.p.stdout:
            d = json.loads(line)
            if "event" in d:
                self.events.append(d)
            else:
                self.reports.put(d)
        self.reports.put(None)

    def _read_err(self):
        for line in self.p.stderr:
            self.stderr.append(line)

    def report(self, pred=lambda r: True, timeout=60, what="a report"):
        import queue
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                r = self.reports.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise TimeoutError("no %s within %ss; last: %s; stderr: %s" %
                                   (what, timeout, json.dumps(self.last)[:3000], "".join(self.stderr)[-2000:]))
            if r is None:
                raise EOFError("mmtrace ended (%s): %s" % (self.p.poll(), "".join(self.stderr)[-2000:]))
            self.last = r
            if pred(r):
                return r

    def wait(self, timeout=60):
        """mmtrace's exit code, once it ended by itself and its output is read."""
        rc = self.p.wait(timeout=timeout)
        self.out_done.join(timeout)
        self.err_done.join(timeout)
        return rc

    def final(self):
        """The final report, from what is left after mmtrace ended."""
        return self.report(lambda r: r["final"], what="final report")


class HostTrace(Traced):
    """mmtrace --json in the system-wide mode."""

    def __init__(self, args=(), interval="0.2"):
        super().__init__(["--json", interval] + list(args))

    def live(self, pids, timeout=60):
        """The first report in which every pid has a live row."""
        pids = set(pids)
        return self.report(lambda r: pids <= {p["pid"] for p in r["processes"] if not p["exited"]},
                           timeout, "report with live rows for %s" % sorted(pids))

    def finish(self):
        stop(self.p)
        return self.report(lambda r: r["final"], what="final report")


def row(report, pid):
    rows = [p for p in report["processes"] if p["pid"] == pid]
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def host_pid_of(unshare_pid, timeout=10):
    """The process unshare --fork started (pid 1 of its PID namespace)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (unshare_pid, unshare_pid)) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError("unshare started no child")


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
