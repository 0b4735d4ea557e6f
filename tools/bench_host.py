#!/usr/bin/python3
"""The system-wide mode's own cost and reaction time, measured in one run.

1. idle: mmtrace with no CPython process but this script (which sleeps):
   its CPU% over the window and RSS.
2. loaded: 50 CPython processes (pyenv builds and Debian's python3.11, a
   GC-heavy loop each; BENCH_PROCS) started after mmtrace: mmtrace's CPU% and
   RSS while they run, and the collections it counted per second; with
   BENCH_EXECS=N, N short CPython processes are also started each second
   during the window (exec, one collection, exit).
3. reaction: a process of an interpreter file mmtrace has not attached yet
   runs gc.collect() in a tight loop for 400 ms, stamping CLOCK_MONOTONIC before each;
   the first collection mmtrace counted dates the moment its probes went
   live, measured from just before the spawn (so fork+exec are included).
   The same for a file already attached, where it must be the very first.

CPU% is mmtrace's utime+stime from /proc over wall time; RSS is VmRSS; BPF
maps is the memlock of the maps mmtrace holds (from their fds' fdinfo).
"""
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMTRACE = os.path.join(ROOT, "build", "mmtrace")
WINDOW = float(os.environ.get("BENCH_WINDOW", "10"))
NPROCS = int(os.environ.get("BENCH_PROCS", "50"))
EXECS = float(os.environ.get("BENCH_EXECS", "0"))    # short CPython processes started per second
TICK = os.sysconf("SC_CLK_TCK")

LOOP = r"""
import gc, sys, time
class N:
    def __init__(s): s.me = s
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    for _ in range(2000):
        N()
    time.sleep(0.001)
"""

STAMPED = r"""
import gc, json, os, sys, time
s0 = gc.get_stats()[0]["collections"]
stamps = []
end = time.monotonic_ns() + int(sys.argv[1]) * 1000000
while not stamps or stamps[-1] < end:
    stamps.append(time.monotonic_ns())
    gc.collect(0)
print(json.dumps({"loop": gc.get_stats()[0]["collections"] - s0, "stamps": stamps}), flush=True)
os._exit(0)   # no shutdown collections after the count
"""


def interpreters():
    exes = []
    for e in sorted(glob.glob("/root/.pyenv/versions/3.*/bin/python3.*")):
        m = re.fullmatch(r"python3\.(\d+)", os.path.basename(e))
        if m and int(m.group(1)) >= 8 and os.access(e, os.X_OK):    # mmtrace's range
            exes.append(e)
    if os.access("/usr/bin/python3.11", os.X_OK):
        exes.append("/usr/bin/python3.11")
    return exes


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def map_kib(pid):
    """Kernel memory of the BPF maps pid holds: each map fd's memlock (what
    the kernel charges for it: buckets and live entries of a hash map that
    is not preallocated, every entry of one that is)."""
    total = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:bpf-map":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("memlock:"))
        except FileNotFoundError:
            continue
    return total // 1024


