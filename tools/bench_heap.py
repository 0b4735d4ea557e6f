#!/usr/bin/python3
"""Cost of --heap, side by side in one run.

1. A process holds a heap of HEAP_MIB (default 1024) MiB of small objects
   (pyenv 3.12); the wall time of one `mmtrace --heap --json -p PID`
   snapshot (two walks, see heap.h) is taken ROUNDS times: median and max,
   with the arenas and pools walked.
2. The same process then runs an allocation-heavy loop, timed in-process,
   alternately alone and while `mmtrace --heap -p PID 1` snapshots it
   every second: the ratio of the medians is the target's slowdown.
"""
import glob
import json
import os
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMTRACE = os.path.join(ROOT, "build", "mmtrace")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
HEAP_MIB = int(os.environ.get("HEAP_MIB", "1024"))

# holds the heap, then times a loop each time a line arrives on stdin
TARGET = r"""
import sys, time
mib = int(sys.argv[1])
keep = [bytes(100) for _ in range(mib * 1024 * 1024 // 144)]   # 133-byte requests: 144-byte blocks
print("ready", flush=True)
for line in sys.stdin:
    t = time.perf_counter()
    churn = []
    for i in range(400000):
        churn.append({"a": i, "b": (i, i)})
        if len(churn) > 1000:
            churn.clear()
    print(time.perf_counter() - t, flush=True)
"""


def interpreter():
    found = sorted(glob.glob("/root/.pyenv/versions/3.12.*/bin/python3.12"))
    if not found:
        sys.exit("needs a pyenv 3.12 build")
    return found[-1]


def snapshot(pid):
    t = time.perf_counter()
    r = subprocess.run([MMTRACE, "--heap", "--json", "-p", str(pid)], capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    if r.returncode:
        sys.exit("mmtrace --heap failed: " + r.stderr)
    return wall, json.loads(r.stdout)["processes"][0]["heap"]


def timed_loop(p):
    p.stdin.write("go\n")
    p.stdin.flush()
    return float(p.stdout.readline())


def main():
    if not os.access(MMTRACE, os.X_OK):
        sys.exit("build mmtrace first (make)")
    p = subprocess.Popen([interpreter(), "-c", TARGET, str(HEAP_MIB)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        walls = []
        for _ in range(ROUNDS):
            wall, heap = snapshot(p.pid)
            walls.append(wall)
        print("heap of %d MiB: %d arenas, %d pools in use, %.0f MiB in use; one snapshot (two walks): "
              "median %.3fs, max %.3fs over %d" % (HEAP_MIB, heap["arenas_walked"], heap["pools_used"],
                                                  heap["bytes_in_use"] / 2**20, statistics.median(walls),
                                                  max(walls), ROUNDS))
        alone, watched = [], []
        for _ in range(ROUNDS):
            alone.append(timed_loop(p))
            mm = subprocess.Popen([MMTRACE, "--heap", "-p", str(p.pid), "1"], stdout=subprocess.DEVNULL)
            time.sleep(0.2)
            watched.append(timed_loop(p))
            mm.send_signal(signal.SIGINT)
            mm.wait()
        a, w = statistics.median(alone), statistics.median(watched)
        print("allocation loop: alone %.3fs, while snapshotted every second %.3fs: ratio %.3f" % (a, w, w / a))
    finally:
        p.kill()
        p.wait()


if __name__ == "__main__":
    main()
