"""mmtrace's GC counters against the interpreter's own accounting.

Each workload prints gc.get_stats() at a START and an END barrier and waits
at each, so the window mmtrace counts is the window the interpreter reports.
"""
import json
import time
import os
import subprocess

import pytest

from conftest import (final_line, MMTRACE, WORKLOADS, LineReader, barrier_stats, deltas, go,
                      mm_triplets, stop)

WORKLOAD = os.path.join(WORKLOADS, "gc_workload.py")
ROUNDS = "150"

# Each collection's pause against the interpreter's own timing of it. The
# workload's gc.callbacks record, per collection, CLOCK_MONOTONIC at "start"
# and at "stop"; mmtrace's trace events carry the same clock (end and pause
# in ns). In 3.8-3.12 the callbacks run around the collector, so the
# callbacks' interval contains mmtrace's; in 3.13 they run inside it, so
# mmtrace's contains theirs. The containment is checked per collection (to
# the ns the trace prints, plus 1 us for the double it passes through).
#
# Containment alone lets a pause of 0 pass in 3.8-3.12 (and a doubled one in
# 3.13), so the inner interval must also be a large part of the outer one.
# What separates them is the callback's own cost (a Python call, its info
# dict, monotonic_ns) and the uprobe traps: 2-40 us against collections of
# 80 us and more (the workload's gen0 collections hold ~700 young objects).
# Measured on this 2-core VM on 3.8, 3.10, 3.12, 3.13 and both Debian cells:
# the inner/outer ratio's median is 0.85-0.92 (0.97 in 3.13). The return
# from a trap is a scheduling point, so on a busy machine the thread is
# preempted there, in the gap between the two intervals, for milliseconds:
# with the 2 cores oversubscribed 2.5x, 3-11% of the collections, and the
# raw sums fell to 0.28. So:
#  - at least 75% of the collections must have inner >= 0.5 * outer: well
#    below the median, above what a halved pause (ratio <= 0.49) gives;
#  - over the 75% of the collections with the smallest gaps (a preempted
#    collection's gap is its preemption), sum(inner) >= 0.75 * sum(outer):
#    measured 0.87-0.99 idle or loaded; a pause at 0.7x of the truth gives
#    0.60-0.69, a halved one 0.43-0.49.
MIN_RATIO, MIN_SHARE, MIN_SUM_RATIO, SUM_SHARE = 0.5, 0.75, 0.75, 0.75
CLOCK_SLACK_NS = 1000


def check_pauses(interp_name, proc_json, window, pauses, events, pid):
    """proc_json: mmtrace's final JSON row; window: the gc.get_stats() deltas;
    pauses: the workload's [[generation, ns, start_ns]] from gc.callbacks;
    events: mmtrace's trace events ("ph": "X") of the process."""
    gc = proc_json["gc"]
    for g in range(3):
        assert sum(gc["pause_hist_log2_ns"][g]) == gc["collections"][g], "histogram sums to count"
        if gc["collections"][g]:
            assert gc["pause_ns_max"][g] > 0
            assert gc["pause_ns_max"][g] <= gc["pause_ns_total"][g]
    ncoll = sum(w[0] for w in window)
    # one trace event per collection of the window, agreeing with the totals
    assert len(events) == ncoll, (len(events), ncoll)
    for g in range(3):
        assert sum(e["args"]["pause_ns"] for e in events if e["args"]["generation"] == g) == \
            gc["pause_ns_total"][g]
    assert all(e["pid"] == pid and e["tid"] == pid for e in events)
    # the callbacks saw every collection of the window but the one that may
    # run between removing the callback and the END barrier
    assert ncoll - 1 <= len(pauses) <= ncoll
    mm = []
    for e in events:
        end = round((e["ts"] + e["dur"]) * 1000)
        mm.append((end - e["args"]["pause_ns"], end, e["args"]["generation"]))
    callbacks_inside = interp_name.endswith("3.13")
    pairs = []
    for gen, ns, start in pauses:
        cb = (start, start + ns)
        same = [m for m in mm if m[0] < cb[1] + CLOCK_SLACK_NS and m[1] > cb[0] - CLOCK_SLACK_NS]
        assert len(same) == 1, ("one mmtrace collection during each callback interval", cb, same)
        m = same[0]
        assert m[2] == gen, (m, gen)
        inner, outer = (cb, m[:2]) if callbacks_inside else (m[:2], cb)
        assert outer[0] - CLOCK_SLACK_NS <= inner[0] and inner[1] <= outer[1] + CLOCK_SLACK_NS, \
            ("callbacks inside mmtrace's pause" if callbacks_inside else
             "mmtrace's pause inside the callbacks", "inner", inner, "outer", outer)
        pairs.append((inner[1] - inner[0], outer[1] - outer[0]))
    ok = sum(i >= MIN_RATIO * o for i, o in pairs)
    assert ok >= MIN_SHARE * len(pairs), \
        ("inner >= %.2f * outer for %d of %d collections" % (MIN_RATIO, ok, len(pairs)),
         sorted(i / max(o, 1) for i, o in pairs)[:20])
    kept = sorted(pairs, key=lambda p: p[1] - p[0])[:int(SUM_SHARE * len(pairs))]
    inner_sum, outer_sum = sum(i for i, _ in kept), sum(o for _, o in kept)
    assert inner_sum >= MIN_SUM_RATIO * outer_sum, \
        ("summed over the %d collections with the smallest gaps" % len(kept), inner_sum, outer_sum)


