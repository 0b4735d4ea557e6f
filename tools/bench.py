#!/usr/bin/python3
"""mmtrace overhead, measured side by side in one run.

For each interpreter: a GC-heavy workload (cyclic garbage, many gen0
collections) run untraced and under `mmtrace -p` alternately, N rounds, so
drift of the machine hits both. The workload times itself in-process
(perf_counter around the hot loop), which excludes interpreter start-up and
mmtrace's own attach. Prints median times and the traced/untraced ratio,
the number of collections the probes saw per run, and mmtrace's attach
latency (process start to first report, which follows attach).

    tools/bench.py [3.12 3.13 debian ...]     # only these; BENCH_ROUNDS=N rounds (default 7)

What the ratio means: mmtrace probes two points per collection (entry and
return, or gc__start and gc__done). Each hit costs a trap (~5-10 us on this
VM, ~1 us on bare metal); a gen0 collection costs tens to hundreds of us. So
the slowdown is (collections x 2 x trap cost) / run time.
"""
import glob
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMTRACE = os.path.join(ROOT, "build", "mmtrace")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))

WORKLOAD = r"""
import gc, sys, time
class N:
    def __init__(s): s.me = s
sys.stdin.readline()                       # start when told (attach done)
c0 = sum(s["collections"] for s in gc.get_stats())
t = time.perf_counter()
for i in range(400000):
    a = []; a.append(a); N()
dt = time.perf_counter() - t
print(dt, sum(s["collections"] for s in gc.get_stats()) - c0, flush=True)
sys.stdin.readline()                       # exit when told (mmtrace has read)
"""


def run_once(exe, traced):
    p = subprocess.Popen([exe, "-c", WORKLOAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    mm, attach_s = None, None
    if traced:
        t0 = time.monotonic()
        mm = subprocess.Popen([MMTRACE, "--json", "-p", str(p.pid), "0.05"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        if not mm.stdout.readline():       # first report: probes are live
            p.kill()
            sys.exit("bench: mmtrace -p %d on %s failed (exit %s): %s" %
                     (p.pid, exe, mm.wait(), mm.stderr.read().strip()))
        attach_s = time.monotonic() - t0
    p.stdin.write("\n")
    p.stdin.flush()
    dt, colls = p.stdout.readline().split()
    seen = None
    if mm:
        mm.send_signal(2)
        lines = mm.communicate()[0].splitlines()
        seen = sum(json.loads(lines[-1])["processes"][0]["gc"]["collections"])
    p.stdin.write("\n")
    p.stdin.flush()
    p.wait()
    return float(dt), int(colls), attach_s, seen


def interpreters(only):
    out = []
    for minor in ("3.8", "3.10", "3.12", "3.13"):
        if only and minor not in only:
            continue
        c = sorted(glob.glob("/root/.pyenv/versions/%s.*/bin/python%s" % (minor, minor)))
        if c:
            out.append(("pyenv-" + minor, c[-1]))
    if os.access("/usr/bin/python3.11", os.X_OK) and (not only or "debian" in only):
        out.append(("debian-3.11 (usdt)", "/usr/bin/python3.11"))
    return out


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root")
    print("%-20s %10s %10s %7s %8s %10s" % ("interpreter", "untraced", "traced", "ratio", "GCs/run", "attach"))
    for name, exe in interpreters(sys.argv[1:]):
        base, traced, attach = [], [], []
        for _ in range(ROUNDS):
            base.append(run_once(exe, False)[0])
            dt, colls, a, seen = run_once(exe, True)
            traced.append(dt)
            attach.append(a)
        b, t = statistics.median(base), statistics.median(traced)
        print("%-20s %9.3fs %9.3fs %7.3f %8d %8.0fms" % (name, b, t, t / b, colls,
                                                        1000 * statistics.median(attach)))
        assert seen == colls, "probes saw %s of %s collections" % (seen, colls)


if __name__ == "__main__":
    main()
