"""Grows the pymalloc heap, then releases it, and reports what
sys._debugmallocstats() says about arenas and pools at each step.

  READY            waits until mmtrace is attached
  (snapshot s0) grow: N bytes objects of 399 bytes, 432-byte blocks, a
  size class nothing else here uses (snapshot s1)
  GROWN {s0, s1}   waits while mmtrace's counts are read
  release the heap (snapshot s2)
  END {s2}         waits
"""
import gc
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gc_workload import barrier  # noqa: E402

BLOCK = 432


def mallocstats():
    """sys._debugmallocstats() writes to the C stderr: catch and parse it."""
    with tempfile.TemporaryFile() as f:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read().decode()
    # parsed here with as little allocation as can be (not mallocstats.py's
    # fuller parse): an arena taken while parsing s1 would be one mmtrace
    # counts and s1 does not
    out = {"pools": {}}
    for line in text.splitlines():
        m = re.match(r"# arenas (allocated total|reclaimed|allocated current)\s*=\s*([\d,]+)", line)
        if m:
            out[m.group(1)] = int(m.group(2).replace(",", ""))
        m = re.match(r"\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", line)
        if m:       # class, block size, pools, blocks in use, free blocks
            out["pools"][m.group(2)] = [int(m.group(1)), int(m.group(3))]
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60000
    gc.disable()        # nothing but the workload frees or takes memory in the window
    barrier("READY")
    s0 = mallocstats()
    keep = [bytes(BLOCK - 33) for _ in range(n)]
    s1 = mallocstats()
    barrier("GROWN", {"s0": s0, "s1": s1, "block": BLOCK})
    del keep
    s2 = mallocstats()
    barrier("END", {"s2": s2})


if __name__ == "__main__":
    main()
