#!/usr/bin/python3
"""mmtrace's exact level against memray and tracemalloc, side by side in one run.

On sid's python3.14 (the interpreter Debian's python3-memray is built for),
each workload of tools/bench_alloc.py (alloc churn, JSON round-trips) times
its hot loop in-process (perf_counter), in interleaved rounds:

  untraced
  tracemalloc   -X tracemalloc=1 (in-process, every allocation)
  memray        memray run --trace-python-allocators (in-process, every
                allocation, pymalloc's included, to a capture file)
  mmtrace       mmtrace --alloc=exact -p PID, attached before the loop
                (every allocator call, from outside; on sid's CET build each
                site one trap, see README "What a hit costs")
  mmtrace entry the same with --at-entry (every site single-stepped)

and prints medians and ratios to untraced. memray must be in the sid root:
    chroot /var/lib/mmtrace/sid apt-get install -y python3-memray
BENCH_ROUNDS (default 3); BENCH_SCALE divides the loops (default 5).
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_alloc import WORKLOADS   # noqa: E402  the same workloads, one owner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMTRACE = os.path.join(ROOT, "build", "mmtrace")
SID = os.environ.get("MMTRACE_SID_ROOT", "/var/lib/mmtrace/sid")
PY = "/usr/bin/python3.14"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SCALE = int(os.environ.get("BENCH_SCALE", "5"))
MODES = ["untraced", "tracemalloc", "memray", "mmtrace", "mmtrace entry"]

# the loop waits for a line, so that a tracer from outside is attached first
GATE = "import sys as _s; print('ready', flush=True); _s.stdin.readline()\n"


def missing():
    if os.geteuid() != 0:
        return "run as root"
    if not os.access(SID + PY, os.X_OK):
        return "no %s in %s (tools/make-sid-root.sh)" % (PY, SID)
    r = subprocess.run(["chroot", SID, PY, "-c", "import memray"], capture_output=True)
    if r.returncode:
        return "no memray in the sid root: chroot %s apt-get install -y python3-memray" % SID
    return None


def run(mode, script, iters, workdir):
    """The loop's seconds under mode."""
    inroot = script[len(SID):]
    # a mount namespace of its own with /proc in the root (memray reads
    # /proc/self); the interpreter keeps the pid (sh and chroot exec)
    argv = ["unshare", "--mount", "sh", "-c", 'mount -t proc proc "$1/proc" && exec chroot "$@"', "sh", SID, PY]
    if mode == "tracemalloc":
        argv += ["-X", "tracemalloc=1"]
    elif mode == "memray":
        argv += ["-m", "memray", "run", "-q", "-f", "--trace-python-allocators",
                 "-o", os.path.join(workdir[len(SID):], "capture.bin")]
    p = subprocess.Popen(argv + [inroot, str(iters)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = "-"
    while line and line.strip() != "ready":
        line = p.stdout.readline()
    if not line:
        sys.exit("%s: the workload ended before its loop (rc %s)" % (mode, p.wait()))
    mm = None
    if mode.startswith("mmtrace"):
        extra = ["--at-entry"] if mode.endswith("entry") else []
        mm = subprocess.Popen([MMTRACE, "--alloc=exact", "--json", "-p", str(p.pid), "0.2"] + extra,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # its first report: attached (then its output is drained, unread)
        if not mm.stdout.readline():
            sys.exit("mmtrace failed: rc %s" % mm.wait())
        threading.Thread(target=mm.stdout.read, daemon=True).start()
    p.stdin.write("\n")
    p.stdin.flush()
    out = p.stdout.read().split()
    p.wait()
    if mm:
        mm.send_signal(2)
        mm.wait(timeout=120)
    if p.returncode or not out:
        sys.exit("%s failed (rc %s)" % (mode, p.returncode))
    return float(out[-1])


def main():
    why = missing()
    if why:
        print("bench_peers: " + why)
        return 1
    workdir = tempfile.mkdtemp(prefix="mmtrace-peers-", dir=os.path.join(SID, "tmp"))
    version = subprocess.run(["chroot", SID, PY, "-c", "import sys, memray; print(sys.version.split()[0], "
                              "memray.__version__)"], capture_output=True, text=True).stdout.split()
    print("sid python %s, memray %s; %d rounds interleaved, medians; loops 1/%d of bench_alloc's"
          % (version[0], version[1], ROUNDS, SCALE))
    print("%-6s %10s %12s %10s %10s %14s" % ("work", "untraced", "tracemalloc", "memray", "mmtrace",
                                             "mmtrace entry"))
    try:
        for name in ("alloc", "json"):
            full, code = WORKLOADS[name]
            script = os.path.join(workdir, "peers_" + name + ".py")   # not json.py: it would import itself
            with open(script, "w") as f:
                f.write(GATE + code)
            times = {m: [] for m in MODES}
            for _ in range(ROUNDS):
                for m in MODES:
                    times[m].append(run(m, script, full // SCALE, workdir))
            med = {m: statistics.median(v) for m, v in times.items()}
            base = med["untraced"]
            print("%-6s %9.3fs %11.2fx %9.2fx %9.2fx %13.2fx" % (
                name, base, med["tracemalloc"] / base, med["memray"] / base, med["mmtrace"] / base,
                med["mmtrace entry"] / base))
            sys.stdout.flush()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
