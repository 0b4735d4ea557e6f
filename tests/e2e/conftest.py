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
