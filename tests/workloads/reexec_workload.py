"""A process that re-executes itself, for mmtrace -p across an exec.

Image 1 prints "READY <stats>" on stderr and waits for the go file's
.START; makes collections of its own; prints "EXEC <stats>" and execs the
same interpreter on this file ("second"). Image 2 makes other collections,
prints "END <stats>" and waits for .END before it exits. <stats> is
gc.get_stats() as [[collections, collected, uncollectable], ...] (the format
conftest.barrier_stats reads).
"""
import gc
import json
import os
import sys
import time


def stats():
    return json.dumps([[s["collections"], s["collected"], s["uncollectable"]] for s in gc.get_stats()])


def say(what):
    sys.stderr.write("%s %s\n" % (what, stats()))
    sys.stderr.flush()


def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.01)


def cycles(n):
    for _ in range(n):
        a = []
        a.append(a)
        gc.collect(0)


def main():
    go = os.environ["MMTRACE_GO_FILE"]
    if sys.argv[1:] == ["second"]:
        cycles(37)
        gc.collect(1)
        say("END")
        wait_for(go + ".END")
        return
    say("READY")
    wait_for(go + ".START")
    cycles(23)
    gc.collect(2)
    say("EXEC")
    os.execv(sys.executable, [sys.executable, __file__, "second"])


main()
