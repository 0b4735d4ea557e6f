"""Every documented error: its message and its exit code, target untouched."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import DEBIAN_PY, MMTRACE, NO_DEBUG_DIR, LineReader, run_mmtrace, stop, pyenv_interpreter

PY = pyenv_interpreter("3.12") or DEBIAN_PY


@pytest.mark.parametrize("args,msg", [
    (["-a", "-p", "1"], "excludes -p"),
    (["-s", "size"], "invalid sort key"),
    (["-n", "0"], "invalid -n"),
    (["-n", "5x"], "invalid -n"),
    (["--min-pause", "-1"], "invalid --min-pause"),
    (["--min-pause", "nan"], "invalid --min-pause"),
    (["-s", "pid", "-p", "1"], "system-wide mode"),
    (["--merge", "--", "true"], "system-wide mode"),
    (["-p", "abc"], "invalid PID"),
    (["-p", "12x"], "invalid PID"),
    (["-p", "1", "zero"], "invalid INTERVAL"),
    (["-p", "1", "1", "0"], "invalid COUNT"),
    (["--bogus"], "unrecognized option"),
    (["-p", "1", "--"], "must be followed"),
    (["-p", "1", "--", "true"], "exclude each other"),
    (["-p", "1", "-p", "1"], "PID 1 given twice"),
    (["-p", "7", "-p", "8", "-p", "07"], "PID 7 given twice"),
])
def test_usage_errors_exit_2(args, msg):
    r = run_mmtrace(args)
    assert r.returncode == 2
    assert msg in r.stderr


def test_command_keeps_every_argument():
    """CMD gets all its arguments, however many (none dropped at 256)."""
    args = ["a%d" % i for i in range(300)]
    r = run_mmtrace(["--json", "-o", os.devnull, "--", PY, "-c", "import sys; print(len(sys.argv))"] + args)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "301\n"        # "-c" and the 300


def test_command_words_of_c_all_kept(tmp_path):
    script = tmp_path / "argc.py"
    script.write_text("import sys\nprint(len(sys.argv))\n")
    words = " ".join("w%d" % i for i in range(300))
    r = run_mmtrace(["--json", "-o", os.devnull, "-c", "%s %s %s" % (PY, script, words)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "301\n"


def test_help_has_usage_and_examples():
    r = run_mmtrace(["--help"])
    assert r.returncode == 0
    assert "USAGE:" in r.stdout and "EXAMPLES:" in r.stdout


def test_missing_pid_exit_3():
    pid = 4194000
    while os.path.exists("/proc/%d" % pid):
        pid += 1
    r = run_mmtrace(["-p", str(pid)])
    assert r.returncode == 3 and "no process with PID" in r.stderr


PF_KTHREAD = 0x00200000


def proc_stat(pid):
    """(comm, flags, starttime) from /proc/PID/stat; comm may hold ') '."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    rest = stat[stat.rindex(")") + 2:].split()
    return stat[stat.index("(") + 1:stat.rindex(")")], int(rest[6]), int(rest[19])


def kernel_thread():
    """The lowest-numbered kernel thread (PF_KTHREAD in field 9, no command
    line): kthreadd on a host, whatever its pid; None where the PID
    namespace shows none."""
    for pid in sorted(int(n) for n in os.listdir("/proc") if n.isdigit()):
        try:
            comm, flags, start = proc_stat(pid)
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if flags & PF_KTHREAD and not cmdline:
            return pid, comm, start
    return None


def test_kernel_thread_exit_4():
    kt = kernel_thread()
    if kt is None:
        pytest.skip("no kernel thread is visible in this PID namespace")
    pid, comm, start = kt
    r = run_mmtrace(["-p", str(pid)])
    assert proc_stat(pid)[2] == start, "the kernel thread outlived the run"
    assert r.returncode == 4, r.stderr
    assert "PID %d (%s) is a kernel thread" % (pid, comm) in r.stderr, r.stderr


def test_non_python_exit_4():
    p = subprocess.Popen(["sleep", "30"])
    try:
        r = run_mmtrace(["-p", str(p.pid)])
        assert r.returncode == 4 and "not a CPython process" in r.stderr
    finally:
        p.kill()
        p.wait()


def test_command_not_python_exit_4():
    r = run_mmtrace(["--", "/bin/true"])
    assert r.returncode == 4 and "not a CPython interpreter" in r.stderr


def test_command_not_found_exit_127():
    r = run_mmtrace(["--", "/nonexistent/python"])
    assert r.returncode == 127 and "command not found" in r.stderr


def test_no_probe_point_exit_5_says_what_to_install():
    if not os.access(DEBIAN_PY, os.X_OK):
        pytest.skip("%s is not installed" % DEBIAN_PY)
    r = run_mmtrace(["--no-usdt", "--debug-dir", NO_DEBUG_DIR, "--", DEBIAN_PY, "-c", "pass"])
    assert r.returncode == 5
    assert "install its debug symbols (Debian: python3.11-dbg)" in r.stderr


