"""A window for --alloc=exact whose truth the interpreter tells exactly.

The workload stops itself with SIGSTOP at three checkpoints, W, A and B.
Each reads sys.getallocatedblocks() and then stops, by the same code path,
so the blocks that path allocates after the reading are the same at A and
at B. mmtrace's window runs from the stop at A (it attaches while the
process is stopped) to the stop at B (it is read while the process is
stopped again), so its net pymalloc blocks equal marks[B] - marks[A]
exactly. A first small run of the work and W warm the paths: 3.8-3.10 keep
each code object's last frame for reuse, and those frames are 400-530 bytes.

Between A and B, in known numbers N:
  - bytes of 479 bytes: 512-byte requests, the top size class, which
    nothing else here uses (3.8-3.10 frames of ~430 bytes share smaller ones);
  - instances of a uniquely named class, each with a weak reference;
  - floats, one-item lists and dicts, then dropped;
  - cycles freed by gc.collect();
  - 50 bytes of 2000 bytes: 2033-byte obj requests that fall back to raw.
After B: "MARKS {...}" on stderr.
"""
import gc
import json
import os
import signal
import sys
import weakref

PID = os.getpid()
marks = [0, 0, 0]


class MmtraceUniqueZebra:
    pass


def checkpoint(i):
    marks[i] = sys.getallocatedblocks()
    os.kill(PID, signal.SIGSTOP)


def work(n):
    keep = [bytes(479) for _ in range(n)]
    zebras = [MmtraceUniqueZebra() for _ in range(n)]
    refs = [weakref.ref(z) for z in zebras]
    floats = [float(i) + 0.5 for i in range(n)]
    lists = [[i] for i in range(n)]
    dicts = [{"k": i} for i in range(n)]
    for _ in range(100):
        a, b = [], []
        a.append(b)
        b.append(a)
    big = [bytes(2000) for _ in range(50)]
    del zebras, refs, floats, lists, dicts, a, b, big
    gc.collect()
    return keep


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    work(1)
    checkpoint(0)
    checkpoint(1)
    keep = work(n)
    checkpoint(2)
    sys.stderr.write("MARKS " + json.dumps({"a": marks[1], "b": marks[2], "n": n, "kept": len(keep)}) + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    main()
