"""A hostile container root: the sid interpreter runs chrooted in the sid
root, in a mount namespace of its own where a tmpfs covers the root's
/usr/lib/debug (the shared sid root itself is never changed). At the
build-id debug path mmtrace reads, the test plants what a container could:
an absolute symlink and a ".." symlink to a host file (a copy of the real
debug file, so that following it would be rewarded with symbols), a FIFO,
a character device like /dev/zero, a 100 GiB sparse file, an empty file.

mmtrace must finish promptly, say why the debug file was not used, never
open the host file (inotify watches it), and still count exactly: GC
counts equal the workload's own gc.get_stats() deltas (USDT needs no
debug file).
"""
import ctypes
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import final_line, MMTRACE, LineReader, deltas, mm_triplets, require, stop
from test_sid import SID, SID_MATRIX, SidWorkload

KINDS = ["abs-symlink", "dotdot-symlink", "fifo", "chardev", "sparse-100G", "empty"]
PROMPT_S = 5
IN_OPEN, IN_ACCESS, IN_NONBLOCK = 0x20, 0x1, 0o4000


def first_sid():
    for cell in SID_MATRIX:
        if not cell.missing:
            return cell
    return SID_MATRIX[0]


def build_id(exe):
    out = subprocess.run(["readelf", "-n", exe], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "Build ID:" in line:
            return line.split("Build ID:")[1].strip()
    return None


class Inotify:
    """Opens and reads of one host file, by anyone, while it is watched."""

    def __init__(self, path):
        self.libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(self.fd, path.encode(), IN_OPEN | IN_ACCESS) >= 0

    def touched(self):
        try:
            return len(os.read(self.fd, 4096)) > 0
        except BlockingIOError:
            return False

    def close(self):
        os.close(self.fd)


def plant(kind, debug_rel, host_file):
    """Shell lines making debug_rel (under the tmpfs "$1") hostile."""
    p = '"$1"/' + shlex.quote(debug_rel)
    lines = ['mkdir -p "$(dirname %s)"' % p]
    if kind == "abs-symlink":
        lines.append("ln -s %s %s" % (shlex.quote(host_file), p))
    elif kind == "dotdot-symlink":
        lines.append("ln -s %s %s" % (shlex.quote("../" * 40 + host_file.lstrip("/")), p))
    elif kind == "fifo":
        lines.append("mkfifo " + p)
    elif kind == "chardev":
        lines.append("mknod %s c 1 5" % p)
    elif kind == "sparse-100G":
        lines.append("truncate -s 100G " + p)
    elif kind == "empty":
        lines.append(": > " + p)
    return " && ".join(lines)


class HostileWorkload(SidWorkload):
    """SidWorkload's workload, its root's /usr/lib/debug a tmpfs of its own
    mount namespace holding one hostile entry."""

    def __init__(self, cell, kind, host_file, bid):
        self.dir = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
        inroot = self.dir[len(SID):]
        from conftest import WORKLOADS
        shutil.copy(os.path.join(WORKLOADS, "gc_workload.py"), self.dir)
        self.go_file = os.path.join(self.dir, "go")
        env = dict(os.environ, MMTRACE_GO_FILE=os.path.join(inroot, "go"))
        debug_rel = ".build-id/%s/%s.debug" % (bid[:2], bid[2:])
        script = ('mount -t tmpfs mmtrace-test "$1" && %s && shift && exec "$@"'
                  % plant(kind, debug_rel, host_file))
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                os.path.join(SID, "usr/lib/debug"),
                "chroot", SID, cell.exe, os.path.join(inroot, "gc_workload.py"), "150"]
        self.p = subprocess.Popen(argv, stderr=subprocess.PIPE, env=env)
        self.pid = self.p.pid
        self.err = LineReader(self.p.stderr)
        self.version_minor = int(cell.version.split(".")[1])


@pytest.fixture(scope="module")
def cell():
    c = first_sid()
    require(c)
    return c


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_debug_path(cell, kind):
    exe = SID + cell.exe
    bid = build_id(exe)
    if not bid:
        pytest.skip("%s has no build-id" % exe)
    real_debug = os.path.join(SID, "usr/lib/debug/.build-id", bid[:2], bid[2:] + ".debug")
    hostdir = tempfile.mkdtemp(prefix="mmtrace-hostile-")
    host_file = os.path.join(hostdir, "host.debug")
    if os.path.exists(real_debug):
        shutil.copy(real_debug, host_file)   # following the symlink would pay off
    else:
        with open(host_file, "w") as f:
            f.write("host secret\n")
    watch = Inotify(host_file)
    wl, mm = HostileWorkload(cell, kind, host_file, bid), None
    try:
        start, _ = wl.barrier("START")
        with open("/proc/%d/maps" % wl.pid) as f:
            assert any(cell.exe in l for l in f), "the interpreter runs"
        t0 = time.monotonic()
        r = subprocess.run([MMTRACE, "--probes", "--json", "-p", str(wl.pid)],
                           capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        assert took < PROMPT_S, took
        t = json.loads(r.stdout)
        t = t["targets"][0] if "targets" in t else t
        assert t["python"] == cell.version
        if t["stripped"]:
            assert t["symbol_source"] != "build-id debug file", t
            assert not t["debug_file"].startswith(hostdir), t
            if kind in ("fifo", "chardev", "sparse-100G", "empty"):
                # the entry exists in the root: the hint names it and why
                why = {"fifo": "not a regular file", "chardev": "not a regular file",
                       "sparse-100G": "larger than 2 GiB", "empty": "empty"}[kind]
                assert bid[2:] + ".debug" in t["debug_hint"] and why in t["debug_hint"], t
            else:
                assert t["debug_hint"], t
        t0 = time.monotonic()
        mm = subprocess.Popen([MMTRACE, "--json", "-p", str(wl.pid), "0.2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        mm_out = LineReader(mm.stdout)
        first = json.loads(mm_out.line(timeout=PROMPT_S))
        assert time.monotonic() - t0 < PROMPT_S
        assert first["processes"][0]["probe_method"] == cell.method
        wl.full("START")
        wl.go("START")
        end, _ = wl.barrier("END")
        mm_out.line()
        stop(mm)
        final = final_line(mm_out)
        p = final["processes"][0]
        window = deltas(start, end)
        assert mm_triplets(p) == window
        assert window[2][2] > 0
        assert p["gc"]["read_errors"] == 0
        assert mm.returncode == 0
        assert not watch.touched(), "mmtrace opened the host file through the root's symlink"
    finally:
        if mm:
            stop(mm)
        wl.finish()
        watch.close()
        shutil.rmtree(hostdir, ignore_errors=True)