def test_pid_attach_mid_run_equals_gc_get_stats(interp, tmp_path):
    """mmtrace -p PID attached while the workload runs; counts over the window,
    and each collection's pause (its --trace event) against gc.callbacks."""
    go_file = str(tmp_path / "go")
    trace = tmp_path / "trace.json"
    env = dict(os.environ, MMTRACE_GO_FILE=go_file)
    wl = subprocess.Popen([interp.exe, WORKLOAD, ROUNDS], stderr=subprocess.PIPE, env=env)
    wl_err = LineReader(wl.stderr)
    mm = None
    try:
        start, _ = barrier_stats(wl_err.line(match="START"))
        mm = subprocess.Popen([MMTRACE, "--json", "--trace", str(trace), "-p", str(wl.pid), "0.2"] +
                              interp.extra_args,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        mm_out = LineReader(mm.stdout)
        first = json.loads(mm_out.line())          # attached: probes are live
        assert first["processes"][0]["probe_method"] == interp.method
        go(go_file, "START")
        end, pauses = barrier_stats(wl_err.line(match="END"))
        mm_out.line()                              # one report after END
        stop(mm)
        final = final_line(mm_out)
        assert final["final"] is True
        p = final["processes"][0]
        assert p["pid"] == wl.pid and p["exited"] is False
        window = deltas(start, end)
        assert mm_triplets(p) == window
        assert window[2][2] > 0, "the workload makes uncollectable objects"
        assert p["gc"]["read_errors"] == 0
        events = [e for e in json.loads(trace.read_text()) if e["ph"] == "X"]
        check_pauses(interp.name, p, window, pauses, events, wl.pid)
        assert mm.returncode == 0
    finally:
        go(go_file, "START")
        go(go_file, "END")
        if mm:
            stop(mm)
        wl.wait(timeout=30)


def test_command_traced_from_first_instruction(interp, tmp_path):
    """mmtrace -- CMD sees every collection, including those during start-up."""
    go_file = str(tmp_path / "go")
    env = dict(os.environ, MMTRACE_GO_FILE=go_file)
    go(go_file, "START")
    mm = subprocess.Popen([MMTRACE, "--json", "0.2"] + interp.extra_args +
                          ["--", interp.exe, WORKLOAD, ROUNDS],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = LineReader(mm.stdout), LineReader(mm.stderr)
    try:
        start, _ = barrier_stats(err.line(match="START"))
        end, _ = barrier_stats(err.line(match="END"))
        # the next report is read after END while the workload waits
        line = json.loads(out.line())
        while not line["processes"] or mm_triplets(line["processes"][0]) != end:
            line = json.loads(out.line())
        assert start[0][0] > 0, "start-up collections precede START"
        assert mm_triplets(line["processes"][0]) == end
        go(go_file, "END")
        mm.wait(timeout=30)
        while True:
            final = json.loads(out.line())
            if final["final"]:
                break
        p = final["processes"][0]
        assert p["exited"] is True
        # shutdown may collect more, never less
        for g in range(3):
            assert p["gc"]["collections"][g] >= end[g][0]
        assert mm.returncode == 0
    finally:
        go(go_file, "END")
        stop(mm)


def test_command_exit_status_is_passed_through(interp):
    r = subprocess.run([MMTRACE, "-o", "/dev/null"] + interp.extra_args +
                       ["--", interp.exe, "-c", "import gc, sys; gc.collect(); sys.exit(7)"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 7, r.stderr


def test_probe_plan_names_sources(interp):
    """--probes --json: where each metric attaches, from which symbols, how exactly."""
    r = subprocess.run([MMTRACE, "--probes", "--json"] + interp.extra_args +
                       ["--", interp.exe, "-c", "pass"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)["targets"][0]
    assert t["method"] == interp.method
    assert t["sites"], "at least one site"
    for m in ("gc.collections", "gc.collected", "gc.uncollectable", "gc.pause"):
        assert t["metrics"][m]["coverage"] == "exact", t["metrics"][m]
    if interp.name == "debian-3.11":
        assert t["stripped"] and t["symbol_source"] == ".dynsym" and t["usdt"]
        assert {s["at"] for s in t["sites"]} == {"python:gc__start", "python:gc__done"}
        assert all(s["semaphore_offset"] for s in t["sites"])
    elif interp.name == "debian-3.11-dbg":
        assert t["symbol_source"] == "build-id debug file"
        assert t["debug_file"].startswith("/usr/lib/debug/.build-id/")
        assert all(s["at"].startswith("gc_collect_main") for s in t["sites"])
    else:
        assert t["symbol_source"] == ".symtab" and not t["stripped"]
        r2 = subprocess.run([interp.exe, "-c", "import platform; print(platform.python_version())"],
                            capture_output=True, text=True)
        assert t["python"] == r2.stdout.strip()


SUBINTERP = ("import gc, json, os, sys, _testcapi\n"
             "for _ in range(3):\n"
             "    _testcapi.run_in_subinterp('import gc; gc.collect()')\n"
             "gc.collect(1)\n"
             "s = [[g['collections'], g['collected'], g['uncollectable']] for g in gc.get_stats()]\n"
             "sys.stderr.write('END ' + json.dumps(s) + '\\n')\n"
             "sys.stderr.flush()\n"
             "os._exit(0)\n")


def test_subinterpreter_collections_are_kept_apart(interp):
    """gc.get_stats() reports the main interpreter; 3.9+ give each
    subinterpreter its own GC state. mmtrace's counts equal the main
    interpreter's, and the subinterpreters' collections are shown apart
    (3.8 has one GC state for all: they are in the main counts there)."""
    mm = subprocess.run([MMTRACE, "--json"] + interp.extra_args + ["--", interp.exe, "-c", SUBINTERP],
                        capture_output=True, text=True, timeout=60)
    assert mm.returncode == 0, mm.stderr
    end, _ = barrier_stats([l for l in mm.stderr.splitlines() if l.startswith("END ")][0])
    final = json.loads(mm.stdout.splitlines()[-1])
    p = final["processes"][0]
    assert mm_triplets(p) == end
    sub = p["gc"]["subinterpreters"]
    if interp.name == "pyenv-3.8":
        assert sum(sub["collections"]) == 0
    else:
        assert sub["collections"][2] >= 3, sub   # at least each subinterpreter's gc.collect()


GROWTH = os.path.join(WORKLOADS, "growth_workload.py")


def test_alloc_growth_equals_debugmallocstats(interp, tmp_path):
    """--alloc=growth: arenas allocated and freed while the workload grows
    and releases its heap equal what sys._debugmallocstats() reports; pools
    taken for the workload's own size class equal the pools it came to use."""
    go_file = str(tmp_path / "go")
    pools = {"debian-3.11": "python3.11-dbg", "pyenv-3.8": "inside pymalloc_alloc"}.get(interp.name, True)
    check_growth([interp.exe, GROWTH], go_file, go_file, interp.extra_args, pools=pools,
                 by_mmap=interp.name == "debian-3.11")


def check_growth(argv, go_file, go_file_seen_by_workload, extra_args, pools=True, by_mmap=False, env=None):
    """The growth truth check for the workload argv (growth_workload.py),
    whose go files are go_file here and go_file_seen_by_workload in its
    root. pools: True when they are counted, else what the plan's reason
    for their absence names. by_mmap: a build that hides the arena
    functions, whose arenas are counted at its mmap/munmap calls."""
    env = dict(os.environ, MMTRACE_GO_FILE=go_file_seen_by_workload, **(env or {}))
    wl = subprocess.Popen(argv, stderr=subprocess.PIPE, env=env)
    err = LineReader(wl.stderr)
    mm = None
    try:
        err.line(match="READY")
        mm = subprocess.Popen([MMTRACE, "--json", "--alloc=growth", "-p", str(wl.pid), "0.1"] + extra_args,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = LineReader(mm.stdout)
        out.line()                                  # attached
        go(go_file, "READY")
        _, grown = barrier_stats(err.line(match="GROWN"))
        # reports written before the barrier may still sit in the pipe (a slow,
        # sanitized mmtrace on a busy machine): take the first one made after
        # the workload stopped at GROWN, by its own wall-clock time
        barrier_seen = time.time()
        while True:
            report = json.loads(out.line())
            if report["time"] > barrier_seen:
                break
        at_grown = report["processes"][0]
        go(go_file, "GROWN")
        _, end = barrier_stats(err.line(match="END"))
        stop(mm)
        final = json.loads([l for l in mm.stdout.read().decode().splitlines() if l][-1])
        p = final["processes"][0]
        s0, s1, s2 = grown["s0"], grown["s1"], end["s2"]
        plan = subprocess.run([MMTRACE, "--probes", "--json", "--alloc=growth", "-p", str(wl.pid)] + extra_args,
                              capture_output=True, text=True).stdout
        metrics = json.loads(plan)["targets"][0]["metrics"]
        assert metrics["alloc.arenas"]["coverage"] == "exact"
        assert ("mmap" in metrics["alloc.arenas"]["reason"]) == by_mmap, metrics["alloc.arenas"]
        grew = s1["allocated total"] - s0["allocated total"]
        assert grew >= 5, "the workload grew the heap by whole arenas"
        assert at_grown["alloc"]["arenas_allocated"] == grew
        assert p["alloc"]["arenas_allocated"] == s2["allocated total"] - s0["allocated total"]
        released = s2["reclaimed"] - s0["reclaimed"]
        assert released >= 1, "releasing the heap gave arenas back"
        assert p["alloc"]["arenas_freed"] == released
        assert p["alloc"]["arena_alloc_failed"] == 0
        if pools is not True:
            # hidden by the build, or no such function: said, and nothing made up
            assert metrics["alloc.pools"]["coverage"] == "unavailable"
            assert pools in metrics["alloc.pools"]["reason"], metrics["alloc.pools"]
            assert not any(p["alloc"]["pools_acquired"])
            return
        assert metrics["alloc.pools"]["coverage"] == "exact"
        cls, _ = s1["pools"][str(grown["block"])]
        taken = s1["pools"][str(grown["block"])][1] - s0["pools"].get(str(grown["block"]), [cls, 0])[1]
        assert taken > 100
        assert at_grown["alloc"]["pools_acquired"][cls] == taken
    finally:
        go(go_file, "READY")
        go(go_file, "GROWN")
        go(go_file, "END")
        if mm:
            stop(mm)
        wl.wait(timeout=30)
