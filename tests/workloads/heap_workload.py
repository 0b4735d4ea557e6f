"""A known heap shape, and the interpreter's own account of it, at two
stops that mmtrace --heap reads while the process is stopped.

The workload allocates N bytes objects in each of a few size classes,
frees every other one, then, with nothing allocated in between, reads
gc.get_count(), gc.get_threshold() and gc.isenabled(), runs
sys._debugmallocstats() into a file, and stops itself (SIGSTOP). After
SIGCONT it prints "STOP1 {...}" on stderr: the parsed statistics, and
whether the same statistics taken after the stop agreed ("stable"); if not,
it stops again. Then the same with the GC disabled ("STOP2"), and it exits.
"""
import gc
import json
import os
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mallocstats import parse_mallocstats  # noqa: E402

PID = os.getpid()
SIZES = (15, 63, 175, 399, 479)      # bytes objects of 48, 96, 208, 432 and 512 bytes


def stats_into(f):
    saved = os.dup(2)
    os.dup2(f.fileno(), 2)
    sys._debugmallocstats()
    os.dup2(saved, 2)
    os.close(saved)


def stop_and_report(name, before, after):
    """Everything the report needs is taken before the stats and the stop,
    into ints (a GC-tracked tuple's free gives its count back; a list kept
    alive would count). A full collection first: from 3.12 an allocation
    only schedules a collection, which would otherwise run at the next
    eval-breaker check, after the statistics. The collection also empties
    the tuple free list, so one 3-tuple is made and dropped to refill it:
    get_count()'s tuple then comes from the list and leaves no count behind.

    The statistics are taken right before the stop and right after it: when
    the two differ, something moved in between, and the stop is repeated
    (the line says "stable": false) until a stop is bracketed by equal ones.
    stats_into runs once first: 3.8-3.10 keep a function's frame, a GC
    object, after its first call."""
    stats_into(before)      # 3.8-3.10 keep its frame (a GC object) for reuse
    gc.collect()
    tuple(range(3))
    for attempt in range(5):
        # 3.15: gc.get_stats() is the ring mmtrace reads; taken first and
        # kept as a string (not GC-tracked): its list and dicts are freed
        # before gc.get_count(), giving back what they added to the count
        ring = json.dumps(gc.get_stats()) if sys.version_info >= (3, 15) else None
        o0 = len(gc.get_objects(0))    # the list made for the answer is not in it
        o1 = len(gc.get_objects(1))
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = gc.get_threshold()
        enabled = gc.isenabled()
        stats_into(before)
        os.kill(PID, signal.SIGSTOP)
        # the count as mmtrace saw it: read first thing after the stop
        # (stats_into itself may leave one GC allocation behind, and from
        # 3.14 does: the count before it is not the one at the stop)
        a0, a1, a2 = gc.get_count()
        stats_into(after)
        texts = []
        for f in (before, after):
            f.seek(0)
            texts.append(f.read().decode())
            f.seek(0)
            f.truncate()
        stats = parse_mallocstats(texts[0])
        stable = stats == parse_mallocstats(texts[1])
        stats.update(count=[c0, c1, c2], count_at_stop=[a0, a1, a2], threshold=[t0, t1, t2], enabled=enabled, stable=stable,
                     objects=[o0, o1])
        if ring:
            stats.update(ring=json.loads(ring))
        sys.stderr.write(name + " " + json.dumps(stats) + "\n")
        sys.stderr.flush()
        if stable:
            return


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    keep = []
    for size in SIZES:
        objs = [bytes(size) for _ in range(n)]
        keep.append(objs[::2])
        del objs
    with tempfile.TemporaryFile() as before, tempfile.TemporaryFile() as after:
        stop_and_report("STOP1", before, after)
        gc.disable()
        stop_and_report("STOP2", before, after)
    return len(keep)


if __name__ == "__main__":
    main()
