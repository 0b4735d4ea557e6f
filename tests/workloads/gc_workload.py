"""GC workload for mmtrace's end-to-end tests.

Prints its own gc.get_stats() at a start and an end barrier, so that the
window mmtrace counts is exactly the window the interpreter reports:

  START <json stats>      printed, then waits for a line on stdin (or --go-file)
  ... cyclic garbage, uncollectable objects, explicit gc.collect(gen) ...
  END <json stats> <json callback timings: [[generation, ns, start_ns], ...]>
  then waits again, staying alive while mmtrace reads its final counters.
"""
import gc
import json
import os
import sys
import time


def stats():
    return [[s["collections"], s["collected"], s["uncollectable"]] for s in gc.get_stats()]


class Node:
    def __init__(self):
        self.ref = self


def make_uncollectable(n):
    """Cycles through an object with a legacy tp_del finalizer: the GC cannot
    order their finalization, leaves them in gc.garbage and counts them as
    uncollectable (CPython's own test_gc does the same)."""
    from _testcapi import with_tp_del

    @with_tp_del
    class Legacy:
        def __tp_del__(self):
            pass

    for _ in range(n):
        x = Legacy()
        x.self = x


def make_cycles(n):
    for _ in range(n):
        a, b = [], []
        a.append(b)
        b.append(a)
        Node()


def barrier(name, extra=None):
    full = gc.get_stats()
    line = name + " " + json.dumps([[s["collections"], s["collected"], s["uncollectable"]] for s in full])
    if extra is not None:
        line += " " + json.dumps(extra)
    sys.stderr.write(line + "\n")
    if "duration" in full[0]:
        # 3.15+: the same call's whole dicts (duration, candidates), a line
        # of its own after the barrier's, which tests that want it read
        sys.stderr.write("FULLSTATS " + name + " " + json.dumps(full) + "\n")
    sys.stderr.flush()
    go = os.environ.get("MMTRACE_GO_FILE")
    if go:  # wait until the test says go
        while not os.path.exists(go + "." + name):
            time.sleep(0.01)
    elif os.environ.get("MMTRACE_NO_WAIT") is None:
        sys.stdin.readline()


def pause_recorder(with_start=False):
    """A gc.callbacks callback and the [[generation, ns], ...] it fills: each
    collection's interval between its "start" and "stop" callbacks, on
    CLOCK_MONOTONIC (time.monotonic_ns, the clock of BPF's bpf_ktime_get_ns
    and of mmtrace's trace events). with_start: [[generation, ns, start_ns]],
    so that each can be paired with mmtrace's event for the same collection."""
    pauses, t0 = [], [0]

    def cb(phase, info):
        if phase == "start":
            t0[0] = time.monotonic_ns()
        else:
            p = [info["generation"], time.monotonic_ns() - t0[0]]
            pauses.append(p + [t0[0]] if with_start else p)
    return cb, pauses


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    cb, pauses = pause_recorder(with_start=True)
    barrier("START")
    gc.callbacks.append(cb)
    for i in range(rounds):
        make_cycles(300)
        if i % 50 == 0:
            gc.collect(1)
    make_uncollectable(25)
    gc.collect()
    gc.garbage.clear()
    gc.callbacks.remove(cb)
    barrier("END", pauses)


if __name__ == "__main__":
    main()
