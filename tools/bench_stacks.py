#!/usr/bin/python3
"""Cost of Python stacks, side by side in one run.

The allocation-heavy loop of bench_alloc.py, called three functions deep,
is timed in-process untraced, under `mmtrace --alloc=growth` and under
`mmtrace --alloc=growth --stacks` (every collection and every pool or arena
taken walks the stack), in alternating rounds. Prints the medians, the
ratio of stacks to growth alone, the added cost per stack event, and the
symbolisation cache's hit rate over the run.
"""
import glob
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMTRACE = os.path.join(ROOT, "build", "mmtrace")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))

CODE = r"""
import sys, time
def churn(n):
    keep = []
    for i in range(n):
        d = {"a": i, "b": [i, i + 1], "c": (i, str(i))}
        keep.append(d)
        if len(keep) > 1000:
            keep.clear()
        if i % 50000 == 0:
            big = [bytes(399) for _ in range(50000)]
            del big
def level2(n):
    churn(n)
def level1(n):
    level2(n)
t = time.perf_counter()
level1(int(sys.argv[1]))
print(time.perf_counter() - t)
"""


def run(exe, mode):
    argv = [exe, "-c", CODE, "300000"]
    if mode != "untraced":
        extra = ["--stacks"] if mode == "stacks" else []
        argv = [MMTRACE, "--alloc=growth", "--json", "-o", "/tmp/bench_stacks.json", "600"] + extra + ["--"] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if r.returncode:
        sys.exit("%s failed: %s" % (mode, r.stderr[-500:]))
    stacks = None
    if mode == "stacks":
        with open("/tmp/bench_stacks.json") as f:
            stacks = json.loads(f.read().splitlines()[-1])["processes"][0]["stacks"]
    return float(r.stdout.split()[-1]), stacks


def main():
    if not os.access(MMTRACE, os.X_OK):
        sys.exit("build mmtrace first (make)")
    exes = sorted(glob.glob("/root/.pyenv/versions/3.1[0-9].*/bin/python3.1[0-9]"))
    print("%-46s %9s %9s %9s %8s %8s %10s %s" % ("interpreter", "untraced", "growth", "+stacks", "x", "events",
                                              "us/event", "symbol cache hits"))
    for exe in exes:
        times = {m: [] for m in ("untraced", "growth", "stacks")}
        stacks = None
        for _ in range(ROUNDS):
            for m in times:
                t, s = run(exe, m)
                times[m].append(t)
                stacks = s or stacks
        med = {m: statistics.median(v) for m, v in times.items()}
        events = stacks["events"]
        hits, misses = stacks["symbol_cache_hits"], stacks["symbol_cache_misses"]
        print("%-46s %8.3fs %8.3fs %8.3fs %8.3f %8d %10.1f %.1f%% (%d of %d)" % (
            exe, med["untraced"], med["growth"], med["stacks"], med["stacks"] / med["growth"], events,
            (med["stacks"] - med["growth"]) / max(events, 1) * 1e6, 100.0 * hits / max(hits + misses, 1),
            hits, hits + misses))


if __name__ == "__main__":
    main()
