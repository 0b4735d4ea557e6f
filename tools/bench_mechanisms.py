#!/usr/bin/python3
"""What each GC mechanism costs per event, measured side by side in one run.

For one interpreter (sid's 3.15, in its root, by default) a GC-heavy
workload runs untraced and traced alternately, BENCH_ROUNDS times, under
each mechanism mmtrace can use for it:

  usdt     gc__start/gc__done (the notes of Debian's build)
  uprobe   gc_collect_main's LTO clone from the debug file (the notes removed)
  polled   neither: the counters read from memory at each report, and once
           more by BPF at the exit

and prints, per mechanism, the median time, the ratio to untraced, and the
added cost per collection ((traced - untraced) / collections).

Then the cost of one event against the physical limit: a loop of
gc.collect(0) on an almost empty heap (a collection takes a few us, so the
probes' cost stands out) under usdt (two nops, each one trap: the limit of
two probe points), uprobe (gc_collect_main's clone probed past its endbr64,
on its push: one trap at the entry, one at the return), uprobe --at-entry
(on the endbr64 itself: single-stepped) and polled; and the exact level per
allocator call (bytearray(100) in a loop: PyObject_Malloc and PyObject_Free
with their entry and return probes) with and without --at-entry. Each is
printed as the added time per event and its ratio to usdt's per collection.

Then the one cost that falls on other processes: while a target's arenas are
counted at its mmap/munmap calls (a build that hides the arena functions),
every system call on the host passes two raw tracepoints. An unrelated
process making 2,000,000 getppid() calls is timed with and without such an
mmtrace running; the difference per call is that cost.

    tools/bench_mechanisms.py [MINOR]       # 3.15 (default), 3.14 or 3.13
"""
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMTRACE = os.path.join(ROOT, "build", "mmtrace")
SID = os.environ.get("MMTRACE_SID_ROOT", "/var/lib/mmtrace/sid")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))

WORKLOAD = r"""
import gc, sys, time
class N:
    def __init__(s): s.me = s
print("ready", flush=True)
sys.stdin.readline()
c0 = sum(s["collections"] for s in gc.get_stats())
t = time.perf_counter()
for i in range(1000000):
    a = []; a.append(a); N()
dt = time.perf_counter() - t
print(dt, sum(s["collections"] for s in gc.get_stats()) - c0, flush=True)
sys.stdin.readline()
"""

COLLECT = r"""
import gc, sys, time
gc.disable()
print("ready", flush=True)
sys.stdin.readline()
c0 = sum(s["collections"] for s in gc.get_stats())
t = time.perf_counter()
for i in range(20000):
    gc.collect(0)
dt = time.perf_counter() - t
print(dt, sum(s["collections"] for s in gc.get_stats()) - c0, flush=True)
sys.stdin.readline()
"""

ALLOC = r"""
import sys, time
print("ready", flush=True)
sys.stdin.readline()
t = time.perf_counter()
for i in range(200000):
    bytearray(100)
dt = time.perf_counter() - t
print(dt, 0, flush=True)
sys.stdin.readline()
"""

SYSCALLS = r"""
import os, time
t = time.perf_counter()
for _ in range(2000000):
    os.getppid()
print(time.perf_counter() - t, flush=True)
"""


def argv_for(minor, mechanism):
    exe = "/usr/bin/python" + minor
    if mechanism == "usdt":
        return ["chroot", SID, exe]
    exe = "/usr/local/bin/python%s-nousdt" % minor      # made by tests/e2e/test_nousdt.py
    if mechanism == "uprobe":
        return ["chroot", SID, exe]
    # its own mount namespace, an empty tmpfs over the root's debug files
    return ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs bench "$1" && shift && exec "$@"', "sh",
            SID + "/usr/lib/debug", "chroot", SID, exe]


def allocator_calls(final):
    """The allocator calls mmtrace's exact level counted, every domain."""
    doms = final["processes"][0]["alloc_exact"]["domains"].values()
    return sum(d[k] for d in doms for k in ("malloc", "calloc", "realloc", "free"))


