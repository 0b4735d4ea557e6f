"""A deliberately slow full collection: a big graph of container objects is
alive when gc.collect(2) runs. Prints its pid and the pause that gc.callbacks
measured, between START and END barriers like gc_workload.py."""
import gc
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gc_workload import barrier, pause_recorder  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    graph = [[i] for i in range(n)]
    cb, pauses = pause_recorder()
    barrier("START")
    gc.callbacks.append(cb)
    gc.collect(2)
    gc.callbacks.remove(cb)
    barrier("END", {"pid": os.getpid(), "pauses": pauses, "alive": len(graph)})


if __name__ == "__main__":
    main()
