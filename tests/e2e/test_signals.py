"""mmtrace's lifecycle: files a target plants, signals at every stage, CMD
after a signal, and readers that go away."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import DEBIAN_PY, MMTRACE, LineReader, debian_debug_file_installed, pyenv_interpreter

PY = pyenv_interpreter("3.12") or DEBIAN_PY
# "promptly", for a signal: generous on a shared 2-core machine, far below
# the waits these tests would otherwise hang in (20 s delays, FIFOs forever)
PROMPT = 5.0


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, check=True).stdout
    return next(l.split(":", 1)[1].strip() for l in out.splitlines() if "Build ID:" in l)


def perf_probes_of(pid):
    """The BPF programs attached to perf events (uprobes, tracepoints) that
    process pid holds, as bpftool finds them in every process's fds."""
    out = subprocess.run(["bpftool", "-j", "perf"], capture_output=True, text=True, check=True).stdout
    return [p for p in json.loads(out or "[]") if p["pid"] == pid]


def wait_promptly(p, what):
    try:
        return p.wait(timeout=PROMPT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        pytest.fail("mmtrace still running %.0f s after %s" % (PROMPT, what))


def signal_promptly(p, sig=signal.SIGTERM):
    p.send_signal(sig)
    return wait_promptly(p, sig.name)


def run_bounded(args, timeout=PROMPT):
    """mmtrace run to its end, SIGKILLed (it may block SIGTERM) when it hangs."""
    p = subprocess.Popen([MMTRACE] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("mmtrace %s hung for %.0f s" % (" ".join(args), timeout))
    return p.returncode, out, err


@pytest.fixture
def deb_sleeper():
    if not os.access(DEBIAN_PY, os.X_OK):
        pytest.skip("%s is not installed" % DEBIAN_PY)
    p = subprocess.Popen([DEBIAN_PY, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    time.sleep(0.3)
    yield p
    p.kill()
    p.wait()


@pytest.fixture
def fifo_debug_dir(tmp_path):
    """A debug root whose build-id file for Debian's python3.11 is a FIFO, as
    a container could plant where mmtrace looks (nobody ever writes to it)."""
    if not os.access(DEBIAN_PY, os.X_OK):
        pytest.skip("%s is not installed" % DEBIAN_PY)
    bid = build_id(DEBIAN_PY)
    d = tmp_path / "debug" / ".build-id" / bid[:2]
    d.mkdir(parents=True)
    os.mkfifo(str(d / (bid[2:] + ".debug")))
    return str(tmp_path / "debug")


def fifo_then_real(fifo_dir):
    return ["--debug-dir", fifo_dir, "--debug-dir", "/usr/lib/debug"]


def test_fifo_debug_file_skipped_by_probes(fifo_debug_dir):
    rc, out, err = run_bounded(["--probes", "--json"] + fifo_then_real(fifo_debug_dir) + ["--", DEBIAN_PY])
    assert rc == 0, err
    t = json.loads(out)["targets"][0]
    assert not t.get("debug_file", "").startswith(fifo_debug_dir)
    if debian_debug_file_installed():   # the next root's real file is used
        assert t["debug_file"].startswith("/usr/lib/debug/.build-id/")


def test_fifo_debug_file_skipped_by_system_wide_scan(fifo_debug_dir, deb_sleeper):
    rc, out, err = run_bounded(["--probes", "--json"] + fifo_then_real(fifo_debug_dir), timeout=30)
    assert rc == 0, err
    assert DEBIAN_PY in [t["binary"] for t in json.loads(out)["targets"]]


def test_fifo_debug_file_skipped_by_heap(fifo_debug_dir, deb_sleeper):
    rc, out, err = run_bounded(["--heap", "--json", "-p", str(deb_sleeper.pid)] + fifo_then_real(fifo_debug_dir))
    assert rc in (0, 9), err          # 9: a layout it cannot read, said so; never a hang
    assert json.loads(out.splitlines()[0])


def test_fifo_debug_file_then_sigterm_leaves_no_probe(fifo_debug_dir, deb_sleeper):
    mm = subprocess.Popen([MMTRACE, "--json", "-p", str(deb_sleeper.pid), "0.2"] + fifo_then_real(fifo_debug_dir),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        LineReader(mm.stdout).line(timeout=PROMPT)     # a report: its probes are live
        assert any(p["fd_type"] in ("uprobe", "uretprobe") for p in perf_probes_of(mm.pid))
        assert signal_promptly(mm) == 0
        assert perf_probes_of(mm.pid) == []
        assert deb_sleeper.poll() is None, "target keeps running"
    finally:
        mm.kill()
        mm.wait()


def test_sigterm_while_probes_blocks_on_a_fifo(tmp_path):
    """--probes -- CMD, where CMD is a FIFO: reading its #! line waits for a
    writer that never comes. SIGTERM ends that wait at once."""
    fifo = str(tmp_path / "app")
    os.mkfifo(fifo, 0o755)
    os.chmod(fifo, 0o755)
    mm = subprocess.Popen([MMTRACE, "--probes", "--", fifo], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    assert mm.poll() is None, "mmtrace waits on the FIFO"
    assert signal_promptly(mm) == 128 + signal.SIGTERM
    assert mm.stdout.read() == b"" and mm.stderr.read() == b""   # stopped, not "not CPython"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_attach_exits_128_plus_n(sleeper, sig):
    mm = subprocess.Popen([MMTRACE, "-p", str(sleeper.pid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, MMTRACE_TEST_ATTACH_DELAY_MS="20000"))
    time.sleep(1)
    assert mm.poll() is None
    assert signal_promptly(mm, sig) == 128 + sig
    assert mm.stdout.read() == b"", "no report: nothing was traced"
    assert sleeper.poll() is None, "target keeps running"


def test_signal_during_attach_ends_held_command(tmp_path):
    """The held child never runs CMD, dies of the same signal, and is reaped."""
    ran = tmp_path / "ran"
    mm = subprocess.Popen([MMTRACE, "--", PY, "-c", "open(%r, 'w')" % str(ran)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=dict(os.environ, MMTRACE_TEST_ATTACH_DELAY_MS="20000"))
    time.sleep(1)
    with open("/proc/%d/task/%d/children" % (mm.pid, mm.pid)) as f:
        held = [int(c) for c in f.read().split()]
    assert len(held) == 1
    assert signal_promptly(mm) == 128 + signal.SIGTERM
    assert not os.path.exists("/proc/%d" % held[0]), "the held child was reaped"
    assert not ran.exists(), "CMD never ran"


def traced_command(tmp_path, code):
    """mmtrace --json -- PY -c code, once code has written its ready file."""
    ready = tmp_path / "ready"
    mm = subprocess.Popen([MMTRACE, "--json", "--", PY, "-c", "import os, signal, sys, time\n" + code +
                           "\nopen(%r, 'w').close()\ntime.sleep(30)" % str(ready)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    LineReader(mm.stdout).line(timeout=PROMPT)           # a report: attached
    deadline = time.monotonic() + PROMPT
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready.exists()
    assert any(p["fd_type"] in ("uprobe", "uretprobe") for p in perf_probes_of(mm.pid))
    with open("/proc/%d/task/%d/children" % (mm.pid, mm.pid)) as f:
        child = int(f.read().split()[0])
    return mm, child


def test_sigterm_is_passed_to_command(tmp_path):
    """SIGTERM stops tracing, goes on to CMD, and mmtrace exits with CMD's
    status (it died of it: 143) at once, not when CMD would have ended."""
    mm, child = traced_command(tmp_path, "")
    try:
        assert signal_promptly(mm) == 128 + signal.SIGTERM
        out = mm.stdout.read().decode()
        assert '"final":true' in out
        assert not os.path.exists("/proc/%d" % child), "CMD ended and was reaped"
        assert perf_probes_of(mm.pid) == []
    finally:
        mm.kill()
        mm.wait()


def test_command_exit_code_after_sigterm(tmp_path):
    mm, _ = traced_command(tmp_path, "signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))")
    try:
        assert signal_promptly(mm) == 3
    finally:
        mm.kill()
        mm.wait()


def test_command_ignoring_sigterm_is_killed_after_grace(tmp_path):
    """Detached first (no probe while it waits), then CMD gets 3 s, then SIGKILL, said on stderr."""
    mm, child = traced_command(tmp_path, "signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    try:
        t = time.monotonic()
        mm.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert mm.poll() is None, "CMD is given time"
        assert perf_probes_of(mm.pid) == [], "probes are gone while mmtrace waits"
        assert wait_promptly(mm, "SIGTERM") == 128 + signal.SIGKILL
        assert time.monotonic() - t >= 2.9
        assert "still running 3 s after SIGTERM: killed" in mm.stderr.read().decode()
        assert not os.path.exists("/proc/%d" % child)
    finally:
        mm.kill()
        mm.wait()


def test_scrapers_that_hang_up_do_not_kill_mmtrace(tmp_path, sleeper):
    """Clients that send a request and close without reading: the response
    is written to a closed socket (EPIPE, no SIGPIPE); the trace stays whole."""
    import socket
    from conftest import free_port
    port, trace = free_port(), tmp_path / "trace.json"
    mm = subprocess.Popen([MMTRACE, "--json", "-p", str(sleeper.pid), "--openmetrics", str(port),
                           "--trace", str(trace), "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        LineReader(mm.stdout).line(timeout=PROMPT)
        for i in range(60):
            s = socket.create_connection(("127.0.0.1", port))
            if i % 2:       # an abortive close: RST at once
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            s.close()
            time.sleep(0.01)
        time.sleep(0.5)
        assert mm.poll() is None, "mmtrace survives (it ended with %s)" % mm.returncode
        assert signal_promptly(mm, signal.SIGINT) == 0
        assert isinstance(json.loads(trace.read_text()), list)
    finally:
        mm.kill()
        mm.wait()


@pytest.mark.parametrize("mode", ["pid", "system-wide", "heap"])
def test_reader_gone_ends_quietly(tmp_path, sleeper, mode):
    """mmtrace --json ... | head -1: the reader goes; mmtrace ends, exit 0,
    nothing on stderr, the --trace array closed."""
    trace = tmp_path / "trace.json"
    args = {"pid": ["-p", str(sleeper.pid), "--trace", str(trace)],
            "system-wide": ["--trace", str(trace)],
            "heap": ["--heap", "-p", str(sleeper.pid)]}[mode]
    mm = subprocess.Popen([MMTRACE, "--json", "0.1"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert json.loads(LineReader(mm.stdout).line(timeout=30))
        mm.stdout.close()
        assert wait_promptly(mm, "its reader went away") == 0
        err = mm.stderr.read().decode()
        assert "Broken pipe" not in err and "mmtrace: cannot" not in err, err
        if mode != "heap":
            assert isinstance(json.loads(trace.read_text()), list)
    finally:
        mm.kill()
        mm.wait()