class Mmtrace:
    def __init__(self):
        self.p = subprocess.Popen([MMTRACE, "--json", "1"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        self.reports = []
        threading.Thread(target=self._read, daemon=True).start()
        while not self.reports:
            time.sleep(0.05)

    def _read(self):
        for line in self.p.stdout:
            d = json.loads(line)
            if "event" not in d:
                self.reports.append(d)

    def usage(self, seconds):
        t0, c0 = time.monotonic(), cpu_ticks(self.p.pid)
        time.sleep(seconds)
        t1, c1 = time.monotonic(), cpu_ticks(self.p.pid)
        return 100.0 * (c1 - c0) / TICK / (t1 - t0), rss_kib(self.p.pid), map_kib(self.p.pid)

    def final(self):
        self.p.send_signal(2)
        self.p.wait(timeout=30)
        time.sleep(0.2)
        return self.reports[-1]


def exec_churn(exes, stop, pids):
    """EXECS short CPython processes a second (each: start, one
    collection, exit), until stop is set."""
    i = 0
    next_t = time.monotonic()
    while not stop.is_set():
        p = subprocess.Popen([exes[i % len(exes)], "-S", "-c", "import gc; gc.collect()"])
        pids.append(p.pid)
        threading.Thread(target=p.wait, daemon=True).start()
        i += 1
        next_t += 1.0 / EXECS
        stop.wait(max(0, next_t - time.monotonic()))


def idle_and_loaded(exes):
    mm = Mmtrace()
    idle_cpu, idle_rss, idle_maps = mm.usage(WINDOW)
    procs = [subprocess.Popen([exes[i % len(exes)], "-c", LOOP, str(WINDOW + 4 + NPROCS / 50)])
             for i in range(NPROCS)]
    time.sleep(2 + NPROCS / 50)      # every one started and found
    stop, churned = threading.Event(), []
    churn = threading.Thread(target=exec_churn, args=(exes, stop, churned), daemon=True)
    if EXECS:
        churn.start()
    n0 = len(mm.reports)
    t0 = time.monotonic()
    busy_cpu, busy_rss, busy_maps = mm.usage(WINDOW)
    stop.set()
    if EXECS:
        churn.join()
        print("exec churn: %d short CPython processes in %.1f s (%.1f/s)"
              % (len(churned), time.monotonic() - t0, len(churned) / (time.monotonic() - t0)))
    window_reports = mm.reports[n0:]
    for p in procs:
        p.wait()
    final = mm.final()
    pids = {p.pid for p in procs}
    traced = [r for r in final["processes"] if r["pid"] in pids]
    seen = {}
    for r in traced:
        seen.setdefault(r["pid"], []).append(r)
    for pid, rows in seen.items():
        if len(rows) > 1:       # a pid two rows: its process ended and the pid came back
            print("pid %d has %d rows: %s" % (pid, len(rows), [(r["comm"], r["exited"], r["traced_from"],
                                                             sum(r["gc"]["collections"])) for r in rows]))
    colls = sum(sum(r["gc"]["collections"]) for r in traced)
    secs = statistics.mean(r["traced_ns"] for r in traced) / 1e9 if traced else 0
    print("idle (no CPython but this script): mmtrace CPU %.2f%%, RSS %d KiB, BPF maps %d KiB over %.0f s"
          % (idle_cpu, idle_rss, idle_maps, WINDOW))
    print("%d CPython processes (%d interpreter files): mmtrace CPU %.2f%%, RSS %d KiB, BPF maps %d KiB; "
          "%d/%d processes traced, %.0f collections/s counted, %d reports in the window"
          % (NPROCS, len(exes), busy_cpu, busy_rss, busy_maps, len(seen), NPROCS,
             colls / secs if secs else 0, len(window_reports)))


def reaction(exe, loop_ms=400):
    mm = Mmtrace()
    t_spawn = time.monotonic_ns()
    p = subprocess.Popen([exe, "-c", STAMPED, str(loop_ms)], stdout=subprocess.PIPE, text=True)
    out = json.loads(p.communicate()[0])
    final = mm.final()
    r = next((r for r in final["processes"] if r["pid"] == p.pid), None)
    counted = r["gc"]["collections"][0] if r else 0
    stamps = out["stamps"]
    # gen0 collections of the loop mmtrace missed (start-up ones it saw do not offset them)
    missed = max(0, out["loop"] - counted)
    first = stamps[missed] if missed < len(stamps) else None
    return (r["traced_from"] if r else "untraced"), missed, (first - t_spawn) / 1e6 if first else None


def main():
    if not os.access(MMTRACE, os.X_OK):
        sys.exit("build mmtrace first (make)")
    exes = interpreters()
    idle_and_loaded(exes)
    print("reaction: spawn -> first collection counted")
    for exe in exes:
        how, missed, ms = reaction(exe)
        print("  %-45s %-7s missed %4d loop collections; first counted one %s%.1f ms after spawn"
              % (exe, how, missed, "<= " if not missed else "", ms if ms is not None else float("nan")))
    # a file already attached (this script's own /usr/bin/python3.11 is)
    how, missed, ms = reaction(sys.executable)
    print("  %-45s %-7s missed %4d loop collections; first counted one <= %.1f ms after spawn (file attached)"
          % (sys.executable, how, missed, ms))


if __name__ == "__main__":
    main()
