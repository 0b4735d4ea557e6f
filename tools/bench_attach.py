#!/usr/bin/python3
"""How long mmtrace takes to attach, and to let go, in every mode.

For each interpreter and mode, a waiting CPython process is attached with
`mmtrace --json -p PID 0.1` (the system-wide mode: `mmtrace --json 0.1`)
and timed from the spawn of mmtrace to its first report, which comes one
interval (100 ms) after it attached; then from SIGINT to its exit (the
kernel releases each uprobe in turn). Medians of BENCH_ROUNDS (3).
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMTRACE = os.path.join(ROOT, "build", "mmtrace")
SID = os.environ.get("MMTRACE_SID_ROOT", "/var/lib/mmtrace/sid")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
INTERVAL = 0.1

MODES = [[], ["--poll"], ["--alloc=growth"], ["--alloc=growth", "--stacks"], ["--alloc=exact"],
         ["--heap=live"], None]


def interpreters():
    out = []
    for name, argv in (("pyenv 3.12", ["/root/.pyenv/versions/3.12.1/bin/python3.12"]),
                       ("Debian 3.11", ["/usr/bin/python3.11"]),
                       ("sid 3.15", ["chroot", SID, "/usr/bin/python3.15"])):
        if os.access(argv[-1] if argv[0] != "chroot" else SID + argv[-1], os.X_OK):
            out.append((name, argv))
    return out


def once(argv, mode):
    target = subprocess.Popen(argv + ["-c", "import sys; print(1, flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    target.stdout.readline()
    cmd = [MMTRACE, "--json", str(INTERVAL)]
    if mode is not None:
        cmd += ["-p", str(target.pid)] + mode
    t0 = time.monotonic()
    mm = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = mm.stdout.readline()
    t1 = time.monotonic()
    mm.send_signal(2)
    mm.communicate(timeout=60)
    t2 = time.monotonic()
    target.stdin.close()
    target.wait()
    if not first:
        sys.exit("mmtrace %s failed: rc %s" % (" ".join(cmd), mm.returncode))
    return t1 - t0, t2 - t1


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root")
    print("ms from mmtrace's start to its first report (one %.0f ms interval after attaching), and from "
          "SIGINT to its exit; medians of %d" % (INTERVAL * 1000, ROUNDS))
    print("%-12s %-26s %14s %10s" % ("interpreter", "mode", "first report", "exit"))
    for name, argv in interpreters():
        for mode in MODES:
            runs = [once(argv, mode) for _ in range(ROUNDS)]
            print("%-12s %-26s %12.0f ms %7.0f ms" % (name, "system-wide" if mode is None else " ".join(mode) or "gc",
                                                      statistics.median(r[0] for r in runs) * 1000,
                                                      statistics.median(r[1] for r in runs) * 1000))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
