"""Workloads with uniquely named functions, for --stacks and --folded.

  stacks_workload.py grow      grow_heap_here makes ~100 MB of small objects
  stacks_workload.py threads   two threads, each allocating through its own function
  stacks_workload.py cycles    make_cycles_here makes reference cycles in a loop
  stacks_workload.py cycles-stopped  the same, after stopping itself (SIGSTOP) for mmtrace -p
  stacks_workload.py sample    stops itself (SIGSTOP) for mmtrace -p to attach, then
                               grow_heap_here makes ~5 MB of small objects

It first prints "INFO {...}" on stderr: the line of each function's
allocation, as the interpreter's own dis module gives it, the lines where
make_cycles_here can run the collection its allocations trigger (gc_lines),
and the native thread ids of the threads. It ends with a short sleep, so that mmtrace
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


def gc_lines(func):
    """Lines (dis's) where func's frame stands when a collection that its
    loop's allocations triggered runs: 3.12+ only schedules it, and the
    eval breaker runs it at the loop body's next call or JUMP_BACKWARD;
    before, it runs inside the allocating instruction (BUILD_LIST)."""
    if sys.version_info >= (3, 12):
        def where(name):
            return name.startswith(("CALL", "JUMP_BACKWARD"))
    else:
        def where(name):
            return name == "BUILD_LIST"
    lines, line, in_loop = set(), None, False
    for ins in dis.get_instructions(func):
        in_loop = in_loop or ins.opname == "FOR_ITER"
        if ins.opname == "END_FOR":
            break
        positions = getattr(ins, "positions", None)
        if positions is not None and positions.lineno is not None:
            line = positions.lineno
        elif isinstance(ins.starts_line, int) and not isinstance(ins.starts_line, bool):
            line = ins.starts_line
        if in_loop and where(ins.opname) and line is not None:
            lines.add(line)
    return sorted(lines)


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
            "gc_lines": {"make_cycles_here": gc_lines(make_cycles_here)},
            "file": __file__}
    if mode == "grow":
        keep = grow_heap_here(700000)
    elif mode == "sample":
        os.kill(os.getpid(), signal.SIGSTOP)
        keep = grow_heap_here(50000)
    elif mode == "cycles-stopped":
        os.kill(os.getpid(), signal.SIGSTOP)
        make_cycles_here(60000)
    elif mode == "threads":
        info["tids"] = run_threads(200000)
    else:
        make_cycles_here(60000)
    sys.stderr.write("INFO " + json.dumps(info) + "\n")
    sys.stderr.flush()
    time.sleep(0.5)


if __name__ == "__main__":
    main()
