"""Workloads with uniquely named functions, for --stacks and --folded.

  stacks_workload.py grow      grow_heap_here makes ~100 MB of small objects
  stacks_workload.py threads   two threads, each allocating through its own function
  stacks_workload.py cycles    make_cycles_here makes reference cycles in a loop
  stacks_workload.py sample    stops itself (SIGSTOP) for mmtrace -p to attach, then
                               grow_heap_here makes ~5 MB of small objects

It first prints "INFO {...}" on stderr: the line of each function's
allocation, as the interpreter's own dis module gives it, and the native
thread ids of the threads. It ends with a short sleep, so that mmtrace
names the last stacks while the process still lives.
"""
import dis
import json
import os
import signal
import sys
import threading
import time


def grow_heap_here(n):
    keep = [bytes(100) for _ in range(n)]
    return keep


def make_cycles_here(n):
    for _ in range(n):
        a = []
        a.append(a)


def alloc_in_thread_alpha(n, out):
    out.append([bytes(100) for _ in range(n)])


def alloc_in_thread_beta(n, out):
    out.append([bytes(100) for _ in range(n)])


def line_of(func, global_name):
    """The line dis gives for the instruction that loads global_name in
    func, or in a comprehension nested in it (3.8-3.11 compile those apart)."""
    codes = [func.__code__] + [c for c in func.__code__.co_consts if hasattr(c, "co_code")]
    for code in codes:
        line = None
        for ins in dis.get_instructions(code):
            positions = getattr(ins, "positions", None)
            if positions is not None and positions.lineno is not None:
                line = positions.lineno
            elif isinstance(ins.starts_line, int) and not isinstance(ins.starts_line, bool):
                line = ins.starts_line
            if ins.argval == global_name:
                return line
    raise LookupError(global_name)


def run_threads(n):
    ids, out, ready = {}, [], threading.Barrier(3)

    def body(name, fn):
        ids[name] = threading.get_native_id()
        ready.wait()
        fn(n, out)

    threads = [threading.Thread(target=body, args=(name, fn)) for name, fn in
               (("alpha", alloc_in_thread_alpha), ("beta", alloc_in_thread_beta))]
    for t in threads:
        t.start()
    ready.wait()
    for t in threads:
        t.join()
    return ids


def main():
    mode = sys.argv[1]
    info = {"lines": {f.__name__: line_of(f, g) for f, g in
                      ((grow_heap_here, "bytes"), (make_cycles_here, "a"),
                       (alloc_in_thread_alpha, "bytes"), (alloc_in_thread_beta, "bytes"))},
            "file": __file__}
    if mode == "grow":
        keep = grow_heap_here(700000)
    elif mode == "sample":
        os.kill(os.getpid(), signal.SIGSTOP)
        keep = grow_heap_here(50000)
    elif mode == "threads":
        info["tids"] = run_threads(200000)
    else:
        make_cycles_here(60000)
    sys.stderr.write("INFO " + json.dumps(info) + "\n")
    sys.stderr.flush()
    time.sleep(0.5)


if __name__ == "__main__":
    main()