def run_once(argv, traced, method, workload=WORKLOAD, extra=()):
    """(seconds, events): collections, or allocator calls under --alloc=exact."""
    p = subprocess.Popen(argv + ["-c", workload], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    p.stdout.readline()                       # the interpreter runs (unshare, sh and chroot have exec'd)
    mm = None
    if traced:
        mm = subprocess.Popen([MMTRACE, "--json", "-p", str(p.pid), "0.5"] + list(extra), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        first = mm.stdout.readline()
        if not first:
            p.kill()
            sys.exit("bench: mmtrace failed: " + mm.stderr.read().strip())
        got = json.loads(first)["processes"][0]["probe_method"]
        if got != method:
            p.kill()
            sys.exit("bench: %s traced by %s, not %s" % (argv, got, method))
    p.stdin.write("\n")
    p.stdin.flush()
    dt, colls = p.stdout.readline().split()
    p.stdin.write("\n")
    p.stdin.flush()
    p.wait()
    if mm:
        out, _ = mm.communicate(timeout=60)
        if "--alloc=exact" in extra:
            colls = allocator_calls(json.loads(out.splitlines()[-1]))
    return float(dt), int(colls)


def syscall_cost(minor):
    """ns per system call added host-wide while an mmap watch is on."""
    base, traced = [], []
    for _ in range(ROUNDS):
        base.append(float(subprocess.check_output([sys.executable, "-c", SYSCALLS])))
        target = subprocess.Popen(argv_for(minor, "polled") + ["-c", "import sys; print(1, flush=True); "
                                  "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        target.stdout.readline()
        mm = subprocess.Popen([MMTRACE, "--alloc=growth", "--json", "-p", str(target.pid), "0.5"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        mm.stdout.readline()                  # attached: the tracepoints are live
        traced.append(float(subprocess.check_output([sys.executable, "-c", SYSCALLS])))
        target.stdin.close()
        target.wait()
        mm.wait(timeout=30)
    b, t = statistics.median(base), statistics.median(traced)
    return b, t, (t - b) / 2e6 * 1e9


def added_per_event(argv, method, workload, extra=()):
    """Median untraced and traced seconds, events per run, added seconds per event."""
    base, traced, events = [], [], 0
    for _ in range(ROUNDS):
        base.append(run_once(argv, False, method, workload)[0])
        dt, events = run_once(argv, True, method, workload, extra)
        traced.append(dt)
    b, t = statistics.median(base), statistics.median(traced)
    return b, t, events, (t - b) / events


def per_event(minor):
    rows = [("usdt (the limit)", "usdt", COLLECT, ()),
            ("uprobe", "uprobe", COLLECT, ()),
            ("uprobe --at-entry", "uprobe", COLLECT, ("--at-entry",)),
            ("polled", "polled", COLLECT, ()),
            ("exact", "usdt", ALLOC, ("--alloc=exact",)),
            ("exact --at-entry", "usdt", ALLOC, ("--alloc=exact", "--at-entry"))]
    print("\nper event: 20,000 gc.collect(0) on an almost empty heap; 200,000 bytearray(100) at the exact level")
    print("%-18s %10s %10s %9s %12s %10s" % ("mechanism", "untraced", "traced", "events", "added/event",
                                            "x limit"))
    limit = None
    for name, method, workload, extra in rows:
        b, t, n, per = added_per_event(argv_for(minor, method), method, workload, extra)
        limit = limit if limit is not None else per
        print("%-18s %9.3fs %9.3fs %9d %10.2fus %10.2f" % (name, b, t, n, per * 1e6, per / limit))


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root")
    minor = sys.argv[1] if len(sys.argv) > 1 else "3.15"
    print("CPython %s (sid root %s), %d rounds, medians" % (minor, SID, ROUNDS))
    print("%-8s %10s %10s %7s %8s %14s" % ("method", "untraced", "traced", "ratio", "GCs/run", "added/GC"))
    for method in ("usdt", "uprobe", "polled"):
        argv = argv_for(minor, method)
        base, traced, colls = [], [], 0
        for _ in range(ROUNDS):
            base.append(run_once(argv, False, method)[0])
            dt, colls = run_once(argv, True, method)
            traced.append(dt)
        b, t = statistics.median(base), statistics.median(traced)
        print("%-8s %9.3fs %9.3fs %7.3f %8d %12.2fus" % (method, b, t, t / b, colls, (t - b) / colls * 1e6))
    per_event(minor)
    b, t, ns = syscall_cost(minor)
    print("\nan unrelated process's 2,000,000 getppid(): %.3fs untraced, %.3fs while a target's arenas are "
          "counted at its mmap calls: %+.0f ns per system call" % (b, t, ns))


if __name__ == "__main__":
    main()
