#!/usr/bin/python3
"""Cost of --alloc=growth, side by side in one run.

For each workload and interpreter, the hot loop is timed in-process
(perf_counter), untraced, under `mmtrace --alloc=growth` (GC probes plus
pymalloc's slow paths, from the first instruction) and under in-process
tracemalloc (-X tracemalloc=1, the peer that sees every allocation).
Rounds alternate so that drift of the machine hits every mode; medians and
ratios against untraced are printed, and how many arenas and pools mmtrace
saw per run.

  alloc: allocation-heavy churn (dicts, lists, tuples), and every 50k
         iterations a heap grown by 20 MB and released, so arenas come and go
  json:  JSON round-trips of a 200-entry document
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

WORKLOADS = {
    "alloc": r"""
import time
t = time.perf_counter()
keep = []
for i in range(300000):
    d = {"a": i, "b": [i, i + 1], "c": (i, str(i))}
    keep.append(d)
    if len(keep) > 1000:
        keep.clear()
    if i % 50000 == 0:
        big = [bytes(399) for _ in range(50000)]
        del big
print(time.perf_counter() - t)
""",
    "json": r"""
import json, time
doc = {"items": [{"id": i, "name": "item%d" % i, "tags": ["a", "b", "c"], "price": i * 1.5}
                 for i in range(200)]}
t = time.perf_counter()
for _ in range(1500):
    json.loads(json.dumps(doc))
print(time.perf_counter() - t)
""",
}


def interpreters():
    exes = [e for e in (os.path.join(d, "bin", "python3." + d.rsplit(".", 2)[-2])
                        for d in sorted(glob.glob("/root/.pyenv/versions/3.1[0-9].*")))
            if os.access(e, os.X_OK)]
    if os.access("/usr/bin/python3.11", os.X_OK):
        exes.append("/usr/bin/python3.11")
    return exes[-3:] if os.environ.get("BENCH_QUICK") else exes


def run(mode, exe, code):
    if mode == "untraced":
        argv = [exe, "-c", code]
    elif mode == "tracemalloc":
        argv = [exe, "-X", "tracemalloc=1", "-c", code]
    else:
        argv = [MMTRACE, "--alloc=growth", "--json", "-o", "/tmp/bench_alloc.json", "60", "--", exe, "-c", code]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if r.returncode:
        sys.exit("%s failed: %s" % (" ".join(argv[:4]), r.stderr[-500:]))
    seen = None
    if mode == "growth":
        with open("/tmp/bench_alloc.json") as f:
            last = json.loads(f.read().splitlines()[-1])["processes"][0]["alloc"]
        seen = (last["arenas_allocated"], sum(last["pools_acquired"]))
    return float(r.stdout.split()[-1]), seen


def main():
    if not os.access(MMTRACE, os.X_OK):
        sys.exit("build mmtrace first (make)")
    modes = ["untraced", "growth", "tracemalloc"]
    print("%-8s %-40s %10s %8s %8s %8s  %s" % ("workload", "interpreter", "untraced", "growth", "x", "tracemal",
                                               "x   (arenas, pools seen by mmtrace)"))
    for name, code in WORKLOADS.items():
        for exe in interpreters():
            times = {m: [] for m in modes}
            seen = None
            for _ in range(ROUNDS):
                for m in modes:
                    t, s = run(m, exe, code)
                    times[m].append(t)
                    seen = s or seen
            med = {m: statistics.median(v) for m, v in times.items()}
            print("%-8s %-40s %9.3fs %7.3fs %8.3f %7.3fs %8.3f   %s" % (
                name, exe, med["untraced"], med["growth"], med["growth"] / med["untraced"],
                med["tracemalloc"], med["tracemalloc"] / med["untraced"], seen))


if __name__ == "__main__":
    main()
