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
SCHEMA = os.path.join(ROOT, "docs", "mmtrace.schema.json")


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
                if text.startswith("{"):
                    schema_check_text(text)
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


_validator = []
# (argv, message) of every --json line that did not match docs/mmtrace.schema.json
SCHEMA_VIOLATIONS = []
schema_cost = {"lines": 0, "seconds": 0.0}


def schema_validator():
    """The validator of docs/mmtrace.schema.json, built once per session;
    None without python3-jsonschema (a failure under CI)."""
    if not _validator:
        try:
            import jsonschema
        except ImportError:
            if os.environ.get("CI") == "true":
                raise
            _validator.append(None)
        else:
            with open(SCHEMA) as f:
                _validator.append(jsonschema.Draft202012Validator(json.load(f)))
    return _validator[0]


def schema_check(d, argv):
    """Records a line of mmtrace --json that does not match the schema;
    the test that produced it fails (check_schema_violations)."""
    v = schema_validator()
    if v is None:
        return None
    import jsonschema
    t0 = time.perf_counter()
    err = jsonschema.exceptions.best_match(v.iter_errors(d))
    schema_cost["lines"] += 1
    schema_cost["seconds"] += time.perf_counter() - t0
    if err is None:
        return None
    msg = "mmtrace %s: a --json line does not match docs/mmtrace.schema.json at /%s: %s (schema: %s)\nline: %s" % (
        " ".join(argv), "/".join(str(p) for p in err.absolute_path), err.message[:500],
        "/".join(str(p) for p in err.absolute_schema_path), json.dumps(d)[:2000])
    SCHEMA_VIOLATIONS.append(msg)
    return msg


def schema_check_text(text, argv=("(a pipe read by LineReader)",)):
    """A line that parses as one of mmtrace's JSON lines is checked; others
    (a workload's, a line the test itself finds broken) are left to the test."""
    try:
        d = json.loads(text)
    except ValueError:
        return None
    if isinstance(d, dict) and ({"processes", "event", "targets"} & set(d)):
        return schema_check(d, list(argv))
    return None


def is_json_run(args):
    return "--json" in args or "-j" in args


def run_mmtrace(args, **kw):
    r = subprocess.run([MMTRACE] + args, capture_output=True, text=True, timeout=60, **kw)
    if is_json_run(args):
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                schema_check_text(line, args)
    return r


def pytest_terminal_summary(terminalreporter):
    if schema_cost["lines"]:
        terminalreporter.write_line("schema: %d --json lines validated in %.2f s" %
                                    (schema_cost["lines"], schema_cost["seconds"]))


@pytest.fixture(autouse=True)
def check_schema_violations():
    """Fails the test during which mmtrace printed a line off the schema."""
    seen = len(SCHEMA_VIOLATIONS)
    yield
    new = SCHEMA_VIOLATIONS[seen:]
    if new:
        pytest.fail("%d --json line(s) off the schema; the first:\n%s" % (len(new), new[0]), pytrace=False)


def final_line(reader, timeout=30.0):
    """The final report, read past the reports still in the pipe (a report
    may be written between the one a test read and the stop signal)."""
    report = json.loads(reader.line(timeout=timeout))
    while not report["final"]:
        report = json.loads(reader.line(timeout=timeout))
    return report


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
        self.argv, self.violations = list(argv), []
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
            if self._schema_sample(d):
                bad = schema_check(self._schema_rows(d), self.argv)
                if bad:
                    self.violations.append(bad)
            if "event" in d:
                self.events.append(d)
            else:
                self.reports.put(d)
        self.reports.put(None)

    def _schema_sample(self, d):
        """The lines checked against the schema: every event, the first
        reports, every tenth after them and the final one (a system-wide
        report carries every CPython process of the machine: ~3 ms each)."""
        if "event" in d or d.get("final"):
            return True
        self.nreports = getattr(self, "nreports", 0) + 1
        return self.nreports <= 5 or self.nreports % 10 == 0

    @staticmethod
    def _schema_rows(d):
        """A system-wide report lists every CPython process of the machine:
        one row of each kind is checked (keys, probe method, origin, ended)."""
        rows = d.get("processes")
        if "event" in d or not rows or len(rows) <= 4:
            return d
        kinds = {}
        for r in rows:
            kinds.setdefault((frozenset(r), r.get("probe_method"), r.get("traced_from"), r.get("exited")), r)
        return dict(d, processes=list(kinds.values()))

    def _read_err(self):
        for line in self.p.stderr:
            self.stderr.append(line)

    def report(self, pred=lambda r: True, timeout=60, what="a report"):
        import queue
        deadline = time.monotonic() + timeout
        while True:
            assert not self.violations, self.violations[0]
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