def test_not_root_exit_6(sleeper):
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", MMTRACE,
                        "-p", str(os.getpid())], capture_output=True, text=True)
    assert r.returncode == 6 and "must run as root" in r.stderr
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", MMTRACE,
                        "--", PY, "-c", "pass"], capture_output=True, text=True)
    assert r.returncode == 6 and "must run as root" in r.stderr


def test_no_btf_exit_7(sleeper, tmp_path):
    env = dict(os.environ, MMTRACE_SYSFS=str(tmp_path))
    r = run_mmtrace(["-p", str(sleeper.pid)], env=env)
    assert r.returncode == 7 and "kernel without BTF" in r.stderr
    assert sleeper.poll() is None, "target untouched"


def test_no_uprobes_exit_7(sleeper, tmp_path):
    (tmp_path / "kernel" / "btf").mkdir(parents=True)
    (tmp_path / "kernel" / "btf" / "vmlinux").write_text("")
    env = dict(os.environ, MMTRACE_SYSFS=str(tmp_path))
    r = run_mmtrace(["-p", str(sleeper.pid)], env=env)
    assert r.returncode == 7 and "kernel without uprobes" in r.stderr


def test_deleted_binary_exit_8(tmp_path):
    if not os.access(DEBIAN_PY, os.X_OK):
        pytest.skip("%s is not installed" % DEBIAN_PY)
    copy = tmp_path / "python-copy"
    shutil.copy(DEBIAN_PY, copy)
    p = subprocess.Popen([str(copy), "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    try:
        time.sleep(0.3)
        copy.unlink()
        r = run_mmtrace(["-p", str(p.pid)])
        assert r.returncode == 8 and "deleted" in r.stderr
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_sigint_prints_final_summary(sleeper):
    mm = subprocess.Popen([MMTRACE, "-p", str(sleeper.pid), "0.2"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    out = LineReader(mm.stdout)
    out.line(match="PID")
    stop(mm, signal.SIGINT)
    rest = mm.stdout.read().decode()
    assert mm.returncode == 0
    assert "(final)" in out.buf.decode() + rest
    assert sleeper.poll() is None, "target keeps running"


def test_target_exit_while_traced_prints_final(sleeper):
    mm = subprocess.Popen([MMTRACE, "--json", "-p", str(sleeper.pid), "0.2"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    out = LineReader(mm.stdout)
    out.line()
    sleeper.stdin.write(b"\n")
    sleeper.stdin.flush()
    sleeper.wait(timeout=10)
    mm.wait(timeout=10)
    assert mm.returncode == 0
    lines = [l for l in (out.buf + mm.stdout.read()).decode().splitlines() if l]
    import json
    final = json.loads(lines[-1])
    assert final["final"] and final["processes"][0]["exited"] is True


def test_count_stops_after_n_reports(sleeper):
    r = run_mmtrace(["--json", "-p", str(sleeper.pid), "0.1", "3"])
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 4                     # three reports and the final one
    assert '"final":true' in lines[-1]


def test_histograms_in_bcc_shape():
    r = run_mmtrace(["-H", "--", PY, "-c", "import gc\nfor _ in range(20): gc.collect(0)"])
    assert r.returncode == 0, r.stderr
    assert "nsecs" in r.stdout and "distribution" in r.stdout and "|*" in r.stdout


@pytest.mark.parametrize("name,content", [
    ("truncated", None),                                     # a real ELF's first 200 bytes
    ("garbage-elf", b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 8),
])
def test_malformed_elf_exit_4(tmp_path, name, content):
    """A truncated or malformed ELF file is named as not CPython, never a crash."""
    path = tmp_path / name
    if content is None:
        content = open(DEBIAN_PY, "rb").read(200)
    path.write_bytes(content)
    path.chmod(0o755)
    r = run_mmtrace(["--probes", "--", str(path)])
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert "is not a CPython interpreter" in r.stderr


def test_pid_still_in_dynamic_loader_is_waited_for():
    """mmtrace -p right after the spawn of an interpreter that links libpython
    (pyenv 3.13): while ld.so runs only the executable and the loader are
    mapped. That is not "not CPython". A long LD_LIBRARY_PATH of missing
    directories keeps the loader busy, so that every spawn is
    caught there."""
    from conftest import interpreter_or_skip
    py = interpreter_or_skip("3.13")
    # 1500 missing directories: ~75 ms in ld.so, enough to catch every spawn
    # there, and far below mmtrace's 2 s bound even on a loaded machine
    env = dict(os.environ, LD_LIBRARY_PATH=":".join("/nonexistent/d%d" % i for i in range(1500)))
    for _ in range(20):
        p = subprocess.Popen([py, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE, env=env)
        try:
            r = run_mmtrace(["-p", str(p.pid), "--probes"])
            assert r.returncode == 0, r.stderr
            assert "python3.13" in r.stdout or "libpython3.13" in r.stdout
        finally:
            p.kill()
            p.wait()
